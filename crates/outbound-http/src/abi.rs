//! The ABI's error codes and access to guest memory.

use wasmtime::{AsContext, AsContextMut, Caller, Extern, Memory};

/// The import module name of the ABI.
pub(crate) const MODULE: &str = "wasi_experimental_http";

/// What a host function returns to the guest when it fails (0 is success).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum ErrorCode {
    /// The handle names no open response.
    InvalidHandle = 1,
    /// The module exports no memory named `memory`.
    MemoryNotFound = 2,
    /// A pointer and length reach outside the guest's memory.
    MemoryAccess = 3,
    /// The guest's buffer is too small for the value.
    BufferTooSmall = 4,
    /// The response has no such header.
    HeaderNotFound = 5,
    /// A text argument is not UTF-8.
    Utf8 = 6,
    /// The destination (or a redirect's) is not in `allowed_hosts`.
    DestinationNotAllowed = 7,
    /// The method is not an HTTP method.
    InvalidMethod = 8,
    /// A request header line is not `name:value` with a valid name and value.
    InvalidEncoding = 9,
    /// The URL does not parse or is not `http`/`https`.
    InvalidUrl = 10,
    /// The request failed: connection, timeout, a body over the size cap, responses over the
    /// request's `--outbound-max-held`, too many redirects.
    RequestError = 11,
    /// An internal error of the host.
    RuntimeError = 12,
    /// Too many responses open at once (`http_max_concurrency`) or too many requests made.
    TooManySessions = 13,
}

impl ErrorCode {
    /// The value the guest sees.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// A pointer and length from the guest, both read as unsigned 32-bit values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GuestSlice {
    ptr: u32,
    len: u32,
}

impl GuestSlice {
    pub(crate) fn new(ptr: i32, len: i32) -> Self {
        Self { ptr: ptr.cast_unsigned(), len: len.cast_unsigned() }
    }

    /// A slot of `len` bytes at `ptr`, for results.
    pub(crate) fn out(ptr: i32, len: u32) -> Self {
        Self { ptr: ptr.cast_unsigned(), len }
    }

    pub(crate) fn len(self) -> usize {
        self.len as usize
    }

    fn range(self, memory_len: usize) -> Result<std::ops::Range<usize>, ErrorCode> {
        let start = self.ptr as usize;
        let end = start.checked_add(self.len as usize).ok_or(ErrorCode::MemoryAccess)?;
        if end > memory_len { Err(ErrorCode::MemoryAccess) } else { Ok(start..end) }
    }
}

/// The guest's exported memory.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GuestMemory(Memory);

impl GuestMemory {
    pub(crate) fn of<T>(caller: &mut Caller<'_, T>) -> Result<Self, ErrorCode> {
        match caller.get_export("memory") {
            Some(Extern::Memory(memory)) => Ok(Self(memory)),
            _ => Err(ErrorCode::MemoryNotFound),
        }
    }

    /// Copies the bytes of `slice`.
    pub(crate) fn read(self, store: impl AsContext, slice: GuestSlice) -> Result<Vec<u8>, ErrorCode> {
        let data = self.0.data(&store);
        Ok(data[slice.range(data.len())?].to_vec())
    }

    /// Reads `slice` as UTF-8 text.
    pub(crate) fn read_str(self, store: impl AsContext, slice: GuestSlice) -> Result<String, ErrorCode> {
        String::from_utf8(self.read(store, slice)?).map_err(|_| ErrorCode::Utf8)
    }

    /// Fails unless `slice` lies in memory; memory never shrinks, so it stays writable.
    pub(crate) fn check(self, store: impl AsContext, slice: GuestSlice) -> Result<(), ErrorCode> {
        slice.range(self.0.data_size(&store)).map(drop)
    }

    /// Writes `bytes` at the start of `slice`; fails if they do not fit in memory or in `slice`.
    pub(crate) fn write(self, mut store: impl AsContextMut, slice: GuestSlice, bytes: &[u8]) -> Result<(), ErrorCode> {
        let data = self.0.data_mut(&mut store);
        let range = slice.range(data.len())?;
        let target = data[range].get_mut(..bytes.len()).ok_or(ErrorCode::BufferTooSmall)?;
        target.copy_from_slice(bytes);
        Ok(())
    }

    /// Writes a little-endian `u32` at `ptr`.
    pub(crate) fn write_u32(self, store: impl AsContextMut, ptr: i32, value: u32) -> Result<(), ErrorCode> {
        self.write(store, GuestSlice::out(ptr, 4), &value.to_le_bytes())
    }
}
