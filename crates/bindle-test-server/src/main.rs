//! A real Bindle server for wagi's end-to-end tests: the reference server code of the `bindle`
//! crate, on a free loopback port, seeded with standalone bindles.
//!
//! Usage: `wagi-bindle-test-server DATA_DIR STANDALONE_DIR BINDLE_ID...`. Each bindle is read
//! from `STANDALONE_DIR/<sha256(id)>/` (`invoice.toml` and `parcels/<sha256>.dat`), signed by a
//! creator key the server trusts, and pushed with the `bindle` client. Then the server's base URL
//! is printed as `Serving http://127.0.0.1:PORT/v1` and it serves until killed.
//!
//! This crate exists only so that tests talk to the real server; wagi fetches bindles with two
//! plain HTTP GETs and never links the `bindle` crate.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bindle::authn::always::AlwaysAuthenticate;
use bindle::authz::always::AlwaysAuthorize;
use bindle::client::Client;
use bindle::client::tokens::NoToken;
use bindle::invoice::signature::{KeyEntry, KeyRing, SecretKeyEntry, SecretKeyFile, SignatureRole};
use bindle::provider::file::FileProvider;
use bindle::search::StrictEngine;
use bindle::{Invoice, VerificationStrategy};

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data, standalone, ids @ ..] = args.as_slice() else {
        bail!("usage: wagi-bindle-test-server DATA_DIR STANDALONE_DIR BINDLE_ID...");
    };
    let creator = SecretKeyEntry::new("Test Creator <creator@example.com>", vec![SignatureRole::Creator]);
    let host = SecretKeyEntry::new("Test Host <host@example.com>", vec![SignatureRole::Host]);
    let mut keyring = KeyRing::default();
    keyring.add_entry(KeyEntry::try_from(&creator)?);
    keyring.add_entry(KeyEntry::try_from(&host)?);
    let mut secrets = SecretKeyFile::default();
    secrets.key.push(host);

    let addr = free_addr()?;
    let index = StrictEngine::default();
    let store = FileProvider::new(PathBuf::from(data), index.clone()).await;
    let server = tokio::spawn(bindle::server::server(
        store,
        index,
        AlwaysAuthenticate,
        AlwaysAuthorize,
        addr,
        None,
        secrets,
        VerificationStrategy::default(),
        keyring.clone(),
    ));
    wait_until_listening(addr)?;

    let base = format!("http://{addr}/v1");
    let client = Client::new(&format!("{base}/"), NoToken, Arc::new(keyring))?;
    for id in ids {
        push(&client, Path::new(standalone), id, &creator).await.with_context(|| format!("cannot push `{id}`"))?;
    }
    println!("Serving {base}");
    server.await??;
    Ok(())
}

/// Signs the standalone bindle `id` as its creator and pushes its invoice and parcels.
async fn push(client: &Client<NoToken>, standalone: &Path, id: &str, creator: &SecretKeyEntry) -> Result<()> {
    let dir = standalone.join(bindle::Id::try_from(id)?.sha());
    let mut invoice: Invoice = bindle::client::load::toml(dir.join("invoice.toml")).await?;
    invoice.sign(SignatureRole::Creator, creator)?;
    let created = client.create_invoice(invoice).await?;
    for label in created.missing.unwrap_or_default() {
        let bytes = tokio::fs::read(dir.join("parcels").join(format!("{}.dat", label.sha256))).await?;
        client.create_parcel(id, &label.sha256, bytes).await?;
    }
    Ok(())
}

fn free_addr() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn wait_until_listening(addr: SocketAddr) -> Result<()> {
    let started = Instant::now();
    while TcpStream::connect(addr).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("the bindle server did not listen on {addr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
