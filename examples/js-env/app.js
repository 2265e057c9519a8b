// env-dump in JavaScript: prints the argv, the environment and the request body that WAGI passes to a
// module, in the format documented in examples/env-dump/src/main.rs.
//
// Built by `cargo xtask examples` with componentize-js (pinned in package.json) into a WASI 0.2 command
// component (the WIT in wit/, with wit/deps/ copied from the wasmtime-wasi crate):
//
//     npm ci
//     node_modules/.bin/componentize-js app.js --wit wit -n app -o js_env.wasm
//
// The component also imports `wasi:http`, for `fetch`, which this program does not call. componentize-js
// evaluates this module at build time and snapshots the result, so the request is handled in `run.run`,
// which runs once per request.

import { getArguments, getEnvironment } from "wasi:cli/environment@0.2.12";
import { getStdin } from "wasi:cli/stdin@0.2.12";
import { getStdout } from "wasi:cli/stdout@0.2.12";

// `blocking-write-and-flush` takes at most 4096 bytes a call.
const MAX_WRITE = 4096;

function writeAll(stream, bytes) {
  for (let start = 0; start < bytes.length; start += MAX_WRITE) {
    stream.blockingWriteAndFlush(bytes.subarray(start, start + MAX_WRITE));
  }
}

export const run = {
  run() {
    let text = "Content-Type: text/plain\n\n";
    getArguments().forEach((arg, i) => {
      text += `argv[${i}] = ${arg}\n`;
    });
    // CGI variable names are ASCII, where comparing strings is comparing bytes.
    for (const [name, value] of getEnvironment().sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      text += `${name}=${value}\n`;
    }
    text += "stdin:\n";

    const stdout = getStdout();
    writeAll(stdout, new TextEncoder().encode(text));
    // At the end of stdin, `blockingRead` throws an error whose `payload` is `{ tag: "closed" }`.
    const stdin = getStdin();
    for (;;) {
      let chunk;
      try {
        chunk = stdin.blockingRead(65536n);
      } catch (err) {
        if (err.payload?.tag === "closed") break;
        throw err;
      }
      writeAll(stdout, chunk);
    }
  },
};
