"""env-dump in Python: prints the argv, the environment and the request body that WAGI passes to a
module, in the format documented in examples/env-dump/src/main.rs.

Built by `cargo xtask examples` with componentize-py 0.25.1 into a WASI 0.2 command component (the
WIT in wit/, with wit/deps/ copied from the wasmtime-wasi crate):

    componentize-py -d wit -w app componentize app -o python_env.wasm

componentize-py runs this file's top-level code at build time and snapshots the result, so the request
is handled in `Run.run`, which runs once per request. By then `sys.argv` and `os.environ` hold the
request's arguments and environment.
"""

import os
import sys

from wit_world import exports


class Run(exports.Run):
    def run(self) -> None:
        print("Content-Type: text/plain\n")
        for i, arg in enumerate(sys.argv):
            print(f"argv[{i}] = {arg}")
        for name, value in sorted(os.environ.items()):
            print(f"{name}={value}")
        print("stdin:", flush=True)
        sys.stdout.buffer.write(sys.stdin.buffer.read())
