;; Calls its own route: GET http://$HTTP_HOST/loop through `wasi_experimental_http`, with a
;; `CDN-Loop` of its own that the host must replace, and answers with the status it got (502 if
;; the request failed). Without a loop guard it recurses until no instance is left.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_experimental_http" "req"
    (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 64) "Content-Type: text/plain\nStatus: ")
  (data (i32.const 128) "\n\n")
  (data (i32.const 136) "GET")
  (data (i32.const 144) "CDN-Loop: cdn.example\n")
  (data (i32.const 192) "HTTP_HOST=")
  (data (i32.const 208) "/loop")
  (data (i32.const 1024) "http://")

  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; Prints a non-negative number.
  (func $num (param $n i32)
    (local $p i32)
    (local.set $p (i32.const 48))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digits (local.get $n)))
    (call $write (local.get $p) (i32.sub (i32.const 48) (local.get $p))))

  ;; Copies the value of HTTP_HOST to 1031, after "http://", and returns its length. The
  ;; pointers go to 4096, the strings to 8192.
  (func $host (result i32)
    (local $i i32) (local $entry i32) (local $len i32)
    (drop (call $environ_sizes_get (i32.const 16) (i32.const 20)))
    (drop (call $environ_get (i32.const 4096) (i32.const 8192)))
    (block $found
      (loop $next
        (br_if $found (i32.ge_u (local.get $i) (i32.load (i32.const 16))))
        (local.set $entry (i32.load (i32.add (i32.const 4096) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        ;; "HTTP_HOST=" is 10 bytes: compare 8 and 2.
        (br_if $next (i64.ne (i64.load (local.get $entry)) (i64.load (i32.const 192))))
        (br_if $next (i32.ne (i32.load16_u (i32.add (local.get $entry) (i32.const 8))) (i32.load16_u (i32.const 200))))
        (local.set $entry (i32.add (local.get $entry) (i32.const 10)))
        (loop $byte
          (br_if $found (i32.eqz (i32.load8_u (i32.add (local.get $entry) (local.get $len)))))
          (local.set $len (i32.add (local.get $len) (i32.const 1)))
          (br $byte))))
    (memory.copy (i32.const 1031) (local.get $entry) (local.get $len))
    (local.get $len))

  (func (export "_start")
    (local $url_len i32) (local $code i32)
    ;; "http://" + host + "/loop"
    (local.set $url_len (i32.add (i32.const 7) (call $host)))
    (memory.copy (i32.add (i32.const 1024) (local.get $url_len)) (i32.const 208) (i32.const 5))
    (local.set $url_len (i32.add (local.get $url_len) (i32.const 5)))
    (local.set $code
      (call $req (i32.const 1024) (local.get $url_len) (i32.const 136) (i32.const 3)
        (i32.const 144) (i32.const 22) (i32.const 0) (i32.const 0) (i32.const 24) (i32.const 28)))
    (call $write (i32.const 64) (i32.const 33))
    (if (local.get $code)
      (then (call $num (i32.const 502)))
      (else (call $num (i32.load16_u (i32.const 24)))))
    (call $write (i32.const 128) (i32.const 2))))
