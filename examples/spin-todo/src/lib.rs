//! A to-do list as a Spin application would write it, with spin-sdk 7 (a WASI 0.3 `wasi:http`
//! component): its title comes from the application variable `title`, through the component
//! variable of the same name. `spin.toml` beside it serves it.
//!
//! - `GET /` answers a page headed by the title;
//! - `GET /variable/NAME` answers the component variable `NAME`, or 404 with Spin's error when
//!   the component has none (and 400 for a name that is not one).

use spin_sdk::http::{IntoResponse, Request, StatusCode};
use spin_sdk::http_service;
use spin_sdk::variables::{self, Error};

#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let path = request.uri().path().to_owned();
    if let Some(name) = path.strip_prefix("/variable/") {
        return match variables::get(name).await {
            Ok(value) => (StatusCode::OK, value),
            Err(error @ Error::InvalidName(_)) => (StatusCode::BAD_REQUEST, format!("{error:?}\n")),
            Err(error @ Error::Undefined(_)) => (StatusCode::NOT_FOUND, format!("{error:?}\n")),
            Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error:?}\n")),
        };
    }
    let title = variables::get("title").await.unwrap_or_else(|error| format!("(no title: {error:?})"));
    (StatusCode::OK, format!("<!doctype html>\n<title>{title}</title>\n<h1>{title}</h1>\n"))
}
