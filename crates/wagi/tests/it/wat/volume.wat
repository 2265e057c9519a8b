;; Opens the file named by argv[1] (the query string) in the first preopened directory and
;; answers with its content; an error answers `Status: 404` with the WASI errno as the body.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 1024) "Content-Type: text/plain\n\n")
  (data (i32.const 1056) "Status: 404\n\nerrno ")

  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func $strlen (param $ptr i32) (result i32)
    (local $end i32)
    (local.set $end (local.get $ptr))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (local.get $end))))
        (local.set $end (i32.add (local.get $end) (i32.const 1)))
        (br $next)))
    (i32.sub (local.get $end) (local.get $ptr)))

  (func (export "_start")
    (local $path i32)
    (local $errno i32)
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (drop (call $args_get (i32.const 4096) (i32.const 8192)))
    (local.set $path (i32.load (i32.const 4100)))
    ;; dirfd 3 (the first preopen), follow symlinks, no oflags, read rights.
    (local.set $errno
      (call $path_open (i32.const 3) (i32.const 1) (local.get $path) (call $strlen (local.get $path))
        (i32.const 0) (i64.const 2) (i64.const 2) (i32.const 0) (i32.const 24)))
    (if (local.get $errno)
      (then
        (call $write (i32.const 1056) (i32.const 19))
        ;; Two decimal digits are enough for WASI errnos.
        (i32.store8 (i32.const 48) (i32.add (i32.const 48) (i32.div_u (local.get $errno) (i32.const 10))))
        (i32.store8 (i32.const 49) (i32.add (i32.const 48) (i32.rem_u (local.get $errno) (i32.const 10))))
        (call $write (i32.const 48) (i32.const 2))
        (return)))
    (call $write (i32.const 1024) (i32.const 26))
    (i32.store (i32.const 32) (i32.const 16384))
    (i32.store (i32.const 36) (i32.const 32768))
    (drop (call $fd_read (i32.load (i32.const 24)) (i32.const 32) (i32.const 1) (i32.const 40)))
    (call $write (i32.const 16384) (i32.load (i32.const 40)))))
