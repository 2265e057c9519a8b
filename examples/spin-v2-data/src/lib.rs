//! A Spin app written with spin-sdk 3 (a WASI 0.2 `wasi:http` component), as apps built before
//! spin-sdk 7 are: it keeps a counter in the `default` key-value store and rows in the `default`
//! SQLite database, and reads its `greeting` variable, through Spin's `fermyon:spin/*@2.0.0`
//! interfaces. `GET /` answers one line for each.

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;
use spin_sdk::key_value::Store;
use spin_sdk::sqlite::{Connection, Value};
use spin_sdk::variables;

#[http_component]
fn handle(_request: Request) -> anyhow::Result<impl IntoResponse> {
    let greeting = variables::get("greeting")?;

    let store = Store::open_default()?;
    let count = store.get("count")?.map_or(0, |bytes| String::from_utf8_lossy(&bytes).parse::<u64>().unwrap_or(0)) + 1;
    store.set("count", count.to_string().as_bytes())?;

    let connection = Connection::open_default()?;
    connection.execute("CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY, note TEXT)", &[])?;
    connection.execute("INSERT INTO visits (note) VALUES (?)", &[Value::Text(format!("visit {count}"))])?;
    let rows = connection.execute("SELECT count(*) AS n FROM visits", &[])?;
    let visits = rows.rows().next().and_then(|row| row.get::<i64>("n")).unwrap_or(0);

    let body = format!("{greeting}\ncount: {count}\nrows: {visits}\n");
    Ok(Response::builder().status(200).header("content-type", "text/plain").body(body).build())
}
