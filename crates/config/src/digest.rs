//! The sha256 digest that names module content everywhere: in references (`@sha256:`), Spin
//! sources, Bindle parcels, the cache, logs and the precompiled-artifact key. Its syntax is
//! checked here and nowhere else.

use std::fmt;

use sha2::{Digest as _, Sha256};

/// A sha256 digest of some bytes, shown as `sha256:<hex>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

impl Digest {
    /// Hashes `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Parses `sha256:` and 64 lower-case hex digits, as OCI and Spin write a digest.
    pub fn parse(text: &str) -> Option<Self> {
        Self::from_hex(text.strip_prefix("sha256:")?)
    }

    /// Parses 64 lower-case hex digits, as a Bindle invoice writes a parcel's sha256.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (idx, byte) in bytes.iter_mut().enumerate() {
            let pair = hex.get(idx * 2..idx * 2 + 2)?;
            if !pair.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return None;
            }
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Self(bytes))
    }

    /// The lower-case hex digits, without the `sha256:` prefix.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_print_and_parse_as_sha256_hex() {
        let digest = Digest::of(b"hello");
        let text = digest.to_string();
        assert_eq!(text, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(Digest::parse(&text), Some(digest));
        assert_eq!(Digest::from_hex(&digest.to_hex()), Some(digest));
        assert_eq!(Digest::parse(&digest.to_hex()), None, "the prefix is required");
        assert_eq!(Digest::parse("sha256:abc"), None);
        assert_eq!(Digest::parse(&text.to_uppercase().replace("SHA256", "sha256")), None, "hex is lower-case");
        assert_eq!(Digest::from_hex(&"zz".repeat(32)), None);
        assert_eq!(Digest::from_hex(&"+1".repeat(32)), None, "from_str_radix would take a sign");
    }
}
