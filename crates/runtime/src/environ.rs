//! The argv and environment a module reads, packed once per request in the layout WASI
//! preview 1 copies into guest memory, and the four calls that copy them (`args_sizes_get`,
//! `args_get`, `environ_sizes_get`, `environ_get`).
//!
//! These replace wasmtime-wasi's versions, which keep each string as its own allocation and
//! clone the whole list on every call: a CGI environment has twenty-odd variables, so a request
//! paid some forty allocations to build it and as many again for each read.

use wasmtime::{Caller, Extern, Linker};

use crate::inputs::{Inputs, StringList};
use crate::state::State;

const WASI: &str = "wasi_snapshot_preview1";
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_OVERFLOW: i32 = 61;

/// Which list a call reads.
type Select = fn(&Inputs) -> &StringList;

/// Puts the four calls in `linker` in place of wasmtime-wasi's, which must already be there.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    let lists: [(&str, &str, Select); 2] = [
        ("args_sizes_get", "args_get", |inputs| &inputs.args),
        ("environ_sizes_get", "environ_get", |inputs| &inputs.environ),
    ];
    linker.allow_shadowing(true);
    for (sizes_get, get, select) in lists {
        linker.func_wrap(WASI, sizes_get, move |mut caller: Caller<'_, State>, count_ptr: i32, size_ptr: i32| {
            write_sizes(&mut caller, select, count_ptr, size_ptr)
        })?;
        linker.func_wrap(WASI, get, move |mut caller: Caller<'_, State>, pointers: i32, buffer: i32| {
            write_strings(&mut caller, select, pointers, buffer)
        })?;
    }
    linker.allow_shadowing(false);
    Ok(())
}

/// Writes the number of strings at `count_ptr` and their total size, terminators included, at
/// `size_ptr`.
fn write_sizes(caller: &mut Caller<'_, State>, select: Select, count_ptr: i32, size_ptr: i32) -> wasmtime::Result<i32> {
    let (memory, state) = guest_memory(caller)?;
    let list = select(&state.inputs);
    // Counting terminators byte by byte vectorizes; splitting into strings does not.
    let strings = list.as_bytes().iter().filter(|&&b| b == 0).count();
    let (Ok(count), Ok(size)) = (u32::try_from(strings), u32::try_from(list.as_bytes().len())) else {
        return Ok(ERRNO_OVERFLOW);
    };
    write_u32(memory, count_ptr, count)?;
    write_u32(memory, size_ptr, size)?;
    Ok(ERRNO_SUCCESS)
}

/// Copies the strings to `buffer` and a pointer to each of them to the array at `pointers`.
fn write_strings(caller: &mut Caller<'_, State>, select: Select, pointers: i32, buffer: i32) -> wasmtime::Result<i32> {
    let (memory, state) = guest_memory(caller)?;
    let list = select(&state.inputs);
    let start = buffer.cast_unsigned();
    guest_range(memory, start, list.as_bytes().len())?.copy_from_slice(list.as_bytes());
    let mut next = start as usize;
    let mut slot = pointers.cast_unsigned();
    for string in list.strings() {
        write_u32(memory, slot.cast_signed(), u32::try_from(next).map_err(|_| out_of_bounds())?)?;
        next += string.len();
        slot = slot.checked_add(4).ok_or_else(out_of_bounds)?;
    }
    Ok(ERRNO_SUCCESS)
}

/// The calling instance's memory, and the store's state beside it.
fn guest_memory<'a>(caller: &'a mut Caller<'_, State>) -> wasmtime::Result<(&'a mut [u8], &'a State)> {
    let memory = match caller.data().memory {
        Some(memory) => Some(Extern::Memory(memory)),
        None => caller.get_export("memory"),
    };
    match memory {
        Some(Extern::Memory(memory)) => {
            let (bytes, state) = memory.data_and_store_mut(caller);
            Ok((bytes, state))
        }
        _ => Err(wasmtime::Error::msg("the module exports no (unshared) linear memory named `memory`")),
    }
}

/// Writes a little-endian `u32` at `ptr`, which must be 4-byte aligned.
fn write_u32(memory: &mut [u8], ptr: i32, value: u32) -> wasmtime::Result<()> {
    let ptr = ptr.cast_unsigned();
    if !ptr.is_multiple_of(4) {
        return Err(wasmtime::Error::msg(format!("pointer {ptr:#x} is not 4-byte aligned")));
    }
    guest_range(memory, ptr, 4)?.copy_from_slice(&value.to_le_bytes());
    Ok(())
}

/// `len` bytes of guest memory from `start`. Like wasmtime-wasi, a pointer out of bounds traps.
fn guest_range(memory: &mut [u8], start: u32, len: usize) -> wasmtime::Result<&mut [u8]> {
    let start = start as usize;
    let end = start.checked_add(len).ok_or_else(out_of_bounds)?;
    memory.get_mut(start..end).ok_or_else(out_of_bounds)
}

fn out_of_bounds() -> wasmtime::Error {
    wasmtime::Error::msg("a pointer passed to WASI is out of bounds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_stay_in_bounds_and_aligned() {
        let mut memory = vec![0u8; 16];
        assert!(write_u32(&mut memory, 12, 7).is_ok());
        assert_eq!(memory[12..], 7u32.to_le_bytes());
        assert!(write_u32(&mut memory, 14, 7).is_err(), "misaligned");
        assert!(write_u32(&mut memory, 16, 7).is_err(), "past the end");
        assert!(write_u32(&mut memory, -4, 7).is_err(), "wraps around");
        assert!(guest_range(&mut memory, u32::MAX, 2).is_err());
    }
}
