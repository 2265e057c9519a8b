//! Serves static files, such as a site's stylesheet and images, from the volume that `modules.toml` mounts at
//! `/static`, with the validators a browser needs to cache them.
//!
//! `PATH_INFO` names the file: with the module at `/guestbook/static/...`, `/guestbook/static/style.css` is
//! `/static/style.css`. The response has a `Content-Type` chosen by the file's extension, a strong `ETag` made of
//! the file's size and modification time, `Last-Modified`, and `Cache-Control: no-cache`, which lets a browser
//! keep the file but makes it ask each time whether it changed. A request whose `If-None-Match` names the
//! current `ETag` (or is `*`), or, without `If-None-Match`, whose `If-Modified-Since` is not older than the file,
//! gets `304 Not Modified` and no body. `HEAD` gets the headers only.
//!
//! A path with a `..` segment gets `400`; a missing file, a directory and a hidden file (a segment starting with
//! `.`) get `404`. WASI already keeps the module inside its volume; refusing early gives a clear answer. A symbolic
//! link that leads out of the volume, which WASI does not follow, gets `403`.

use std::env;
use std::fs::{File, Metadata};
use std::io::{self, BufWriter, ErrorKind, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use calendar::{date_from_days, days_in_month, days_in_year};

mod calendar;

/// Where `modules.toml` mounts the volume inside the guest.
const VOLUME: &str = "/static";

const DAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTH_NAMES: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn main() -> io::Result<()> {
    let request = Request::from_env();
    // Rust's stdout flushes at every line feed; a larger buffer sends a file in a few big writes.
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    serve(&request, &mut out)?;
    out.flush()
}

/// What this module uses of a request.
struct Request {
    method: String,
    path_info: String,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
}

impl Request {
    fn from_env() -> Self {
        Self {
            method: env::var("REQUEST_METHOD").unwrap_or_default(),
            path_info: env::var("PATH_INFO").unwrap_or_default(),
            if_none_match: env::var("HTTP_IF_NONE_MATCH").ok(),
            if_modified_since: env::var("HTTP_IF_MODIFIED_SINCE").ok(),
        }
    }
}

/// Writes the response to `request` to `out`.
fn serve(request: &Request, out: &mut impl Write) -> io::Result<()> {
    let head = match request.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => return plain(out, "405 Method Not Allowed", "Allow: GET, HEAD\n", "only GET and HEAD are allowed"),
    };
    let name = match file_name(&request.path_info) {
        Ok(name) => name,
        Err(Refusal::Escapes) => {
            return plain(out, "400 Bad Request", "", &format!("refusing `{}`: it contains `..`", request.path_info));
        }
        Err(Refusal::NotServed) => return not_found(out, &request.path_info),
    };
    let (mut file, metadata) = match open(&Path::new(VOLUME).join(name)) {
        Ok(Some(opened)) => opened,
        Ok(None) => return not_found(out, &request.path_info),
        // WASI refuses this way to follow a symbolic link that leads out of the volume.
        Err(err) if err.kind() == ErrorKind::PermissionDenied => {
            eprintln!("refusing `{name}`: {err}");
            return plain(out, "403 Forbidden", "", &format!("`{name}` may not be served"));
        }
        Err(err) => {
            eprintln!("cannot open `{name}`: {err}");
            return plain(out, "500 Internal Server Error", "", "the file cannot be read");
        }
    };
    let modified = match metadata.modified() {
        Ok(modified) => modified.duration_since(UNIX_EPOCH).unwrap_or_default(),
        Err(err) => {
            eprintln!("cannot read the modification time of `{name}`: {err}");
            return plain(out, "500 Internal Server Error", "", "the file cannot be read");
        }
    };
    let etag = etag(metadata.len(), modified.as_nanos());
    let validators =
        format!("ETag: {etag}\nLast-Modified: {}\nCache-Control: no-cache\n", http_date(modified.as_secs()));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    if is_not_modified(request, &etag, modified.as_secs(), now) {
        return write!(out, "Status: 304 Not Modified\n{validators}\n");
    }
    write!(out, "Content-Type: {}\n{validators}\n", content_type(name))?;
    if !head {
        io::copy(&mut file, out)?;
    }
    Ok(())
}

/// Why a path is not served.
#[derive(Debug, PartialEq)]
enum Refusal {
    /// It has a `..` segment, which could climb out of the volume.
    Escapes,
    /// It is empty or names a hidden file.
    NotServed,
}

/// The file `path_info` names, relative to the volume.
fn file_name(path_info: &str) -> Result<&str, Refusal> {
    let name = path_info.trim_start_matches('/');
    if name.split('/').any(|segment| segment == "..") {
        return Err(Refusal::Escapes);
    }
    if name.is_empty() || name.split('/').any(|segment| segment.starts_with('.')) {
        return Err(Refusal::NotServed);
    }
    Ok(name)
}

/// The file at `path` and its metadata, or `None` if there is no such file (or it is a directory).
fn open(path: &Path) -> io::Result<Option<(File, Metadata)>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if matches!(err.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory) => {
            return Ok(None);
        }
        Err(err) => return Err(err),
    };
    let metadata = file.metadata()?;
    Ok(metadata.is_file().then_some((file, metadata)))
}

fn not_found(out: &mut impl Write, path_info: &str) -> io::Result<()> {
    let message = match path_info.trim_start_matches('/') {
        "" => "name a file after the route, e.g. `/style.css`".to_owned(),
        name => format!("no file `{name}` here"),
    };
    plain(out, "404 Not Found", "", &message)
}

/// A short plain-text response; `headers` are complete lines.
fn plain(out: &mut impl Write, status: &str, headers: &str, message: &str) -> io::Result<()> {
    write!(out, "Status: {status}\nContent-Type: text/plain; charset=utf-8\n{headers}\n{message}\n")
}

/// The media type of a file, by its extension.
fn content_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map(|(_, extension)| extension.to_ascii_lowercase());
    match extension.as_deref() {
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// A strong entity tag for a file of `size` bytes last modified `mtime_nanos` after the Unix epoch.
fn etag(size: u64, mtime_nanos: u128) -> String {
    format!("\"{size}-{mtime_nanos:x}\"")
}

/// Whether the client's copy, as its conditional headers describe it, is current.
///
/// `If-None-Match` decides when it is present; only then is `If-Modified-Since` used, and only if it is a valid
/// date that is not in the future. A malformed header means the file is sent.
fn is_not_modified(request: &Request, etag: &str, modified: u64, now: u64) -> bool {
    if let Some(if_none_match) = &request.if_none_match {
        return etag_matches(if_none_match, etag);
    }
    request
        .if_modified_since
        .as_deref()
        .and_then(parse_http_date)
        .is_some_and(|since| since <= now && modified <= since)
}

/// Whether `etag` is in `list`, an `If-None-Match` value: `*`, or entity tags separated by commas. The comparison
/// is weak, as `If-None-Match` requires: `W/"x"` matches `"x"`.
fn etag_matches(list: &str, etag: &str) -> bool {
    if list.trim() == "*" {
        return true;
    }
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return false;
        }
        let tag = rest.strip_prefix("W/").unwrap_or(rest);
        // An entity tag is a quoted string without escapes: from one `"` to the next.
        let Some(end) = tag.strip_prefix('"').and_then(|quoted| quoted.find('"')) else {
            return false;
        };
        let (candidate, after) = tag.split_at(end + 2);
        if candidate == etag {
            return true;
        }
        rest = after;
    }
}

/// `seconds` since the Unix epoch as an HTTP date (RFC 9110's IMF-fixdate): `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(seconds: u64) -> String {
    let days = seconds / 86_400;
    let (year, month, day) = date_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = DAY_NAMES[((days + 4) % 7) as usize];
    let month = MONTH_NAMES[(month - 1) as usize];
    let (hour, minute, second) = (seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    format!("{weekday}, {day:02} {month} {year:04} {hour:02}:{minute:02}:{second:02} GMT")
}

/// The seconds since the Unix epoch of an IMF-fixdate, or `None` if `text` is not one. The obsolete formats of
/// RFC 850 and asctime, which browsers do not send, are not read: the file is then sent in full.
fn parse_http_date(text: &str) -> Option<u64> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [weekday, day, month, year, time, "GMT"] = fields.as_slice() else {
        return None;
    };
    if !DAY_NAMES.contains(&weekday.strip_suffix(',')?) || day.len() != 2 || year.len() != 4 || time.len() != 8 {
        return None;
    }
    let number = |digits: &str| -> Option<u64> {
        if digits.bytes().all(|b| b.is_ascii_digit()) { digits.parse().ok() } else { None }
    };
    let month = MONTH_NAMES.iter().position(|name| name == month)? as u64 + 1;
    let (year, day) = (number(year)?, number(day)?);
    let mut clock = time.split(':').map(number);
    let (Some(Some(hour)), Some(Some(minute)), Some(Some(second)), None) =
        (clock.next(), clock.next(), clock.next(), clock.next())
    else {
        return None;
    };
    if year < 1970 || day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = (1970..year).map(days_in_year).sum::<u64>() + (1..month).map(|m| days_in_month(year, m)).sum::<u64>();
    Some((days + day - 1) * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_formatted_as_imf_fixdate() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(951_825_599), "Tue, 29 Feb 2000 11:59:59 GMT");
        assert_eq!(http_date(1_709_251_199), "Thu, 29 Feb 2024 23:59:59 GMT");
        assert_eq!(http_date(4_107_542_400), "Mon, 01 Mar 2100 00:00:00 GMT");
    }

    #[test]
    fn dates_are_parsed_back() {
        for seconds in [0, 784_111_777, 951_825_599, 1_709_251_199, 4_107_542_400] {
            assert_eq!(parse_http_date(&http_date(seconds)), Some(seconds));
        }
    }

    #[test]
    fn malformed_dates_are_refused() {
        for text in [
            "",
            "yesterday",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Now 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1994 08:+9:37 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(text), None, "{text}");
        }
    }

    #[test]
    fn etags_hold_the_size_and_the_modification_time() {
        assert_eq!(etag(1234, 0x1800_0000_0000_0001), "\"1234-1800000000000001\"");
    }

    #[test]
    fn if_none_match_lists_are_matched() {
        let tag = "\"12-abc\"";
        assert!(etag_matches("\"12-abc\"", tag));
        assert!(etag_matches("*", tag));
        assert!(etag_matches(" * ", tag));
        assert!(etag_matches("\"x\", \"12-abc\"", tag));
        assert!(etag_matches("\"x\",W/\"12-abc\"", tag));
        assert!(etag_matches("\"a,b\", \"12-abc\"", tag));
        assert!(!etag_matches("\"12-abd\"", tag));
        assert!(!etag_matches("12-abc", tag));
        assert!(!etag_matches("\"12-abc", tag));
        assert!(!etag_matches("", tag));
        assert!(!etag_matches("\"x\" junk \"12-abc\"", tag));
    }

    fn request(if_none_match: Option<&str>, if_modified_since: Option<&str>) -> Request {
        Request {
            method: "GET".to_owned(),
            path_info: "/style.css".to_owned(),
            if_none_match: if_none_match.map(str::to_owned),
            if_modified_since: if_modified_since.map(str::to_owned),
        }
    }

    #[test]
    fn if_none_match_takes_precedence_over_if_modified_since() {
        let (tag, modified, now) = ("\"1-2\"", 784_111_777, 1_700_000_000);
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert!(is_not_modified(&request(Some(tag), None), tag, modified, now));
        assert!(!is_not_modified(&request(Some("\"other\""), Some(date)), tag, modified, now));
        assert!(is_not_modified(&request(None, Some(date)), tag, modified, now));
        assert!(!is_not_modified(&request(None, Some(date)), tag, modified + 1, now));
        assert!(!is_not_modified(&request(None, Some("garbage")), tag, modified, now));
        assert!(!is_not_modified(&request(None, Some(date)), tag, modified, modified - 1));
        assert!(!is_not_modified(&request(None, None), tag, modified, now));
    }

    #[test]
    fn paths_that_climb_or_hide_are_refused() {
        assert_eq!(file_name("/style.css"), Ok("style.css"));
        assert_eq!(file_name("/img/logo.svg"), Ok("img/logo.svg"));
        assert_eq!(file_name("/../secret"), Err(Refusal::Escapes));
        assert_eq!(file_name("/img/../../secret"), Err(Refusal::Escapes));
        assert_eq!(file_name("/.."), Err(Refusal::Escapes));
        assert_eq!(file_name(""), Err(Refusal::NotServed));
        assert_eq!(file_name("/"), Err(Refusal::NotServed));
        assert_eq!(file_name("/.git/config"), Err(Refusal::NotServed));
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("style.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("logo.SVG"), "image/svg+xml");
        assert_eq!(content_type("font.woff2"), "font/woff2");
        assert_eq!(content_type("data.json"), "application/json");
        assert_eq!(content_type("archive.tar.gz"), "application/octet-stream");
        assert_eq!(content_type("README"), "application/octet-stream");
    }
}
