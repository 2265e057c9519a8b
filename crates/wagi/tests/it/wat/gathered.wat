;; Hands several iovecs, one of them empty, to single `fd_write` calls on stderr, on a new file
;; `gathered.txt` in the first preopened directory and on stdout, then answers with the count
;; each call returned. A server that writes only the first iovec of a call loses the rest.
;; Last, it moves a new file `moved.txt` onto fd 1 with `fd_renumber`, so what it writes to fd 1
;; afterwards lands in that file, not in the response.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_renumber" (func $fd_renumber (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "Content-Type: text/plain\n")
  (data (i32.const 1056) "\n")
  (data (i32.const 1064) "body-a ")
  (data (i32.const 1072) "body-b\n")
  (data (i32.const 1088) "err-a ")
  (data (i32.const 1096) "err-b\n")
  (data (i32.const 1104) "file-a ")
  (data (i32.const 1112) "file-b\n")
  (data (i32.const 1120) "gathered.txt")
  (data (i32.const 1136) "stderr NN file NN stdout NN\n")
  (data (i32.const 1168) "moved.txt")
  (data (i32.const 1184) "into the file\n")

  ;; Sets the iovec at `at` to `len` bytes from `ptr`.
  (func $iov (param $at i32) (param $ptr i32) (param $len i32)
    (i32.store (local.get $at) (local.get $ptr))
    (i32.store (i32.add (local.get $at) (i32.const 4)) (local.get $len)))

  ;; Writes `n` (below 100) as two decimal digits at `at`.
  (func $digits (param $at i32) (param $n i32)
    (i32.store8 (local.get $at) (i32.add (i32.const 48) (i32.div_u (local.get $n) (i32.const 10))))
    (i32.store8 (i32.add (local.get $at) (i32.const 1)) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10)))))

  ;; Opens `len` bytes of name at `name` in the first preopen, created and truncated, for
  ;; writing; the new fd is stored at `fd_out`.
  (func $create (param $name i32) (param $len i32) (param $fd_out i32)
    (drop (call $path_open (i32.const 3) (i32.const 0) (local.get $name) (local.get $len)
      (i32.const 9) (i64.const 64) (i64.const 0) (i32.const 0) (local.get $fd_out))))

  (func (export "_start")
    (call $iov (i32.const 0) (i32.const 1088) (i32.const 6))
    (call $iov (i32.const 8) (i32.const 1088) (i32.const 0))
    (call $iov (i32.const 16) (i32.const 1096) (i32.const 6))
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 3) (i32.const 200)))

    (call $create (i32.const 1120) (i32.const 12) (i32.const 208))
    (call $iov (i32.const 0) (i32.const 1104) (i32.const 7))
    (call $iov (i32.const 8) (i32.const 1104) (i32.const 0))
    (call $iov (i32.const 16) (i32.const 1112) (i32.const 7))
    (drop (call $fd_write (i32.load (i32.const 208)) (i32.const 0) (i32.const 3) (i32.const 204)))

    ;; The header, the empty line and the body in one call.
    (call $iov (i32.const 0) (i32.const 1024) (i32.const 25))
    (call $iov (i32.const 8) (i32.const 1056) (i32.const 1))
    (call $iov (i32.const 16) (i32.const 1024) (i32.const 0))
    (call $iov (i32.const 24) (i32.const 1064) (i32.const 7))
    (call $iov (i32.const 32) (i32.const 1072) (i32.const 7))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 5) (i32.const 212)))

    (call $digits (i32.const 1143) (i32.load (i32.const 200)))
    (call $digits (i32.const 1151) (i32.load (i32.const 204)))
    (call $digits (i32.const 1161) (i32.load (i32.const 212)))
    (call $iov (i32.const 0) (i32.const 1136) (i32.const 28))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 216)))

    (call $create (i32.const 1168) (i32.const 9) (i32.const 220))
    (drop (call $fd_renumber (i32.load (i32.const 220)) (i32.const 1)))
    (call $iov (i32.const 0) (i32.const 1184) (i32.const 14))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 216)))))
