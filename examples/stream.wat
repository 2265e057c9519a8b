;; A response too large to hold: a CGI header block, then 10 MiB of `a` in 160 writes of 64 KiB.
;; wagi sends it while the module is still writing: `curl -s localhost:3000/stream | wc -c`.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 65536) "Content-Type: application/octet-stream\n\n")
  (func (export "_start") (local $n i32)
    ;; 64 KiB of `a` at offset 0, and one iovec at 65600, first pointing at the header block.
    (memory.fill (i32.const 0) (i32.const 97) (i32.const 65536))
    (i32.store (i32.const 65600) (i32.const 65536))
    (i32.store (i32.const 65604) (i32.const 40))
    (drop (call $fd_write (i32.const 1) (i32.const 65600) (i32.const 1) (i32.const 65608)))
    ;; Then at the 64 KiB of `a`, written 160 times.
    (i32.store (i32.const 65600) (i32.const 0))
    (i32.store (i32.const 65604) (i32.const 65536))
    (block $done (loop $again
      (br_if $done (i32.ge_u (local.get $n) (i32.const 160)))
      (drop (call $fd_write (i32.const 1) (i32.const 65600) (i32.const 1) (i32.const 65608)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $again)))
    ;; END
  ))
