;; Prints a CGI response describing the request: a label line naming the entrypoint, then
;; `arg=` lines for argv, `env=` lines for the environment, then `stdin=` and the whole stdin.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (memory (export "memory") 4)
  (data (i32.const 1024) "Content-Type: text/plain\n\n")
  (data (i32.const 1056) "arg=")
  (data (i32.const 1064) "env=")
  (data (i32.const 1072) "stdin=")
  (data (i32.const 1080) "\n")
  (data (i32.const 1088) "label=_start\n")
  (data (i32.const 1104) "label=on_exact\n")
  (data (i32.const 1120) "label=on_wildcard\n")
  (data (i32.const 1152) "/exact on_exact\n/wildcard/... on_wildcard\n/main _start\n")

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

  ;; Writes `prefix` then each NUL-terminated string whose pointer is in the array at $ptrs.
  (func $lines (param $count i32) (param $prefix i32)
    (local $idx i32)
    (local $str i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $idx) (local.get $count)))
        (local.set $str (i32.load (i32.add (i32.const 4096) (i32.mul (local.get $idx) (i32.const 4)))))
        (call $write (local.get $prefix) (i32.const 4))
        (call $write (local.get $str) (call $strlen (local.get $str)))
        (call $write (i32.const 1080) (i32.const 1))
        (local.set $idx (i32.add (local.get $idx) (i32.const 1)))
        (br $next))))

  (func $dump (param $label i32) (param $label_len i32)
    (call $write (i32.const 1024) (i32.const 26))
    (call $write (local.get $label) (local.get $label_len))
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (drop (call $args_get (i32.const 4096) (i32.const 16384)))
    (call $lines (i32.load (i32.const 16)) (i32.const 1056))
    (drop (call $environ_sizes_get (i32.const 16) (i32.const 20)))
    (drop (call $environ_get (i32.const 4096) (i32.const 16384)))
    (call $lines (i32.load (i32.const 16)) (i32.const 1064))
    (call $write (i32.const 1072) (i32.const 6))
    (block $eof
      (loop $read
        (i32.store (i32.const 32) (i32.const 131072))
        (i32.store (i32.const 36) (i32.const 65536))
        (br_if $eof (call $fd_read (i32.const 0) (i32.const 32) (i32.const 1) (i32.const 40)))
        (br_if $eof (i32.eqz (i32.load (i32.const 40))))
        (call $write (i32.const 131072) (i32.load (i32.const 40)))
        (br $read))))

  (func (export "_start") (call $dump (i32.const 1088) (i32.const 13)))
  (func (export "on_exact") (call $dump (i32.const 1104) (i32.const 15)))
  (func (export "on_wildcard") (call $dump (i32.const 1120) (i32.const 18)))
  ;; ROUTES
)
