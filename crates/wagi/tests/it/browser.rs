//! The guestbook and the Spin to-do list in a real browser: headless Chromium, driven over
//! WebDriver (Debian's `chromium` and `chromium-driver`, through `fantoccini`), does what a
//! visitor does and the test checks what they would see.
//!
//! Without Chromium the test is skipped with a loud line, unless `CI` is set: then it fails.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::guestbook::{built, guestbook_site};
use crate::redis_server::RedisServer;
use crate::spin_data::{site_manifest, todo_module};
use crate::support::{Server, Site, TIMEOUT};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A `chromedriver` on a free loopback port, stopped by its process id when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// Starts chromedriver and waits for the line saying it listens.
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let mut child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let stdout = child.stdout.take().expect("chromedriver's stdout");
        let (started, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("started successfully") && started.send(()).is_err() {
                    return;
                }
            }
        });
        let mut driver = Self { child, url: format!("http://127.0.0.1:{port}") };
        if lines.recv_timeout(TIMEOUT).is_err() {
            let _ = driver.child.kill();
            panic!("chromedriver did not start");
        }
        driver
    }

    /// A new headless browser session.
    async fn session(&self, profile: &Path) -> Client {
        let mut capabilities = serde_json::Map::new();
        let args = [
            "--headless".to_owned(),
            // The tests run as root, which Chromium's sandbox refuses.
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            // No connections the test did not ask for: this machine reaches only loopback.
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--window-size=900,1000".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        capabilities.insert("goog:chromeOptions".to_owned(), json!({ "binary": CHROMIUM, "args": args }));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector).capabilities(capabilities).connect(&self.url).await.expect("a browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether Chromium and its driver are installed; without them the test returns at once.
fn chromium_installed() -> bool {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    assert!(
        !in_ci,
        "CI is set, but {CHROMIUM} or {CHROMEDRIVER} is missing: `apt-get install chromium chromium-driver`"
    );
    eprintln!("\n*** SKIPPED the browser test: `apt-get install chromium chromium-driver` to run it ***\n");
    false
}

/// Fills the guestbook's form with `name` and `message`, submits it, and waits until the browser
/// shows the document that came back, fully loaded.
///
/// The guestbook answers a signature with a redirect to the same URL, so the URL cannot tell the
/// old page from the new one: a mark set on the old document can, since the new one lacks it. No
/// element of the old document is asked about once the form is submitted: while the browser
/// navigates, Chromium answers questions about one with errors of several kinds.
async fn sign(browser: &Client, name: &str, message: &str) {
    submit(browser, &[("name", name), ("message", message)]).await;
}

/// Fills the page's form with `fields`, submits it, and waits until the browser shows the
/// document that came back, fully loaded (see [`sign`]).
async fn submit(browser: &Client, fields: &[(&str, &str)]) {
    browser.execute("document.documentElement.dataset.old = 'yes'", vec![]).await.expect("mark the old page");
    let form = browser.form(Locator::Css("form")).await.expect("the form");
    for (name, value) in fields {
        form.set_by_name(name, value).await.unwrap_or_else(|e| panic!("fill in {name}: {e}"));
    }
    form.submit().await.expect("submit the form");
    poll_until("the new page finished loading", || async {
        // A script sent while the browser navigates may fail; the next poll asks again.
        let state = browser
            .execute("return [document.documentElement.dataset.old === undefined, document.readyState]", vec![])
            .await;
        state.is_ok_and(|state| state == json!([true, "complete"]))
    })
    .await;
}

/// Asks `done` again every few milliseconds until it says yes, failing the test after `TIMEOUT`.
async fn poll_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let mut ticks = tokio::time::interval(POLL);
    loop {
        ticks.tick().await;
        if done().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "not within {TIMEOUT:?}: {what}");
    }
}

/// How often a condition on the page is checked again.
const POLL: Duration = Duration::from_millis(20);

/// The text of the first element `css` selects, waiting for one to appear.
async fn text_of(browser: &Client, css: &str) -> String {
    let element = browser
        .wait()
        .at_most(TIMEOUT)
        .every(POLL)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no `{css}`: {e}"));
    element.text().await.expect("text")
}

#[test]
fn a_visitor_signs_the_guestbook_in_a_browser() {
    if !built() || !chromium_installed() {
        return;
    }
    let site = guestbook_site();
    let server = Server::start(&site, &[], &[]);
    let driver = Driver::start();
    let page = format!("http://{}/guestbook", server.addr);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let screenshot = runtime.block_on(async {
        let browser = driver.session(&site.path("chromium-profile")).await;
        browser.goto(&page).await.expect("open the guestbook");
        assert_eq!(browser.title().await.expect("the title"), "Guestbook");
        // The stylesheet from the static-file module applied.
        let background = browser
            .execute("return getComputedStyle(document.body).backgroundColor", vec![])
            .await
            .expect("the computed style");
        assert_eq!(background, json!("rgb(246, 244, 239)"));
        let logo_width =
            browser.execute("return document.querySelector('img').naturalWidth", vec![]).await.expect("the logo");
        assert!(logo_width.as_u64().is_some_and(|width| width > 0), "the logo did not load: {logo_width}");

        // Signing redirects back to the page, which shows the new entry first.
        sign(&browser, "Ada", "Hello from a browser").await;
        assert_eq!(browser.current_url().await.expect("the URL").as_str(), page);
        assert_eq!(text_of(&browser, ".entry .message").await, "Hello from a browser");
        assert_eq!(text_of(&browser, ".entry .name").await, "Ada");

        // Markup in a message is shown as text: no script runs, no dialog opens.
        sign(&browser, "Mallory", "<script>alert(1)</script>").await;
        assert_eq!(text_of(&browser, ".entry .message").await, "<script>alert(1)</script>");
        assert!(browser.get_alert_text().await.is_err(), "a dialog opened");
        let scripts = browser.execute("return document.scripts.length", vec![]).await.expect("the scripts");
        assert_eq!(scripts, json!(0));

        // An empty form is refused with a message, and nothing is added.
        sign(&browser, "", "").await;
        assert!(text_of(&browser, ".error").await.contains("Please enter your name."));
        let entries = browser.find_all(Locator::Css(".entry")).await.expect("the entries");
        assert_eq!(entries.len(), 2);

        browser.goto(&page).await.expect("open the guestbook again");
        let screenshot = browser.screenshot().await.expect("a screenshot");
        browser.close().await.expect("close the browser");
        screenshot
    });
    assert!(screenshot.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
    // What the visitor saw, for docs/images/guestbook.png.
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/guestbook.png");
    std::fs::write(out, screenshot).expect("write the screenshot");
}

/// The texts of every element `css` selects.
async fn texts_of(browser: &Client, css: &str) -> Vec<String> {
    let mut texts = Vec::new();
    for element in browser.find_all(Locator::Css(css)).await.expect("the elements") {
        texts.push(element.text().await.expect("text"));
    }
    texts
}

#[test]
fn a_visitor_keeps_a_to_do_list_that_outlives_a_restart_with_sqlite_and_with_redis() {
    let Some(module) = todo_module() else { return };
    if !chromium_installed() {
        return;
    }
    let driver = Driver::start();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    for backend in ["sqlite", "redis"] {
        let site = Site::new();
        let manifest = site_manifest(&site, &module, "");
        // With Redis, the visit counter lives there; the items are rows in SQLite either way.
        let redis = (backend == "redis").then(RedisServer::start);
        let mut args = Vec::new();
        if let Some(redis) = &redis {
            let config = format!("[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n", redis.url());
            let path = site.write("runtime-config.toml", config);
            args = vec!["--runtime-config-file".to_owned(), path.display().to_string()];
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env = [("SPIN_VARIABLE_TITLE", "Groceries")];

        let server = Server::start_with_config(&site, &manifest, &args, &env);
        let page = format!("http://{}/", server.addr);
        runtime.block_on(async {
            let browser = driver.session(&site.path("chromium-profile")).await;
            browser.goto(&page).await.expect("open the list");
            assert_eq!(browser.title().await.expect("the title"), "Groceries", "{backend}");
            assert_eq!(text_of(&browser, "#visits").await, "1");
            submit(&browser, &[("text", "milk")]).await;
            submit(&browser, &[("text", "<b>bread</b> & butter")]).await;
            assert_eq!(texts_of(&browser, "#items li").await, ["milk", "<b>bread</b> & butter"], "{backend}");
            assert_eq!(text_of(&browser, "#visits").await, "3");
            browser.close().await.expect("close the browser");
        });
        drop(server);

        let server = Server::start_with_config(&site, &manifest, &args, &env);
        let page = format!("http://{}/", server.addr);
        runtime.block_on(async {
            let browser = driver.session(&site.path("chromium-profile-2")).await;
            browser.goto(&page).await.expect("open the list after the restart");
            assert_eq!(texts_of(&browser, "#items li").await, ["milk", "<b>bread</b> & butter"], "{backend}");
            assert_eq!(text_of(&browser, "#visits").await, "4", "{backend}");
            browser.close().await.expect("close the browser");
        });
    }
}
