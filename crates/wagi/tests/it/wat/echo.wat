;; Copies stdin to stdout after an octet-stream header.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 1024) "Content-Type: application/octet-stream\n\n")
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (call $write (i32.const 1024) (i32.const 40))
    (block $eof
      (loop $read
        (i32.store (i32.const 32) (i32.const 65536))
        (i32.store (i32.const 36) (i32.const 65536))
        (br_if $eof (call $fd_read (i32.const 0) (i32.const 32) (i32.const 1) (i32.const 40)))
        (br_if $eof (i32.eqz (i32.load (i32.const 40))))
        (call $write (i32.const 65536) (i32.load (i32.const 40)))
        (br $read)))))
