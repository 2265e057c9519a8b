;; Calls every `wasi_experimental_http` function with bad arguments, then correctly, and prints
;; each result code (and the status and handles it gets) separated by spaces. `{URL}` and
;; `{URL_LEN}` are filled in by the test with a peer's `/echo` address.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "req"
    (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "body_read" (func $body_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "header_get" (func $header_get (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "headers_get_all" (func $headers_get_all (param i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "close" (func $close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "Content-Type: text/plain\n\n")
  (data (i32.const 128) "GET")
  (data (i32.const 136) "GE T")
  (data (i32.const 144) "x-a:1\n")
  (data (i32.const 152) "no colon")
  (data (i32.const 168) "\ff\fe")
  (data (i32.const 176) "not a url")
  (data (i32.const 192) "x-missing")
  (data (i32.const 208) "x-peer")
  (data (i32.const 256) "{URL}")

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

  ;; A request without body; the status goes to 16, the handle to 20.
  (func $request (param $url i32) (param $url_len i32) (param $method i32) (param $method_len i32)
                 (param $headers i32) (param $headers_len i32) (result i32)
    (call $req (local.get $url) (local.get $url_len) (local.get $method) (local.get $method_len)
      (local.get $headers) (local.get $headers_len) (i32.const 0) (i32.const 0) (i32.const 16) (i32.const 20)))

  (func $good (result i32)
    (call $request (i32.const 256) (i32.const {URL_LEN}) (i32.const 128) (i32.const 3) (i32.const 144) (i32.const 6)))

  (func (export "_start")
    (call $write (i32.const 64) (i32.const 26))
    ;; URL out of bounds, not UTF-8, not a URL; bad method; header line without a colon.
    (call $num (call $request (i32.const 0x7fff0000) (i32.const 10) (i32.const 128) (i32.const 3) (i32.const 144) (i32.const 6)))
    (call $num (call $request (i32.const 168) (i32.const 2) (i32.const 128) (i32.const 3) (i32.const 144) (i32.const 6)))
    (call $num (call $request (i32.const 176) (i32.const 9) (i32.const 128) (i32.const 3) (i32.const 144) (i32.const 6)))
    (call $num (call $request (i32.const 256) (i32.const {URL_LEN}) (i32.const 136) (i32.const 4) (i32.const 144) (i32.const 6)))
    (call $num (call $request (i32.const 256) (i32.const {URL_LEN}) (i32.const 128) (i32.const 3) (i32.const 152) (i32.const 8)))
    ;; A handle that was never opened.
    (call $num (call $body_read (i32.const 99) (i32.const 4096) (i32.const 100) (i32.const 24)))
    (call $num (call $header_get (i32.const 99) (i32.const 208) (i32.const 6) (i32.const 4096) (i32.const 100) (i32.const 24)))
    (call $num (call $headers_get_all (i32.const 99) (i32.const 4096) (i32.const 100) (i32.const 24)))
    (call $num (call $close (i32.const 99)))
    ;; A good request: code, status, handle.
    (call $num (call $good))
    (call $num (i32.load16_u (i32.const 16)))
    (call $num (i32.load (i32.const 20)))
    ;; Header name not UTF-8, value buffer too small, missing header.
    (call $num (call $header_get (i32.const 0) (i32.const 168) (i32.const 2) (i32.const 4096) (i32.const 100) (i32.const 24)))
    (call $num (call $header_get (i32.const 0) (i32.const 208) (i32.const 6) (i32.const 4096) (i32.const 0) (i32.const 24)))
    (call $num (call $header_get (i32.const 0) (i32.const 192) (i32.const 9) (i32.const 4096) (i32.const 100) (i32.const 24)))
    ;; Result buffers out of bounds.
    (call $num (call $body_read (i32.const 0) (i32.const 0x7fffff00) (i32.const 100) (i32.const 24)))
    (call $num (call $headers_get_all (i32.const 0) (i32.const 4096) (i32.const 100) (i32.const 0x7fffffff)))
    ;; A second response open at once, then the first closed and its handle reused.
    (call $num (call $good))
    (call $num (i32.load (i32.const 20)))
    (call $num (call $close (i32.const 0)))
    (call $num (call $good))
    (call $num (i32.load (i32.const 20)))
    ;; A negative length.
    (call $num (call $request (i32.const 256) (i32.const -1) (i32.const 128) (i32.const 3) (i32.const 144) (i32.const 6)))))
