;; Sends the same `wasi_experimental_http` request {COUNT} times without closing a response,
;; printing each result code; then closes handle 0, prints that code and sends the request once
;; more; then prints a newline and up to 4 KiB of handle 0's body. `{URL}`, `{HEADERS}` and
;; `{BODY}` (WAT string escapes) and their lengths are filled in by the test.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "req"
    (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "body_read" (func $body_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "close" (func $close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "Content-Type: text/plain\n\n")
  (data (i32.const 128) "POST")
  (data (i32.const 160) "\n")
  (data (i32.const 1024) "{URL}")
  (data (i32.const 2048) "{HEADERS}")
  (data (i32.const 3072) "{BODY}")

  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; Prints a non-negative number and a space.
  (func $num (param $n i32)
    (local $p i32)
    (local.set $p (i32.const 47))
    (i32.store8 (i32.const 47) (i32.const 32))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digits (local.get $n)))
    (call $write (local.get $p) (i32.sub (i32.const 48) (local.get $p))))

  ;; The request; the status goes to 16, the handle to 20.
  (func $request (result i32)
    (call $req (i32.const 1024) (i32.const {URL_LEN}) (i32.const 128) (i32.const 4)
      (i32.const 2048) (i32.const {HEADERS_LEN}) (i32.const 3072) (i32.const {BODY_LEN})
      (i32.const 16) (i32.const 20)))

  (func (export "_start")
    (local $n i32)
    (call $write (i32.const 64) (i32.const 26))
    (loop $again
      (call $num (call $request))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $n) (i32.const {COUNT}))))
    (call $num (call $close (i32.const 0)))
    (call $num (call $request))
    (call $write (i32.const 160) (i32.const 1))
    (drop (call $body_read (i32.const 0) (i32.const 8192) (i32.const 4096) (i32.const 24)))
    (call $write (i32.const 8192) (i32.load (i32.const 24)))))
