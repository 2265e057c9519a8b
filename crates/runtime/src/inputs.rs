//! What a core module reads through the `args_*` and `environ_*` calls: argv and the
//! environment, each packed into one buffer per request.

/// NUL-terminated strings in one buffer, in order: the layout of WASI's `*_get` string buffers.
///
/// The strings are counted by their terminators when a module asks, so the count and the
/// pointers written always agree. A NUL inside a pushed string (no request text can carry one,
/// see `cgi_env`, but a configured value can) ends it early, as it would in any C environment.
#[derive(Debug, Default)]
pub(crate) struct StringList {
    bytes: Vec<u8>,
}

impl StringList {
    /// An empty list with room for `bytes` bytes of strings.
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        Self { bytes: Vec::with_capacity(bytes) }
    }

    /// Appends the concatenation of `parts` as one string.
    pub(crate) fn push(&mut self, parts: &[&str]) {
        self.bytes.reserve(parts.iter().map(|part| part.len()).sum::<usize>() + 1);
        for part in parts {
            self.bytes.extend_from_slice(part.as_bytes());
        }
        self.bytes.push(0);
    }

    /// Appends `NAME=value`, the value given in pieces.
    pub(crate) fn push_var(&mut self, name: &str, value: &[&str]) {
        self.bytes.reserve(name.len() + value.iter().map(|part| part.len()).sum::<usize>() + 2);
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(b'=');
        for part in value {
            self.bytes.extend_from_slice(part.as_bytes());
        }
        self.bytes.push(0);
    }

    /// The strings, terminators included, as the guest receives them.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The strings, each with its terminator.
    pub(crate) fn strings(&self) -> impl Iterator<Item = &[u8]> {
        self.bytes.split_inclusive(|&b| b == 0)
    }
}

/// What a module reads through the `args_*` and `environ_*` calls.
#[derive(Debug, Default)]
pub(crate) struct Inputs {
    /// `argv`, the program name first.
    pub(crate) args: StringList,
    /// `NAME=value` pairs.
    pub(crate) environ: StringList,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_packed_with_terminators() {
        let mut list = StringList::with_capacity(8);
        list.push(&["PATH_INFO", "=", "/a"]);
        list.push(&[""]);
        list.push(&["X=", "b"]);
        list.push_var("Y", &["c", "d"]);
        assert_eq!(list.bytes, b"PATH_INFO=/a\0\0X=b\0Y=cd\0");
        let strings: Vec<&[u8]> = list.strings().collect();
        assert_eq!(strings, [&b"PATH_INFO=/a\0"[..], b"\0", b"X=b\0", b"Y=cd\0"]);
    }
}
