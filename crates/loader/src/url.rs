//! Modules fetched by URL, a Spin component's `source = { url, digest }`: over HTTPS, checked
//! against the digest the manifest gives, and kept in the content cache under it, so a later
//! start (and `--offline`) fetches nothing.

use crate::cache::ContentCache;
use crate::error::LoadError;
use crate::options::Reach;
use wagi_config::Digest;

/// The bytes at `url`, which must hash to `digest`: from the cache when it holds them.
pub(crate) async fn fetch(
    url: &str,
    expected: Digest,
    cache: &ContentCache,
    reach: Reach,
) -> Result<Vec<u8>, LoadError> {
    let failed = |message: String| LoadError::Url { url: url.to_owned(), message };
    let cache_error = |source| LoadError::Cache { dir: cache.dir().to_owned(), source };
    if let Some(bytes) = cache.get(&expected).await.map_err(cache_error)? {
        return Ok(bytes);
    }
    if reach.offline {
        return Err(LoadError::NotCached { reference: url.to_owned() });
    }
    crate::install_crypto_provider();
    let unreachable =
        |source: reqwest::Error| LoadError::Unreachable { server: format!("`{url}`"), source: Box::new(source) };
    let client = reqwest::Client::builder()
        .connect_timeout(reach.timeout)
        .timeout(reach.timeout)
        .https_only(true)
        .build()
        .map_err(unreachable)?;
    let response = client.get(url).send().await.map_err(unreachable)?;
    if !response.status().is_success() {
        return Err(failed(format!("the server answered {}", response.status())));
    }
    let bytes = response.bytes().await.map_err(unreachable)?.to_vec();
    let actual = Digest::of(&bytes);
    if actual != expected {
        return Err(LoadError::DigestMismatch {
            reference: url.to_owned(),
            expected: expected.to_string(),
            detail: format!("received {} bytes with {actual}", bytes.len()),
        });
    }
    cache.put(&bytes).await.map_err(cache_error)?;
    tracing::info!(%url, %actual, "fetched the module into the cache");
    Ok(bytes)
}
