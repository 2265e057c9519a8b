//! env-dump in Zig: prints the argv, the environment and the request body that WAGI passes to a
//! module, in the format documented in examples/env-dump/src/main.rs.
//!
//! Built by `cargo xtask examples` with Zig 0.17.1 (the PyPI package `ziglang`):
//!
//!     python -m ziglang build-exe -target wasm32-wasi -O ReleaseSmall env.zig -femit-bin=zig_env.wasm

const std = @import("std");

pub fn main(init: std.process.Init) !void {
    const arena = init.arena.allocator();

    var out_buf: [4096]u8 = undefined;
    var stdout = std.Io.File.stdout().writerStreaming(init.io, &out_buf);
    const out = &stdout.interface;

    try out.writeAll("Content-Type: text/plain\n\n");

    const args = try init.minimal.args.toSlice(arena);
    for (args, 0..) |arg, i| {
        try out.print("argv[{d}] = {s}\n", .{ i, arg });
    }

    const names = try arena.dupe([]const u8, init.environ_map.keys());
    std.mem.sort([]const u8, names, {}, lessThan);
    for (names) |name| {
        try out.print("{s}={s}\n", .{ name, init.environ_map.get(name).? });
    }

    try out.writeAll("stdin:\n");
    var in_buf: [4096]u8 = undefined;
    var stdin = std.Io.File.stdin().readerStreaming(init.io, &in_buf);
    _ = try stdin.interface.streamRemaining(out);
    try out.flush();
}

fn lessThan(_: void, a: []const u8, b: []const u8) bool {
    return std.mem.order(u8, a, b) == .lt;
}
