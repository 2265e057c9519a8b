//! The smallest `wasi:http` component in Rust: it answers every request with `hello from wagi`, as
//! `hello.wat` does through CGI. It is `no_std`, so it imports only the `wasi:http` and `wasi:io` calls it
//! makes; the bench measures it beside `hello.wat`.
#![no_std]

extern crate alloc;

use wasip2::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

wasip2::http::proxy::export!(Hello);

struct Hello;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let response = OutgoingResponse::new(Fields::new());
        let Ok(body) = response.body() else { return };
        ResponseOutparam::set(out, Ok(response));
        let Ok(stream) = body.write() else { return };
        if stream.blocking_write_and_flush(b"hello from wagi\n").is_err() {
            return;
        }
        drop(stream);
        let _ = OutgoingBody::finish(body, None);
    }
}

/// Each request gets a fresh instance, so memory is only ever handed out: a bump allocator over
/// a fixed arena, never freed, is all the component needs. It also serves `cabi_realloc`, through
/// which the host passes lists and strings in, which std builds get from wit-bindgen.
mod arena {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;

    const SIZE: usize = 64 << 10;

    struct Arena {
        bytes: UnsafeCell<[u8; SIZE]>,
        used: UnsafeCell<usize>,
    }

    // A wasm instance has one thread.
    unsafe impl Sync for Arena {}

    #[global_allocator]
    static ARENA: Arena = Arena { bytes: UnsafeCell::new([0; SIZE]), used: UnsafeCell::new(0) };

    unsafe impl GlobalAlloc for Arena {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: one thread; `used` only grows, within the arena.
            unsafe {
                let used = &mut *self.used.get();
                let start = (*used).next_multiple_of(layout.align());
                if start + layout.size() > SIZE {
                    return core::ptr::null_mut();
                }
                *used = start + layout.size();
                self.bytes.get().cast::<u8>().add(start)
            }
        }

        unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
    }

    /// The canonical ABI's allocation function: new memory, with the old contents copied.
    #[unsafe(no_mangle)]
    unsafe extern "C" fn cabi_realloc(old: *mut u8, old_len: usize, align: usize, new_len: usize) -> *mut u8 {
        let Ok(layout) = Layout::from_size_align(new_len, align) else { core::arch::wasm32::unreachable() };
        // SAFETY: the host passes a valid alignment, and `old` holds `old_len` bytes when not null.
        unsafe {
            let new = ARENA.alloc(layout);
            if new.is_null() {
                core::arch::wasm32::unreachable();
            }
            if !old.is_null() {
                core::ptr::copy_nonoverlapping(old, new, old_len.min(new_len));
            }
            new
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
