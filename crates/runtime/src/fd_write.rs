//! `fd_write` and `fd_pwrite` that write every iovec they are given, in order, as `writev` and
//! `pwritev` do on a blocking descriptor, with a fast path from guest memory to the stdout pipe.
//!
//! wasmtime-wasi writes only the first non-empty iovec and returns its length, which POSIX
//! allows as a short write. Toolchains that hand over the text and its newline as two iovecs
//! and never retry (Grain's `print`, for one) then lose every second piece. The original WAGI
//! wrote all of them, so these calls do too: each iovec goes to wasmtime-wasi's own call in
//! turn, which keeps its descriptor table (and so `fd_renumber` and `fd_close`) in charge, and
//! the count returned is short only when the destination took less than it was given.
//!
//! Writes to fd 1 skip wasmtime-wasi while it still is the request's stdout: they are copied
//! from guest memory into the pipe in chunks of at most 4 KiB. `fd_close` and `fd_renumber` are
//! wrapped to notice when fd 1 stops being that pipe.

use bytes::BytesMut;
use wasmtime::{AsContextMut, Caller, Extern, Linker};
use wasmtime_wasi::p1::types::{Errno, Error as WasiError};
use wasmtime_wasi::p1::wasi_snapshot_preview1::WasiSnapshotPreview1;
use wiggle::{GuestMemory, GuestPtr};

use crate::state::State;
use crate::stdout::{CHUNK_BYTES, StdoutPipe};

const WASI: &str = "wasi_snapshot_preview1";
const STDOUT: i32 = 1;
/// The size of a `ciovec` in guest memory: a pointer and a length.
const CIOVEC_BYTES: u32 = 8;

/// Puts `fd_write`, `fd_pwrite`, `fd_close` and `fd_renumber` in `linker` in place of
/// wasmtime-wasi's, which must already be there.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.func_wrap_async(
        WASI,
        "fd_write",
        |mut caller: Caller<'_, State>, (fd, iovs, iovs_len, nwritten): (i32, i32, i32, i32)| {
            Box::new(async move { write(&mut caller, fd, iovs, iovs_len, None, nwritten).await })
        },
    )?;
    linker.func_wrap_async(
        WASI,
        "fd_pwrite",
        |mut caller: Caller<'_, State>, (fd, iovs, iovs_len, offset, nwritten): (i32, i32, i32, i64, i32)| {
            Box::new(async move {
                let offset = Some(offset.cast_unsigned());
                write(&mut caller, fd, iovs, iovs_len, offset, nwritten).await
            })
        },
    )?;
    linker.func_wrap_async(WASI, "fd_close", |mut caller: Caller<'_, State>, (fd,): (i32,)| {
        Box::new(async move {
            forget_stdout_if(&mut caller, fd == STDOUT);
            let (mut memory, wasi) = wasi_and_memory(&mut caller)?;
            errno(wasi.fd_close(&mut memory, fd.cast_unsigned().into()).await)
        })
    })?;
    linker.func_wrap_async(WASI, "fd_renumber", |mut caller: Caller<'_, State>, (from, to): (i32, i32)| {
        Box::new(async move {
            forget_stdout_if(&mut caller, from == STDOUT || to == STDOUT);
            let (mut memory, wasi) = wasi_and_memory(&mut caller)?;
            errno(wasi.fd_renumber(&mut memory, from.cast_unsigned().into(), to.cast_unsigned().into()).await)
        })
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

/// `fd_write` (no `offset`) or `fd_pwrite`: writes the iovecs at `iovs` and stores the number of
/// bytes written at `nwritten`.
// compat(deislabs/wagi): every iovec is written, as the original's wasi-common did.
async fn write(
    caller: &mut Caller<'_, State>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    offset: Option<u64>,
    nwritten: i32,
) -> wasmtime::Result<i32> {
    let (iovs, iovs_len) = (iovs.cast_unsigned(), iovs_len.cast_unsigned());
    let fuel = caller.as_context_mut().hostcall_fuel();
    let memory = memory(caller)?;
    let (bytes, state) = memory.data_and_store_mut(&mut *caller);
    let written = match (&state.stdout, offset) {
        (Some(pipe), None) if fd == STDOUT => write_to_pipe(pipe, bytes, iovs, iovs_len).await?,
        _ => {
            state.wasi.set_hostcall_fuel(fuel);
            write_each(&mut state.wasi, bytes, fd.cast_unsigned(), iovs, iovs_len, offset).await?
        }
    };
    match written {
        Ok(count) => {
            let Some(slot) = bytes.get_mut(nwritten as usize..).and_then(|rest| rest.get_mut(..4)) else {
                return Err(out_of_bounds());
            };
            if !nwritten.cast_unsigned().is_multiple_of(4) {
                return Err(wasmtime::Error::msg("the pointer for the count written is not 4-byte aligned"));
            }
            slot.copy_from_slice(&count.to_le_bytes());
            Ok(Errno::Success as i32)
        }
        Err(errno) => Ok(errno as i32),
    }
}

/// Copies the iovecs into the pipe. Fails only when nothing could be written.
async fn write_to_pipe(pipe: &StdoutPipe, memory: &[u8], iovs: u32, iovs_len: u32) -> wasmtime::Result<Written> {
    let buffers = ciovecs(memory, iovs, iovs_len)?;
    let total: usize = buffers.iter().map(|buffer| buffer.len()).sum();
    let mut chunk = BytesMut::with_capacity(total.min(CHUNK_BYTES));
    let mut written = 0usize;
    let mut refused = None;
    'buffers: for buffer in buffers {
        let mut rest = buffer;
        while !rest.is_empty() {
            let take = rest.len().min(CHUNK_BYTES - chunk.len());
            chunk.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if chunk.len() == CHUNK_BYTES {
                match pipe.send(chunk.split().freeze()).await {
                    Ok(sent) => written += sent,
                    Err((sent, errno)) => {
                        written += sent;
                        refused = Some(errno);
                        break 'buffers;
                    }
                }
            }
        }
    }
    if refused.is_none() && !chunk.is_empty() {
        match pipe.send(chunk.freeze()).await {
            Ok(sent) => written += sent,
            Err((sent, errno)) => {
                written += sent;
                refused = Some(errno);
            }
        }
    }
    Ok(counted(written, refused))
}

/// Hands one iovec at a time to wasmtime-wasi, stopping at the first that is not written whole.
async fn write_each(
    wasi: &mut wasmtime_wasi::p1::WasiP1Ctx,
    bytes: &mut [u8],
    fd: u32,
    iovs: u32,
    iovs_len: u32,
    offset: Option<u64>,
) -> wasmtime::Result<Written> {
    let lengths: Vec<usize> = ciovecs(bytes, iovs, iovs_len)?.iter().map(|buffer| buffer.len()).collect();
    let mut memory = GuestMemory::Unshared(bytes);
    if lengths.iter().all(|&len| len == 0) {
        // Nothing to write, but the descriptor is still checked.
        let all = GuestPtr::new((iovs, iovs_len));
        return Ok(match offset {
            None => errno_or(wasi.fd_write(&mut memory, fd.into(), all).await)?,
            Some(at) => errno_or(wasi.fd_pwrite(&mut memory, fd.into(), all, at).await)?,
        });
    }
    let mut written = 0usize;
    for (index, len) in (0u32..).zip(lengths) {
        if len == 0 {
            continue;
        }
        // `ciovecs` checked that the whole array is in bounds.
        let one = GuestPtr::new((iovs + index * CIOVEC_BYTES, 1));
        let result = match offset {
            None => wasi.fd_write(&mut memory, fd.into(), one).await,
            Some(at) => wasi.fd_pwrite(&mut memory, fd.into(), one, at + written as u64).await,
        };
        match errno_or(result)? {
            Ok(count) => {
                written += count as usize;
                if (count as usize) < len {
                    break;
                }
            }
            Err(errno) => return Ok(counted(written, Some(errno))),
        }
    }
    Ok(counted(written, None))
}

/// The count written, or the error when nothing was.
type Written = Result<u32, Errno>;

/// As `writev` reports it: the bytes written if any were, else the error that stopped it.
fn counted(written: usize, refused: Option<Errno>) -> Written {
    match (written, refused) {
        (0, Some(errno)) => Err(errno),
        // Guest memory is at most 4 GiB, and the output limit is far below that.
        (written, _) => u32::try_from(written).map_err(|_| Errno::Overflow),
    }
}

/// The buffers an iovec array points at. Like wasmtime-wasi, a pointer out of bounds traps.
fn ciovecs(memory: &[u8], iovs: u32, iovs_len: u32) -> wasmtime::Result<Vec<&[u8]>> {
    if !iovs.is_multiple_of(4) {
        return Err(wasmtime::Error::msg("the iovec array is not 4-byte aligned"));
    }
    let array_len = iovs_len.checked_mul(CIOVEC_BYTES).ok_or_else(out_of_bounds)?;
    let array = range(memory, iovs, array_len)?;
    array
        .chunks_exact(CIOVEC_BYTES as usize)
        .map(|ciovec| {
            let field = |at: usize| u32::from_le_bytes([ciovec[at], ciovec[at + 1], ciovec[at + 2], ciovec[at + 3]]);
            range(memory, field(0), field(4))
        })
        .collect()
}

fn range(memory: &[u8], start: u32, len: u32) -> wasmtime::Result<&[u8]> {
    let end = start.checked_add(len).ok_or_else(out_of_bounds)?;
    memory.get(start as usize..end as usize).ok_or_else(out_of_bounds)
}

fn out_of_bounds() -> wasmtime::Error {
    wasmtime::Error::msg("a pointer passed to fd_write is out of bounds")
}

/// wasmtime-wasi's result as an errno, or the trap it carries.
fn errno_or<T>(result: Result<T, WasiError>) -> wasmtime::Result<Result<T, Errno>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(error) => error.downcast().map(Err),
    }
}

/// The errno a call without results returns to the guest.
fn errno(result: Result<(), WasiError>) -> wasmtime::Result<i32> {
    Ok(match errno_or(result)? {
        Ok(()) => Errno::Success as i32,
        Err(errno) => errno as i32,
    })
}

/// Stops the fast path once fd 1 may no longer be the stdout pipe. Dropping the pipe's writer
/// also lets the reader see the end of the output when wasmtime-wasi's is gone too.
fn forget_stdout_if(caller: &mut Caller<'_, State>, touches_stdout: bool) {
    if touches_stdout {
        caller.data_mut().stdout = None;
    }
}

fn memory(caller: &mut Caller<'_, State>) -> wasmtime::Result<wasmtime::Memory> {
    if let Some(memory) = caller.data().memory {
        return Ok(memory);
    }
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(wasmtime::Error::msg("the module exports no (unshared) linear memory named `memory`")),
    }
}

fn wasi_and_memory<'a>(
    caller: &'a mut Caller<'_, State>,
) -> wasmtime::Result<(GuestMemory<'a>, &'a mut wasmtime_wasi::p1::WasiP1Ctx)> {
    let fuel = caller.as_context_mut().hostcall_fuel();
    let memory = memory(caller)?;
    let (bytes, state) = memory.data_and_store_mut(caller);
    state.wasi.set_hostcall_fuel(fuel);
    Ok((GuestMemory::Unshared(bytes), &mut state.wasi))
}
