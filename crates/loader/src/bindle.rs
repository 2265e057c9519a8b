//! Bindles: invoices and parcels from a Bindle server or a directory of standalone bindles.
//!
//! The server protocol WAGI needs is two GETs under the base URL (which includes `/v1`):
//! `_i/{name}/{version}` for the invoice TOML and `_i/{name}/{version}@{sha256}` for a parcel.
//! A standalone bindle is `DIR/<sha256 of "name/version">/invoice.toml` with
//! `parcels/<sha256>.dat`. Parcels are verified against their sha256 either way; those from a
//! server are kept in the content cache, as are invoices, which are immutable once published.

use std::path::{Component, Path, PathBuf};

use wagi_config::{Invoice, Parcel};

use crate::cache::ContentCache;
use crate::error::LoadError;
use crate::options::{BindleOptions, BindleSource, Reach};
use wagi_config::Digest;

impl BindleSource {
    fn standalone_dir(dir: &Path, id: &str) -> PathBuf {
        dir.join(Digest::of(id.as_bytes()).to_hex())
    }

    fn url(base: &str, path: &str) -> String {
        format!("{}/_i/{path}", base.trim_end_matches('/'))
    }
}

/// Reads and parses the invoice of bindle `id`.
pub(crate) async fn invoice(
    source: &BindleSource,
    id: &str,
    cache: &ContentCache,
    reach: Reach,
    options: &BindleOptions,
) -> Result<Invoice, LoadError> {
    let (text, name) = match source {
        BindleSource::Directory(dir) => {
            let path = BindleSource::standalone_dir(dir, id).join("invoice.toml");
            let bytes = tokio::fs::read(&path).await.map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => {
                    LoadError::BindleNotFound { id: id.to_owned(), at: dir.display().to_string() }
                }
                _ => LoadError::Read { path: path.clone(), source },
            })?;
            (bytes, path.display().to_string())
        }
        BindleSource::Server(base) => {
            let url = BindleSource::url(base, id);
            (server_invoice(base, &url, id, cache, reach, options).await?, url)
        }
    };
    let text = String::from_utf8(text).map_err(|_| LoadError::Bindle {
        id: id.to_owned(),
        message: format!("the invoice at {name} is not UTF-8 text"),
    })?;
    Invoice::parse(&text, &name).map_err(LoadError::Invoice)
}

/// An invoice from the cache if it was fetched before, else from the server (then cached).
async fn server_invoice(
    base: &str,
    url: &str,
    id: &str,
    cache: &ContentCache,
    reach: Reach,
    options: &BindleOptions,
) -> Result<Vec<u8>, LoadError> {
    let key = format!("bindle/{url}");
    let cache_error = |source| LoadError::Cache { dir: cache.dir().to_owned(), source };
    if let Some(digest) = cache.recorded_name(&key).await.map_err(cache_error)?
        && let Some(bytes) = cache.get(&digest).await.map_err(cache_error)?
    {
        return Ok(bytes);
    }
    if reach.offline {
        return Err(LoadError::NotCached { reference: format!("bindle {id}") });
    }
    let bytes = get(base, url, reach, options)
        .await?
        .ok_or_else(|| LoadError::BindleNotFound { id: id.to_owned(), at: base.to_owned() })?;
    let digest = cache.put(&bytes).await.map_err(cache_error)?;
    cache.record_name(&key, &digest).await.map_err(cache_error)?;
    Ok(bytes)
}

/// The verified content of `parcel`.
pub(crate) async fn parcel(
    source: &BindleSource,
    parcel: &Parcel,
    cache: &ContentCache,
    reach: Reach,
    options: &BindleOptions,
) -> Result<Vec<u8>, LoadError> {
    let expected = parcel.sha256;
    let missing = |at: String| LoadError::MissingParcel {
        id: parcel.bindle.clone(),
        name: parcel.name.clone(),
        sha256: parcel.sha256.to_hex(),
        at,
    };
    let bytes = match source {
        BindleSource::Directory(dir) => {
            let path = BindleSource::standalone_dir(dir, &parcel.bindle)
                .join("parcels")
                .join(format!("{}.dat", parcel.sha256.to_hex()));
            match tokio::fs::read(&path).await {
                Ok(bytes) => bytes,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    return Err(missing(path.display().to_string()));
                }
                Err(source) => return Err(LoadError::Read { path, source }),
            }
        }
        BindleSource::Server(base) => {
            let cache_error = |source| LoadError::Cache { dir: cache.dir().to_owned(), source };
            if let Some(bytes) = cache.get(&expected).await.map_err(cache_error)? {
                return Ok(bytes);
            }
            if reach.offline {
                return Err(LoadError::NotCached {
                    reference: format!("parcel `{}` of bindle {}", parcel.name, parcel.bindle),
                });
            }
            let url = BindleSource::url(base, &format!("{}@{}", parcel.bindle, parcel.sha256.to_hex()));
            let bytes = get(base, &url, reach, options).await?.ok_or_else(|| missing(base.clone()))?;
            if Digest::of(&bytes) == expected {
                cache.put(&bytes).await.map_err(cache_error)?;
            }
            bytes
        }
    };
    let actual = Digest::of(&bytes);
    if actual != expected {
        return Err(LoadError::DigestMismatch {
            reference: format!("parcel `{}` of bindle {}", parcel.name, parcel.bindle),
            expected: expected.to_string(),
            detail: format!("got {actual}"),
        });
    }
    Ok(bytes)
}

/// Writes each asset parcel to `dir/<label name>`, atomically; names that would leave `dir` are
/// refused.
pub(crate) async fn place_assets(
    source: &BindleSource,
    assets: &[Parcel],
    dir: &Path,
    cache: &ContentCache,
    reach: Reach,
    options: &BindleOptions,
) -> Result<(), LoadError> {
    for asset in assets {
        let relative = Path::new(&asset.name);
        if relative.as_os_str().is_empty() || !relative.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(LoadError::Bindle {
                id: asset.bindle.clone(),
                message: format!("asset name `{}` must be a relative path without `..`", asset.name),
            });
        }
        let bytes = parcel(source, asset, cache, reach, options).await?;
        let path = dir.join(relative);
        crate::cache::write_atomically(&path, &bytes)
            .await
            .map_err(|source| LoadError::Cache { dir: dir.to_owned(), source })?;
    }
    Ok(())
}

/// GETs `url`; `None` when the server answers 404.
async fn get(base: &str, url: &str, reach: Reach, options: &BindleOptions) -> Result<Option<Vec<u8>>, LoadError> {
    crate::install_crypto_provider();
    let unreachable =
        |source: reqwest::Error| LoadError::Unreachable { server: base.to_owned(), source: Box::new(source) };
    let client = reqwest::Client::builder()
        .connect_timeout(reach.timeout)
        .timeout(reach.timeout)
        .danger_accept_invalid_certs(options.accept_invalid_certs)
        .build()
        .map_err(unreachable)?;
    let mut request = client.get(url).header(reqwest::header::ACCEPT, "application/toml");
    if let Some((user, password)) = &options.credentials {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.map_err(unreachable)?;
    match response.status() {
        status if status.is_success() => Ok(Some(response.bytes().await.map_err(unreachable)?.to_vec())),
        reqwest::StatusCode::NOT_FOUND => Ok(None),
        reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN => {
            Err(LoadError::BindleUnauthorized { server: base.to_owned() })
        }
        status => Err(LoadError::Bindle { id: url.to_owned(), message: format!("the server answered {status}") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REACH: Reach = Reach { offline: false, timeout: std::time::Duration::from_secs(30) };

    #[tokio::test]
    async fn asset_names_that_would_leave_the_asset_directory_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let id = "site/1.0.0";
        let content = b"an asset";
        let sha256 = Digest::of(content);
        // The parcel is there, so only the name check stands between it and the disk.
        let parcels = BindleSource::standalone_dir(&dir.path().join("bindles"), id).join("parcels");
        std::fs::create_dir_all(&parcels).expect("create dirs");
        std::fs::write(parcels.join(format!("{}.dat", sha256.to_hex())), content).expect("write parcel");
        let source = BindleSource::Directory(dir.path().join("bindles"));
        let cache = ContentCache::new(dir.path().join("cache"));
        let assets_dir = dir.path().join("assets").join("site");
        let absolute = dir.path().join("absolute.txt").display().to_string();
        for name in ["../escape.txt", "a/../../escape.txt", "../../escape.txt", absolute.as_str(), ""] {
            let asset = Parcel { bindle: id.to_owned(), name: name.to_owned(), sha256 };
            let result = place_assets(&source, &[asset], &assets_dir, &cache, REACH, &BindleOptions::default()).await;
            assert!(matches!(result, Err(LoadError::Bindle { .. })), "{name:?}: {result:?}");
        }
        for written in ["assets/escape.txt", "escape.txt", "absolute.txt"] {
            assert!(!dir.path().join(written).exists(), "{written} was written");
        }
        let asset = Parcel { bindle: id.to_owned(), name: "static/a.txt".to_owned(), sha256 };
        place_assets(&source, &[asset], &assets_dir, &cache, REACH, &BindleOptions::default()).await.expect("placed");
        assert_eq!(std::fs::read(assets_dir.join("static/a.txt")).expect("read"), content);
    }
}
