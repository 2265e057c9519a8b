//! A guestbook: a small web application with an HTML page, a form, and entries kept in a writable volume.
//!
//! It is built for wasm32-wasip2, as a WASI 0.2 command component. `examples/modules.toml` serves it at
//! `/guestbook` and `/guestbook/...` with a writable host directory mounted at `/data`:
//!
//! - `GET /guestbook` answers the page: a form to sign the guestbook and the entries, newest first.
//! - `POST /guestbook` takes the form's `name` and `message`. A valid entry is appended to `/data/entries.tsv`
//!   and the answer is `303 See Other` back to the page, so reloading the page does not post the form again. A
//!   form with a mistake gets the page again with `422 Unprocessable Content`, saying what is wrong and keeping
//!   what was typed.
//! - Any other path below `/guestbook/` gets an HTML `404` page. The stylesheet and the logo below
//!   `/guestbook/static/` come from the `static-files` module, whose route is more specific.
//!
//! The links are built from `SCRIPT_NAME`, so the module works under any route.
//!
//! The data file holds one line per entry: the time in seconds since the Unix epoch, the name and the message,
//! separated by tabs. In the name and the message, `\` is written `\\`, a tab `\t`, a line feed `\n` and a
//! carriage return `\r`, so every entry is exactly one line. Each request appends its line with one write to the
//! file opened in append mode, so lines from concurrent requests never interleave and none is lost.

use std::env;
use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use calendar::date_from_days;

/// One copy of the calendar arithmetic for both examples.
#[path = "../../static-files/src/calendar.rs"]
mod calendar;

/// The data file, in the volume that `modules.toml` mounts at `/data`.
const DATA_FILE: &str = "/data/entries.tsv";
/// The longest name, in characters, after trimming.
const MAX_NAME: usize = 60;
/// The longest message, in characters, after trimming.
const MAX_MESSAGE: usize = 500;
/// The largest form body read, in bytes: the longest valid form fits several times over, even percent-encoded.
const MAX_BODY: u64 = 32 * 1024;

fn main() -> io::Result<()> {
    let request = Request::from_env();
    let response = handle(&request, &mut io::stdin().lock());
    let mut stdout = io::stdout().lock();
    stdout.write_all(&response.into_bytes())?;
    stdout.flush()
}

/// What the guestbook uses of a request.
struct Request {
    method: String,
    /// `SCRIPT_NAME` without a trailing `/`: `/guestbook` with the routes of `examples/modules.toml`.
    base: String,
    path_info: String,
    content_type: String,
}

impl Request {
    fn from_env() -> Self {
        let var = |name| env::var(name).unwrap_or_default();
        Self {
            method: var("REQUEST_METHOD"),
            base: var("SCRIPT_NAME").trim_end_matches('/').to_owned(),
            path_info: var("PATH_INFO"),
            content_type: var("CONTENT_TYPE"),
        }
    }

    /// The page's own address, where the form posts to.
    fn page_url(&self) -> &str {
        if self.base.is_empty() { "/" } else { &self.base }
    }
}

/// A CGI response: a status, headers and an HTML body.
struct Response {
    status: &'static str,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Response {
    fn html(status: &'static str, body: String) -> Self {
        Self { status, headers: vec![("Content-Type", "text/html; charset=utf-8".to_owned())], body }
    }

    fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn into_bytes(self) -> Vec<u8> {
        let mut out = format!("Status: {}\n", self.status);
        for (name, value) in &self.headers {
            let _ = writeln!(out, "{name}: {value}");
        }
        out.push('\n');
        out.push_str(&self.body);
        out.into_bytes()
    }
}

// Routing.

fn handle(request: &Request, body: &mut impl Read) -> Response {
    if !matches!(request.path_info.as_str(), "" | "/") {
        let path = format!("{}{}", request.base, request.path_info);
        let text = format!("There is no page at <code>{}</code>.", escape_html(&path));
        return notice(request, "404 Not Found", "Page not found", &text);
    }
    match request.method.as_str() {
        // The server sends no body in answer to `HEAD`, so it is answered as `GET`.
        "GET" | "HEAD" => show(request),
        "POST" => sign(request, body),
        _ => notice(request, "405 Method Not Allowed", "Method not allowed", "This page takes only GET and POST.")
            .with_header("Allow", "GET, HEAD, POST"),
    }
}

/// The page with an empty form.
fn show(request: &Request) -> Response {
    match load_entries(Path::new(DATA_FILE)) {
        Ok(entries) => Response::html("200 OK", render_page(request, &entries, &Form::default(), &[]))
            .with_header("Cache-Control", "no-cache"),
        Err(err) => server_error(request, &format!("cannot read `{DATA_FILE}`: {err}")),
    }
}

/// Takes a posted form: stores a valid entry and redirects to the page, or shows the page with what is wrong.
fn sign(request: &Request, body: &mut impl Read) -> Response {
    let media_type = request.content_type.split(';').next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        let text = "Send the form as <code>application/x-www-form-urlencoded</code>, as a browser does.";
        return notice(request, "415 Unsupported Media Type", "Unsupported form encoding", text);
    }
    let mut bytes = Vec::new();
    if let Err(err) = body.take(MAX_BODY + 1).read_to_end(&mut bytes) {
        eprintln!("cannot read the request body: {err}");
        return notice(request, "400 Bad Request", "Bad request", "The form did not arrive completely.");
    }
    if bytes.len() as u64 > MAX_BODY {
        let text = format!("The form is larger than {MAX_BODY} bytes.");
        return notice(request, "413 Content Too Large", "Form too large", &text);
    }
    let Ok(form) = Form::decode(&bytes) else {
        return notice(request, "400 Bad Request", "Bad request", "The form is not valid UTF-8.");
    };
    match validate(&form) {
        Ok(signature) => {
            let entry = Entry { time: now(), name: signature.name, message: signature.message };
            match append_entry(Path::new(DATA_FILE), &entry) {
                Ok(()) => see_other(request),
                Err(err) => server_error(request, &format!("cannot append to `{DATA_FILE}`: {err}")),
            }
        }
        Err(problems) => match load_entries(Path::new(DATA_FILE)) {
            Ok(entries) => {
                Response::html("422 Unprocessable Content", render_page(request, &entries, &form, &problems))
            }
            Err(err) => server_error(request, &format!("cannot read `{DATA_FILE}`: {err}")),
        },
    }
}

/// The redirect after a successful post: the browser then loads the page with `GET`.
fn see_other(request: &Request) -> Response {
    let url = request.page_url();
    let text = format!("Thank you! <a href=\"{0}\">Back to the guestbook</a>.", escape_html(url));
    Response::html("303 See Other", layout(request, "Thank you", &format!("<p>{text}</p>\n")))
        .with_header("Location", url)
}

/// A `500` page; the reason goes to stderr, which the server keeps in the route's log.
fn server_error(request: &Request, reason: &str) -> Response {
    eprintln!("{reason}");
    notice(request, "500 Internal Server Error", "Something went wrong", "The guestbook cannot be used right now.")
}

/// A page with a heading, one paragraph of HTML and a link to the guestbook.
fn notice(request: &Request, status: &'static str, title: &str, html: &str) -> Response {
    let content = format!(
        "<h2>{}</h2>\n<p>{html}</p>\n<p><a href=\"{}\">Back to the guestbook</a></p>\n",
        escape_html(title),
        escape_html(request.page_url())
    );
    Response::html(status, layout(request, title, &content))
}

// Rendering.

/// The guestbook page: the form, with `problems` and the values of `form`, then the entries, newest first.
fn render_page(request: &Request, entries: &[Entry], form: &Form, problems: &[Problem]) -> String {
    let mut content = String::from("<section class=\"sign\">\n<h2>Sign the guestbook</h2>\n");
    if !problems.is_empty() {
        content.push_str("<ul class=\"error\" role=\"alert\">\n");
        for problem in problems {
            let _ = writeln!(content, "<li>{}</li>", escape_html(problem.text()));
        }
        content.push_str("</ul>\n");
    }
    let invalid = |field| if problems.iter().any(|p| p.field() == field) { " aria-invalid=\"true\"" } else { "" };
    // The server checks the form, so the fields carry no `required` or `maxlength` and a mistake shows the
    // `422` page. The line feed after `<textarea>` keeps one that starts the message: HTML drops the first.
    let _ = write!(
        content,
        "<form method=\"post\" action=\"{action}\">\n\
         <label for=\"name\">Your name</label>\n\
         <input id=\"name\" name=\"name\" type=\"text\" autocomplete=\"name\" value=\"{name}\"{name_invalid}>\n\
         <label for=\"message\">Message</label>\n\
         <textarea id=\"message\" name=\"message\" rows=\"4\"{message_invalid}>\n{message}</textarea>\n\
         <button type=\"submit\">Sign</button>\n\
         </form>\n</section>\n",
        action = escape_html(request.page_url()),
        name = escape_html(&form.name),
        name_invalid = invalid(Field::Name),
        message = escape_html(&form.message),
        message_invalid = invalid(Field::Message),
    );
    content.push_str("<section>\n<h2>Entries</h2>\n");
    if entries.is_empty() {
        content.push_str("<p class=\"empty\">No entries yet. Be the first to sign!</p>\n");
    } else {
        content.push_str("<ol class=\"entries\">\n");
        for entry in entries.iter().rev() {
            let (machine, human) = format_time(entry.time);
            let _ = writeln!(
                content,
                "<li class=\"entry\">\n<p class=\"meta\"><span class=\"name\">{}</span> \
                 <time datetime=\"{machine}\">{human}</time></p>\n<p class=\"message\">{}</p>\n</li>",
                escape_html(&entry.name),
                escape_html(&entry.message),
            );
        }
        content.push_str("</ol>\n");
    }
    content.push_str("</section>\n");
    layout(request, "Guestbook", &content)
}

/// A whole HTML document around `content`, with the stylesheet, the logo and the site's heading.
fn layout(request: &Request, title: &str, content: &str) -> String {
    let base = escape_html(&request.base);
    format!(
        "<!DOCTYPE html>\n\
         <html lang=\"en\">\n\
         <head>\n\
         <meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n\
         <link rel=\"stylesheet\" href=\"{base}/static/style.css\">\n\
         </head>\n\
         <body>\n\
         <main>\n\
         <header>\n\
         <img src=\"{base}/static/logo.svg\" alt=\"\" width=\"56\" height=\"56\">\n\
         <h1>Guestbook</h1>\n\
         <p class=\"tagline\">Leave a note for the next visitor.</p>\n\
         </header>\n\
         {content}\
         </main>\n\
         </body>\n\
         </html>\n",
        title = escape_html(title),
    )
}

/// `text` with the characters that are special in HTML text and attribute values replaced by references.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// `seconds` since the Unix epoch as `2024-05-01T12:34:56Z`, for machines, and `2024-05-01 12:34 UTC`, for people.
fn format_time(seconds: u64) -> (String, String) {
    let (year, month, day) = date_from_days(seconds / 86_400);
    let (hour, minute, second) = (seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    (
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z"),
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC"),
    )
}

// Form decoding and validation.

/// The fields of the form, as sent.
#[derive(Debug, Default, PartialEq)]
struct Form {
    name: String,
    message: String,
}

/// A form field that decodes to bytes that are not UTF-8.
#[derive(Debug, PartialEq)]
struct NotUtf8;

impl Form {
    /// Decodes an `application/x-www-form-urlencoded` body. Other fields are ignored; of a field sent several
    /// times, the first counts.
    fn decode(body: &[u8]) -> Result<Self, NotUtf8> {
        let mut name = None;
        let mut message = None;
        for (key, value) in decode_form(body)? {
            let slot = match key.as_str() {
                "name" => &mut name,
                "message" => &mut message,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        Ok(Self { name: name.unwrap_or_default(), message: message.unwrap_or_default() })
    }
}

/// The name-value pairs of an `application/x-www-form-urlencoded` body, in order.
fn decode_form(body: &[u8]) -> Result<Vec<(String, String)>, NotUtf8> {
    body.split(|&byte| byte == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = match pair.iter().position(|&byte| byte == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            Ok((decode_component(key)?, decode_component(value)?))
        })
        .collect()
}

/// A form name or value with `+` turned into a space and `%XX` into the byte it names. A `%` that is not
/// followed by two hexadecimal digits stays as it is, as browsers read it.
fn decode_component(encoded: &[u8]) -> Result<String, NotUtf8> {
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => match tail {
                [high, low, after @ ..] if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                    bytes.push(hex_value(*high) << 4 | hex_value(*low));
                    rest = after;
                }
                _ => bytes.push(b'%'),
            },
            byte => bytes.push(byte),
        }
    }
    String::from_utf8(bytes).map_err(|_| NotUtf8)
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

/// A name and a message that may be stored.
#[derive(Debug, PartialEq)]
struct Signature {
    name: String,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Message,
}

/// What can be wrong with a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    NoName,
    NameTooLong,
    NoMessage,
    MessageTooLong,
}

impl Problem {
    fn field(self) -> Field {
        match self {
            Self::NoName | Self::NameTooLong => Field::Name,
            Self::NoMessage | Self::MessageTooLong => Field::Message,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Self::NoName => "Please enter your name.",
            Self::NameTooLong => "Please shorten your name to at most 60 characters.",
            Self::NoMessage => "Please enter a message.",
            Self::MessageTooLong => "Please shorten your message to at most 500 characters.",
        }
    }
}

/// The trimmed name and message of `form`, with the message's line breaks as `\n`, or everything that is wrong.
fn validate(form: &Form) -> Result<Signature, Vec<Problem>> {
    let name = form.name.trim();
    let message = form.message.trim().replace("\r\n", "\n");
    let mut problems = Vec::new();
    match name.chars().count() {
        0 => problems.push(Problem::NoName),
        length if length > MAX_NAME => problems.push(Problem::NameTooLong),
        _ => {}
    }
    match message.chars().count() {
        0 => problems.push(Problem::NoMessage),
        length if length > MAX_MESSAGE => problems.push(Problem::MessageTooLong),
        _ => {}
    }
    if problems.is_empty() { Ok(Signature { name: name.to_owned(), message }) } else { Err(problems) }
}

// Storage.

/// A stored entry.
#[derive(Debug, PartialEq)]
struct Entry {
    /// When it was written, in seconds since the Unix epoch.
    time: u64,
    name: String,
    message: String,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// The entries in the data file, oldest first; none when the file does not exist yet.
fn load_entries(path: &Path) -> io::Result<Vec<Entry>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        match decode_entry(line) {
            Some(entry) => entries.push(entry),
            None if line.is_empty() => {}
            None => eprintln!("skipping line {} of `{}`: it is not an entry", index + 1, path.display()),
        }
    }
    Ok(entries)
}

/// Appends `entry` to the data file as one line, with one write.
fn append_entry(path: &Path, entry: &Entry) -> io::Result<()> {
    let line = encode_entry(entry);
    let mut file = OpenOptions::new().append(true).create(true).open(path)?;
    // In append mode, each write goes to the end of the file in one piece, even when other requests write at the
    // same time. `write_all` could split the line over several writes, between which another line could land.
    let written = file.write(line.as_bytes())?;
    if written != line.len() {
        let reason = format!("wrote only {written} of the {} bytes of the entry", line.len());
        return Err(io::Error::new(ErrorKind::WriteZero, reason));
    }
    Ok(())
}

/// `entry` as a line of the data file, with its line feed.
fn encode_entry(entry: &Entry) -> String {
    format!("{}\t{}\t{}\n", entry.time, escape_field(&entry.name), escape_field(&entry.message))
}

/// The entry in `line` (without its line feed), or `None` if it is not one.
fn decode_entry(line: &str) -> Option<Entry> {
    let mut fields = line.split('\t');
    let time = fields.next()?.parse().ok()?;
    let name = unescape_field(fields.next()?)?;
    let message = unescape_field(fields.next()?)?;
    if fields.next().is_some() {
        return None;
    }
    Some(Entry { time, name, message })
}

fn escape_field(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '\t' => escaped.push_str("\\t"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The text that `escape_field` turned into `field`, or `None` if `field` has an unknown escape.
fn unescape_field(field: &str) -> Option<String> {
    let mut text = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        text.push(match chars.next()? {
            '\\' => '\\',
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            _ => return None,
        });
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, message: &str) -> Form {
        Form { name: name.to_owned(), message: message.to_owned() }
    }

    #[test]
    fn form_fields_are_decoded() {
        let body = b"name=Ada+Lovelace&message=caf%C3%A9+%26+tea%21&submit=";
        assert_eq!(Form::decode(body), Ok(form("Ada Lovelace", "café & tea!")));
    }

    #[test]
    fn form_decoding_keeps_stray_percent_signs_and_plus_signs_written_as_escapes() {
        assert_eq!(decode_component(b"100%"), Ok("100%".to_owned()));
        assert_eq!(decode_component(b"%zz%4"), Ok("%zz%4".to_owned()));
        assert_eq!(decode_component(b"1%2B1%3d2"), Ok("1+1=2".to_owned()));
        assert_eq!(decode_component(b"a%0D%0Ab"), Ok("a\r\nb".to_owned()));
    }

    #[test]
    fn form_decoding_takes_the_first_of_repeated_fields_and_ignores_others() {
        let body = b"&&other=x&name=first&name=second&message";
        assert_eq!(Form::decode(body), Ok(form("first", "")));
        assert_eq!(Form::decode(b""), Ok(Form::default()));
        assert_eq!(decode_form(b"a=1=2&b"), Ok(vec![("a".into(), "1=2".into()), ("b".into(), String::new())]));
    }

    #[test]
    fn form_values_that_are_not_utf8_are_refused() {
        assert_eq!(Form::decode(b"name=%FF&message=hi"), Err(NotUtf8));
        assert_eq!(Form::decode(b"name=\xc3&message=hi"), Err(NotUtf8));
    }

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(escape_html("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(escape_html("Tom & \"Jerry's\""), "Tom &amp; &quot;Jerry&#39;s&quot;");
        assert_eq!(escape_html("plain text, café"), "plain text, café");
    }

    #[test]
    fn a_valid_form_is_trimmed() {
        let signed = validate(&form("  Ada \n", "\r\n Hello,\r\nworld  "));
        assert_eq!(signed, Ok(Signature { name: "Ada".to_owned(), message: "Hello,\nworld".to_owned() }));
    }

    #[test]
    fn validation_names_every_problem() {
        assert_eq!(validate(&form("", "")), Err(vec![Problem::NoName, Problem::NoMessage]));
        assert_eq!(validate(&form(" \t ", "hi")), Err(vec![Problem::NoName]));
        assert_eq!(
            validate(&form(&"n".repeat(61), &"m".repeat(501))),
            Err(vec![Problem::NameTooLong, Problem::MessageTooLong])
        );
        assert_eq!(Problem::NoName.text(), "Please enter your name.");
    }

    #[test]
    fn validation_counts_characters_not_bytes() {
        assert!(validate(&form(&"é".repeat(60), &"日".repeat(500))).is_ok());
        assert_eq!(validate(&form(&"é".repeat(61), "hi")), Err(vec![Problem::NameTooLong]));
    }

    #[test]
    fn entries_survive_a_round_trip_through_the_data_file() {
        let entry =
            Entry { time: 1_700_000_000, name: "A\tB\\".to_owned(), message: "one\ntwo\r\nthree\\n".to_owned() };
        let line = encode_entry(&entry);
        assert_eq!(line, "1700000000\tA\\tB\\\\\tone\\ntwo\\r\\nthree\\\\n\n");
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(decode_entry(line.trim_end_matches('\n')), Some(entry));
    }

    #[test]
    fn lines_that_are_not_entries_are_refused() {
        assert_eq!(decode_entry(""), None);
        assert_eq!(decode_entry("soon\tname\tmessage"), None);
        assert_eq!(decode_entry("1\tname"), None);
        assert_eq!(decode_entry("1\tname\tmessage\textra"), None);
        assert_eq!(decode_entry("1\tname\tbad \\x escape"), None);
        assert_eq!(decode_entry("1\tname\ttrailing \\"), None);
    }

    #[test]
    fn times_are_formatted_in_utc() {
        assert_eq!(format_time(0), ("1970-01-01T00:00:00Z".to_owned(), "1970-01-01 00:00 UTC".to_owned()));
        assert_eq!(format_time(951_825_599).0, "2000-02-29T11:59:59Z");
        assert_eq!(format_time(1_709_251_199).0, "2024-02-29T23:59:59Z");
        assert_eq!(format_time(4_107_542_400).0, "2100-03-01T00:00:00Z");
    }
}
