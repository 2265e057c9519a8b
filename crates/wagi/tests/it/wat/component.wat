;; A WASI 0.2 command component, for tests. `support::component` fills in the placeholders in
;; double braces: the memory's size in pages, the bytes at offset 1024 of that memory, and the
;; body of the `wasi:cli/run` function, in core WAT, which returns 0 for success. That body may
;; call `$print (ptr len) -> i32`, which writes to stdout in pieces of at most 4096 bytes and
;; returns 1 when a write fails, `$write_once (ptr len) -> i32`, which writes what one
;; `check-write` permits, as wasi-libc's `write` does, and returns the count, and
;; `$exit (is_error)`, which is `wasi:cli/exit`.
(component
  (import "wasi:io/error@0.2.0" (instance $io-error (export "error" (type (sub resource)))))
  (alias export $io-error "error" (type $error))
  (import "wasi:io/streams@0.2.0" (instance $streams
    (alias outer 1 $error (type $error))
    (export "output-stream" (type $output-stream (sub resource)))
    (type $stream-error' (variant (case "last-operation-failed" (own $error)) (case "closed")))
    (export "stream-error" (type $stream-error (eq $stream-error')))
    (export "[method]output-stream.blocking-write-and-flush"
      (func (param "self" (borrow $output-stream)) (param "contents" (list u8)) (result (result (error $stream-error)))))
    (export "[method]output-stream.check-write"
      (func (param "self" (borrow $output-stream)) (result (result u64 (error $stream-error)))))
    (export "[method]output-stream.write"
      (func (param "self" (borrow $output-stream)) (param "contents" (list u8)) (result (result (error $stream-error)))))))
  (alias export $streams "output-stream" (type $output-stream))
  (import "wasi:cli/stdout@0.2.0" (instance $stdout
    (alias outer 1 $output-stream (type $output-stream))
    (export "get-stdout" (func (result (own $output-stream))))))
  (import "wasi:cli/exit@0.2.0" (instance $exit
    (export "exit" (func (param "status" (result))))))

  (core module $libc (memory (export "memory") {{PAGES}}))
  (core instance $libc (instantiate $libc))
  (alias core export $libc "memory" (core memory $memory))
  (core func $get-stdout (canon lower (func $stdout "get-stdout")))
  (core func $write (canon lower (func $streams "[method]output-stream.blocking-write-and-flush") (memory $memory)))
  (core func $check-write (canon lower (func $streams "[method]output-stream.check-write") (memory $memory)))
  (core func $write-now (canon lower (func $streams "[method]output-stream.write") (memory $memory)))
  (core func $exit (canon lower (func $exit "exit")))

  (core module $main
    (import "host" "get-stdout" (func $get-stdout (result i32)))
    (import "host" "write" (func $write (param i32 i32 i32 i32)))
    (import "host" "check-write" (func $check-write (param i32 i32)))
    (import "host" "write-now" (func $write-now (param i32 i32 i32 i32)))
    (import "host" "exit" (func $exit (param i32)))
    (import "libc" "memory" (memory 1))
    (data (i32.const 1024) "{{DATA}}")
    (func $print (param $ptr i32) (param $len i32) (result i32) (local $out i32) (local $n i32)
      (local.set $out (call $get-stdout))
      (block $done (loop $more
        (br_if $done (i32.eqz (local.get $len)))
        (local.set $n (select (i32.const 4096) (local.get $len) (i32.gt_u (local.get $len) (i32.const 4096))))
        ;; The result goes to offset 0: its first byte is 1 for an error.
        (call $write (local.get $out) (local.get $ptr) (local.get $n) (i32.const 0))
        (if (i32.load8_u (i32.const 0)) (then (return (i32.const 1))))
        (local.set $ptr (i32.add (local.get $ptr) (local.get $n)))
        (local.set $len (i32.sub (local.get $len) (local.get $n)))
        (br $more)))
      (i32.const 0))
    (func $write_once (param $ptr i32) (param $len i32) (result i32) (local $out i32) (local $n i32)
      (local.set $out (call $get-stdout))
      ;; The result goes to offset 0: a byte that is 1 for an error, then the permit at 8.
      (call $check-write (local.get $out) (i32.const 0))
      (if (i32.load8_u (i32.const 0)) (then (return (i32.const -1))))
      (local.set $n (select (i32.wrap_i64 (i64.load (i32.const 8))) (local.get $len)
        (i64.lt_u (i64.load (i32.const 8)) (i64.extend_i32_u (local.get $len)))))
      (call $write-now (local.get $out) (local.get $ptr) (local.get $n) (i32.const 0))
      (if (i32.load8_u (i32.const 0)) (then (return (i32.const -1))))
      (local.get $n))
    (func (export "run") (result i32) {{RUN}}))
  (core instance $main (instantiate $main
    (with "host" (instance (export "get-stdout" (func $get-stdout)) (export "write" (func $write))
      (export "check-write" (func $check-write)) (export "write-now" (func $write-now)) (export "exit" (func $exit))))
    (with "libc" (instance $libc))))
  (func $run (result (result)) (canon lift (core func $main "run")))
  (instance $run (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $run)))
