//! Sizes (`256MiB`) and durations (`30s`) as users write them in modules.toml and flags.

use std::time::Duration;

/// Why a size or duration text could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a valid {kind}; {hint}")]
pub struct UnitError {
    text: String,
    kind: &'static str,
    hint: &'static str,
}

/// Parses a byte size: a plain number of bytes or a number with a unit
/// (`B`, `KB`, `MB`, `GB` powers of 1000; `KiB`, `MiB`, `GiB` powers of 1024).
pub fn parse_byte_size(text: &str) -> Result<u64, UnitError> {
    let error = || UnitError {
        text: text.to_owned(),
        kind: "size",
        hint: "write a number of bytes or use a unit such as `64KiB`, `256MiB` or `1GB`",
    };
    let (number, unit) = split_number(text.trim());
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(error()),
    };
    number.parse::<u64>().ok().and_then(|n| n.checked_mul(multiplier)).ok_or_else(error)
}

/// Parses a duration: a number with a unit `ms`, `s`, `m` or `h` (`500ms`, `30s`, `2m`).
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let error = || UnitError {
        text: text.to_owned(),
        kind: "duration",
        hint: "use a number with a unit such as `500ms`, `30s` or `2m`",
    };
    let (number, unit) = split_number(text.trim());
    let number: u64 = number.parse().map_err(|_| error())?;
    let millis = match unit.trim() {
        "ms" => Some(number),
        "s" => number.checked_mul(1_000),
        "m" => number.checked_mul(60_000),
        "h" => number.checked_mul(3_600_000),
        _ => None,
    };
    millis.map(Duration::from_millis).ok_or_else(error)
}

fn split_number(text: &str) -> (&str, &str) {
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    text.split_at(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        let check = |text, expected: Option<u64>| assert_eq!(parse_byte_size(text).ok(), expected, "{text}");
        check("0", Some(0));
        check("1024", Some(1024));
        check("64KiB", Some(65536));
        check("256 MiB", Some(256 << 20));
        check("1GB", Some(1_000_000_000));
        check("2GiB", Some(2 << 30));
        check("", None);
        check("MiB", None);
        check("12 parsecs", None);
        check("-1", None);
        check("99999999999999999999GiB", None);
    }

    #[test]
    fn durations() {
        let check = |text, expected: Option<u64>| {
            assert_eq!(parse_duration(text).ok().map(|d| d.as_millis() as u64), expected, "{text}")
        };
        check("500ms", Some(500));
        check("30s", Some(30_000));
        check("2m", Some(120_000));
        check("1h", Some(3_600_000));
        check("30", None);
        check("s", None);
        check("1.5s", None);
    }

    #[test]
    fn errors_say_what_to_write() {
        let message = parse_duration("30").expect_err("no unit").to_string();
        assert_eq!(message, "`30` is not a valid duration; use a number with a unit such as `500ms`, `30s` or `2m`");
    }
}
