//! A to-do list as a Spin application would write it, with spin-sdk 7 (a WASI 0.3 `wasi:http`
//! component): its items are rows in the `default` SQLite database, it counts its visits in the
//! `default` key-value store, and its title comes from the application variable `title`, through
//! the component variable of the same name. `spin.toml` beside it serves it.
//!
//! - `GET /` answers the page: the title, the items, a form adding one, and the visits so far;
//! - `GET /add?text=TEXT` adds an item (a bound parameter, stored as it is) and goes back to `/`;
//! - `GET /items` answers the items as text, one a line;
//! - `GET /visit` counts a visit, as the page does, and answers the count;
//! - `GET /hits` counts a hit with the standard `wasi:keyvalue` (`atomics.increment`) in the same
//!   default store, and answers the count; `GET /wasi-kv` runs its other calls (batch, compare
//!   and swap, key listing) in turn and answers what each gave;
//! - `GET /sql/forever` sets `forever` to `started` in the key-value store and runs a statement
//!   that never ends, `GET /sql/other` opens a database the
//!   component did not declare (403 with Spin's error);
//! - `GET /variable/NAME` answers the component variable `NAME`, or 404 with Spin's error when
//!   the component has none (and 400 for a name that is not one);
//! - `GET /kv/OP?key=K&value=V&store=LABEL` runs one key-value operation (`get`, `set`,
//!   `delete`, `exists`, `keys`) on the store `LABEL` (`default` unless given); a store the
//!   component may not open answers 403 with Spin's error.

use spin_sdk::http::{HeaderMap, HeaderValue, IntoResponse, Request, StatusCode};
use spin_sdk::http_service;
use spin_sdk::key_value::{self, Store};
use spin_sdk::sqlite::{self, Connection, Value};
use spin_sdk::variables::{self, Error};

#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let (status, body) = answer(&request).await;
    let mut headers = HeaderMap::new();
    if status == StatusCode::SEE_OTHER {
        headers.insert("location", HeaderValue::from_static("/"));
    } else if body.starts_with("<!doctype html>") {
        headers.insert("content-type", HeaderValue::from_static("text/html; charset=utf-8"));
    }
    (status, headers, body)
}

async fn answer(request: &Request) -> (StatusCode, String) {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    if let Some(name) = path.strip_prefix("/variable/") {
        return match variables::get(name).await {
            Ok(value) => (StatusCode::OK, value),
            Err(error @ Error::InvalidName(_)) => (StatusCode::BAD_REQUEST, format!("{error:?}\n")),
            Err(error @ Error::Undefined(_)) => (StatusCode::NOT_FOUND, format!("{error:?}\n")),
            Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error:?}\n")),
        };
    }
    if let Some(operation) = path.strip_prefix("/kv/") {
        return key_value_operation(operation, &query).await;
    }
    let answer = match path.as_str() {
        "/add" => add(&parameter(&query, "text").unwrap_or_default()).await.map(|()| (StatusCode::SEE_OTHER, String::new())),
        "/hits" => hits().map(|hits| (StatusCode::OK, format!("{hits}\n"))),
        "/wasi-kv" => wasi_key_value().map(|report| (StatusCode::OK, report)),
        "/visit" => count_visit().await.map(|visits| (StatusCode::OK, format!("{visits}\n"))).map_err(|e| format!("{e:?}")),
        "/items" => items().await.map(|items| (StatusCode::OK, items.iter().map(|item| format!("{item}\n")).collect())),
        "/sql/forever" => forever().await.map(|()| (StatusCode::OK, "it ended\n".to_owned())),
        "/sql/other" => match Connection::open("other").await {
            Ok(_) => Ok((StatusCode::OK, "opened\n".to_owned())),
            Err(error @ sqlite::Error::AccessDenied) => Ok((StatusCode::FORBIDDEN, format!("{error:?}\n"))),
            Err(error) => Err(format!("{error:?}")),
        },
        "/" => page().await.map(|page| (StatusCode::OK, page)),
        _ => Ok((StatusCode::NOT_FOUND, "not found\n".to_owned())),
    };
    answer.unwrap_or_else(|error| (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")))
}

/// The page: title, items, the form and the visit count.
async fn page() -> Result<String, String> {
    let title = variables::get("title").await.unwrap_or_else(|error| format!("(no title: {error:?})"));
    let visits = count_visit().await.map_err(|error| format!("{error:?}"))?;
    let items: String = items().await?.iter().map(|item| format!("<li>{}</li>\n", escape(item))).collect();
    let title = escape(&title);
    Ok(format!(
        "<!doctype html>\n<title>{title}</title>\n<h1>{title}</h1>\n<ul id=\"items\">\n{items}</ul>\n\
         <form action=\"/add\" method=\"get\"><label>New item <input name=\"text\" id=\"text\" required></label> <button type=\"submit\" id=\"add\">Add</button></form>\n\
         <p id=\"visits\">{visits}</p>\n"
    ))
}

/// The database, with its table.
async fn database() -> Result<Connection, String> {
    let connection = Connection::open_default().await.map_err(|error| format!("{error:?}"))?;
    let create = "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, text TEXT NOT NULL)";
    connection.execute(create, []).await.map_err(|error| format!("{error:?}"))?.collect().await.map_err(|error| format!("{error:?}"))?;
    Ok(connection)
}

async fn add(text: &str) -> Result<(), String> {
    let connection = database().await?;
    let insert = connection.execute("INSERT INTO items (text) VALUES (?)", [Value::Text(text.to_owned())]).await;
    insert.map_err(|error| format!("{error:?}"))?.collect().await.map_err(|error| format!("{error:?}"))?;
    Ok(())
}

async fn items() -> Result<Vec<String>, String> {
    let connection = database().await?;
    let rows = connection.execute("SELECT text FROM items ORDER BY id", []).await.map_err(|error| format!("{error:?}"))?;
    let rows = rows.collect().await.map_err(|error| format!("{error:?}"))?;
    Ok(rows.iter().filter_map(|row| row.get::<&str>(0).map(str::to_owned)).collect())
}

/// A recursive query that counts forever; `forever` in the key-value store says it started.
async fn forever() -> Result<(), String> {
    let connection = database().await?;
    let store = Store::open_default().await.map_err(|error| format!("{error:?}"))?;
    store.set("forever", "started").await.map_err(|error| format!("{error:?}"))?;
    let statement = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n";
    let rows = connection.execute(statement, []).await.map_err(|error| format!("{error:?}"))?;
    rows.collect().await.map_err(|error| format!("{error:?}"))?;
    Ok(())
}

use spin_sdk::experimental::wasi::keyvalue::{atomics, batch, store as wasi_store};

/// Adds one to `hits` through `wasi:keyvalue`.
fn hits() -> Result<i64, String> {
    let bucket = wasi_store::open("default").map_err(|error| format!("{error:?}"))?;
    atomics::increment(&bucket, "hits", 1).map_err(|error| format!("{error:?}"))
}

/// Each of `wasi:keyvalue`'s other calls, and what it gave, a line each.
fn wasi_key_value() -> Result<String, String> {
    let failed = |error: wasi_store::Error| format!("{error:?}");
    let bucket = wasi_store::open("default").map_err(failed)?;
    let mut report = String::new();
    batch::set_many(&bucket, &[("a".to_owned(), b"1".to_vec()), ("b".to_owned(), b"2".to_vec())]).map_err(failed)?;
    let many = batch::get_many(&bucket, &["a".to_owned(), "b".to_owned(), "none".to_owned()]).map_err(failed)?;
    let shown: Vec<String> = many
        .iter()
        .map(|(key, value)| format!("{key}={}", value.as_deref().map_or("-".into(), String::from_utf8_lossy)))
        .collect();
    report.push_str(&format!("get-many: {}\n", shown.join(" ")));
    batch::delete_many(&bucket, &["a".to_owned()]).map_err(failed)?;
    report.push_str(&format!("exists a after delete-many: {}\n", bucket.exists("a").map_err(failed)?));
    let cas = atomics::Cas::new(&bucket, "b").map_err(failed)?;
    bucket.set("b", b"changed meanwhile").map_err(failed)?;
    let cas = match atomics::swap(cas, b"3") {
        Err(atomics::CasError::CasFailed(renewed)) => {
            report.push_str("swap after a change: failed\n");
            renewed
        }
        other => return Err(format!("swap after a change: {other:?}")),
    };
    atomics::swap(cas, b"3").map_err(|error| format!("{error:?}"))?;
    let b = bucket.get("b").map_err(failed)?.unwrap_or_default();
    report.push_str(&format!("b after swap: {}\n", String::from_utf8_lossy(&b)));
    let mut keys = bucket.list_keys(None).map_err(failed)?.keys;
    keys.sort();
    report.push_str(&format!("keys: {}\n", keys.join(",")));
    Ok(report)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Adds one to the `visits` counter in the default store and returns it.
async fn count_visit() -> Result<u64, key_value::Error> {
    let store = Store::open_default().await?;
    let visits = match store.get("visits").await? {
        Some(bytes) => String::from_utf8_lossy(&bytes).parse::<u64>().unwrap_or(0),
        None => 0,
    } + 1;
    store.set("visits", visits.to_string()).await?;
    Ok(visits)
}

async fn key_value_operation(operation: &str, query: &str) -> (StatusCode, String) {
    let label = parameter(query, "store").unwrap_or_else(|| "default".to_owned());
    let store = match Store::open(&label).await {
        Ok(store) => store,
        Err(error @ key_value::Error::AccessDenied) => return (StatusCode::FORBIDDEN, format!("{error:?}\n")),
        Err(error) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("{error:?}\n")),
    };
    let key = parameter(query, "key").unwrap_or_default();
    let result = match operation {
        "get" => store.get(&key).await.map(|value| match value {
            Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            None => "(none)".to_owned(),
        }),
        "set" => store.set(&key, parameter(query, "value").unwrap_or_default()).await.map(|()| "ok".to_owned()),
        "delete" => store.delete(&key).await.map(|()| "ok".to_owned()),
        "exists" => store.exists(&key).await.map(|exists| exists.to_string()),
        "keys" => store.get_keys().await.collect().await.map(|mut keys| {
            keys.sort();
            keys.join(",")
        }),
        _ => return (StatusCode::NOT_FOUND, format!("no operation `{operation}`\n")),
    };
    match result {
        Ok(text) => (StatusCode::OK, text),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error:?}\n")),
    }
}

/// The value of `name` in a query string, with `+` and `%XX` decoded.
fn parameter(query: &str, name: &str) -> Option<String> {
    let raw = query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))?;
    let mut bytes = Vec::with_capacity(raw.len());
    let mut rest = raw.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        match (byte, tail) {
            (b'+', _) => bytes.push(b' '),
            (b'%', [high, low, ..]) if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                let hex = [*high, *low];
                bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
                rest = &tail[2..];
                continue;
            }
            _ => bytes.push(byte),
        }
        rest = tail;
    }
    String::from_utf8(bytes).ok()
}
