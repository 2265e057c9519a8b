// env-dump in AssemblyScript: prints the argv, the environment and the request body that WAGI passes to
// a module, in the format documented in examples/env-dump/src/main.rs.
//
// Built by `cargo xtask examples` with the compiler and WASI shim pinned in package.json:
//
//     npm ci
//     npx asc env.ts --config node_modules/@assemblyscript/wasi-shim/asconfig.json -O -o assemblyscript_env.wasm
//
// With the shim's config, top-level code is the module's `_start`.

process.stdout.write("Content-Type: text/plain\n\n");

const argv = process.argv;
for (let i = 0; i < argv.length; i++) {
  process.stdout.write(`argv[${i}] = ${argv[i]}\n`);
}

// CGI variable names are ASCII, where sorting strings (by UTF-16 code unit) is byte order.
const names = process.env.keys().sort();
for (let i = 0; i < names.length; i++) {
  process.stdout.write(`${names[i]}=${process.env.get(names[i])}\n`);
}

process.stdout.write("stdin:\n");
const chunk = new ArrayBuffer(4096);
for (;;) {
  const read = process.stdin.read(chunk);
  if (read == 0) break;
  process.stdout.write(chunk.slice(0, read));
}
