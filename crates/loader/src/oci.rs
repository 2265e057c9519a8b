//! Modules from OCI registries: a manifest naming one wasm layer, fetched into the content cache.
//!
//! A tag is resolved to its manifest digest at every online load (so a moved tag is seen at the
//! next start) and recorded in the cache, which `--offline` loads use instead. A pinned reference
//! (`@sha256:…`) is never resolved: its manifest and layer come from the cache when they are
//! there and intact, so a warm start makes no registry request at all.

use std::net::IpAddr;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use wagi_config::OciReference;

use crate::cache::ContentCache;
use crate::error::LoadError;
use crate::options::{Reach, RegistryOptions};
use wagi_config::Digest;

/// The layer media type `wasm-to-oci` (and the original WAGI) uses.
pub(crate) const WASM_LAYER_V1: &str = "application/vnd.wasm.content.layer.v1+wasm";
/// The layer media type of the CNCF wasm OCI artifact layout (`wkg`, `oci-wasm`).
pub(crate) const WASM_LAYER_CNCF: &str = "application/wasm";
/// Layer media types that hold a wasm module.
const WASM_LAYERS: [&str; 2] = [WASM_LAYER_V1, WASM_LAYER_CNCF];
/// Manifest media types that describe one artifact (not an index of several).
const MANIFEST_TYPES: [&str; 2] =
    ["application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"];

/// Fetches the wasm layer `reference` names, through `cache`.
pub(crate) async fn fetch(
    reference: &OciReference,
    cache: &ContentCache,
    reach: Reach,
    options: &RegistryOptions,
) -> Result<Vec<u8>, LoadError> {
    let registry = Registry::new(reference, reach, options)?;
    let manifest_digest = match &reference.digest {
        Some(pinned) => *pinned,
        None if reach.offline => cached_tag(reference, cache).await?,
        None => registry.resolve_tag(reference, cache).await?,
    };
    let manifest = match cache_get(cache, &manifest_digest).await? {
        Some(bytes) => bytes,
        None if reach.offline => return Err(LoadError::NotCached { reference: reference.text.clone() }),
        None => registry.fetch_manifest(reference, &manifest_digest, cache).await?,
    };
    let layer = wasm_layer(reference, &manifest)?;
    let layer_digest = parse_digest(reference, &layer.digest)?;
    match cache_get(cache, &layer_digest).await? {
        Some(bytes) => Ok(bytes),
        None if reach.offline => Err(LoadError::NotCached { reference: reference.text.clone() }),
        None => registry.fetch_layer(reference, &layer, &layer_digest, cache).await,
    }
}

/// One registry, with the protocol and credentials the options give it.
struct Registry {
    client: Client,
    auth: RegistryAuth,
    /// The reference with the registry's own spelling, for building digest references.
    name: String,
}

impl Registry {
    fn new(reference: &OciReference, reach: Reach, options: &RegistryOptions) -> Result<Self, LoadError> {
        crate::install_crypto_provider();
        let plain_http =
            options.insecure.iter().any(|host| host == &reference.registry) || is_loopback(&reference.registry);
        let protocol = if plain_http { ClientProtocol::Http } else { ClientProtocol::Https };
        let config = ClientConfig {
            protocol,
            connect_timeout: Some(reach.timeout),
            read_timeout: Some(reach.timeout),
            ..ClientConfig::default()
        };
        let client = Client::try_from(config).map_err(|error| registry_error(reference, error))?;
        Ok(Self { client, auth: credentials(&reference.registry, options), name: reference.registry.clone() })
    }

    fn at_digest(&self, reference: &OciReference, digest: &Digest) -> Reference {
        Reference::with_digest(self.name.clone(), reference.repository.clone(), digest.to_string())
    }

    /// Asks the registry which manifest the tag names now, keeps that manifest and records the tag.
    async fn resolve_tag(&self, reference: &OciReference, cache: &ContentCache) -> Result<Digest, LoadError> {
        let tag = reference.tag.clone().unwrap_or_else(|| "latest".to_owned());
        let tagged = Reference::with_tag(self.name.clone(), reference.repository.clone(), tag);
        let (bytes, _) = self
            .client
            .pull_manifest_raw(&tagged, &self.auth, &MANIFEST_TYPES)
            .await
            .map_err(|error| registry_error(reference, error))?;
        let digest = cache_put(cache, &bytes).await?;
        cache.record_name(&tag_key(reference), &digest).await.map_err(|source| cache_error(cache, source))?;
        tracing::debug!(reference = %reference, %digest, "resolved tag");
        Ok(digest)
    }

    async fn fetch_manifest(
        &self,
        reference: &OciReference,
        digest: &Digest,
        cache: &ContentCache,
    ) -> Result<Vec<u8>, LoadError> {
        let (bytes, _) = self
            .client
            .pull_manifest_raw(&self.at_digest(reference, digest), &self.auth, &MANIFEST_TYPES)
            .await
            .map_err(|error| fetch_error(reference, digest, error))?;
        verified(reference, digest, bytes.to_vec(), cache).await
    }

    async fn fetch_layer(
        &self,
        reference: &OciReference,
        layer: &OciDescriptor,
        digest: &Digest,
        cache: &ContentCache,
    ) -> Result<Vec<u8>, LoadError> {
        let mut bytes = Vec::with_capacity(usize::try_from(layer.size).unwrap_or(0).min(64 << 20));
        self.client
            .pull_blob(&self.at_digest(reference, digest), layer, &mut bytes)
            .await
            .map_err(|error| fetch_error(reference, digest, error))?;
        verified(reference, digest, bytes, cache).await
    }
}

/// Checks fetched content against the digest it was asked for, then keeps it.
async fn verified(
    reference: &OciReference,
    expected: &Digest,
    bytes: Vec<u8>,
    cache: &ContentCache,
) -> Result<Vec<u8>, LoadError> {
    let actual = Digest::of(&bytes);
    if actual != *expected {
        return Err(LoadError::DigestMismatch {
            reference: reference.text.clone(),
            expected: expected.to_string(),
            detail: format!("got {actual}"),
        });
    }
    cache_put(cache, &bytes).await?;
    Ok(bytes)
}

/// The one layer of the manifest that holds the module.
fn wasm_layer(reference: &OciReference, manifest: &[u8]) -> Result<OciDescriptor, LoadError> {
    let manifest: OciImageManifest = serde_json::from_slice(manifest).map_err(|error| LoadError::Registry {
        reference: reference.text.clone(),
        message: format!("the manifest is not an OCI image manifest: {error}"),
    })?;
    let media_types: Vec<&str> = manifest.layers.iter().map(|layer| layer.media_type.as_str()).collect();
    manifest.layers.iter().find(|layer| WASM_LAYERS.contains(&layer.media_type.as_str())).cloned().ok_or_else(|| {
        LoadError::UnsupportedMediaType {
            reference: reference.text.clone(),
            found: if media_types.is_empty() { "no layers".to_owned() } else { media_types.join(", ") },
        }
    })
}

fn parse_digest(reference: &OciReference, text: &str) -> Result<Digest, LoadError> {
    Digest::parse(text).ok_or_else(|| LoadError::Registry {
        reference: reference.text.clone(),
        message: format!("unsupported digest `{text}` (only sha256 is supported)"),
    })
}

/// The name under which a tag's last known manifest digest is recorded.
fn tag_key(reference: &OciReference) -> String {
    let tag = reference.tag.as_deref().unwrap_or("latest");
    format!("oci/{}/{}:{tag}", reference.registry, reference.repository)
}

async fn cached_tag(reference: &OciReference, cache: &ContentCache) -> Result<Digest, LoadError> {
    cache
        .recorded_name(&tag_key(reference))
        .await
        .map_err(|source| cache_error(cache, source))?
        .ok_or_else(|| LoadError::NotCached { reference: reference.text.clone() })
}

async fn cache_get(cache: &ContentCache, digest: &Digest) -> Result<Option<Vec<u8>>, LoadError> {
    cache.get(digest).await.map_err(|source| cache_error(cache, source))
}

async fn cache_put(cache: &ContentCache, bytes: &[u8]) -> Result<Digest, LoadError> {
    cache.put(bytes).await.map_err(|source| cache_error(cache, source))
}

fn cache_error(cache: &ContentCache, source: std::io::Error) -> LoadError {
    LoadError::Cache { dir: cache.dir().to_owned(), source }
}

/// Explicit credentials first, then the Docker configuration (file or credential helper), else
/// anonymous.
fn credentials(registry: &str, options: &RegistryOptions) -> RegistryAuth {
    if let Some((user, password)) = &options.credentials {
        return RegistryAuth::Basic(user.clone(), password.clone());
    }
    let server = if matches!(registry, "docker.io" | "index.docker.io" | "registry-1.docker.io") {
        "https://index.docker.io/v1/"
    } else {
        registry
    };
    match docker_credential::get_credential(server) {
        Ok(docker_credential::DockerCredential::UsernamePassword(user, password)) => {
            RegistryAuth::Basic(user, password)
        }
        Ok(docker_credential::DockerCredential::IdentityToken(_)) => {
            tracing::warn!(
                registry,
                "the Docker configuration holds an identity token, which wagi cannot use; pulling anonymously"
            );
            RegistryAuth::Anonymous
        }
        Err(
            docker_credential::CredentialRetrievalError::ConfigNotFound
            | docker_credential::CredentialRetrievalError::ConfigReadError
            | docker_credential::CredentialRetrievalError::NoCredentialConfigured,
        ) => RegistryAuth::Anonymous,
        Err(error) => {
            tracing::warn!(registry, %error, "cannot read Docker credentials; pulling anonymously");
            RegistryAuth::Anonymous
        }
    }
}

/// `localhost`, `127.0.0.0/8` and `[::1]`, with or without a port: plain HTTP is allowed there.
fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => registry.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A failure fetching content by `digest`: a digest error means the content did not match it.
fn fetch_error(reference: &OciReference, digest: &Digest, error: OciDistributionError) -> LoadError {
    match error {
        OciDistributionError::DigestError(detail) => LoadError::DigestMismatch {
            reference: reference.text.clone(),
            expected: digest.to_string(),
            detail: detail.to_string(),
        },
        other => registry_error(reference, other),
    }
}

/// Says what a registry failure means for the operator: no access, not there, not reachable,
/// corrupted on the way, or something else the registry said.
fn registry_error(reference: &OciReference, error: OciDistributionError) -> LoadError {
    let text = reference.text.clone();
    let registry = reference.registry.clone();
    match error {
        OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => {
            LoadError::Unauthorized { reference: text, registry }
        }
        OciDistributionError::ServerError { code: 401 | 403, .. } => {
            LoadError::Unauthorized { reference: text, registry }
        }
        OciDistributionError::ServerError { code: 404, .. } | OciDistributionError::ImageManifestNotFoundError(_) => {
            LoadError::NotFound { reference: text, registry }
        }
        OciDistributionError::RegistryError { envelope, .. }
            if envelope.errors.iter().any(|e| {
                matches!(
                    e.code,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound
                )
            }) =>
        {
            LoadError::NotFound { reference: text, registry }
        }
        OciDistributionError::RegistryError { envelope, .. }
            if envelope.errors.iter().any(|e| matches!(e.code, OciErrorCode::Unauthorized | OciErrorCode::Denied)) =>
        {
            LoadError::Unauthorized { reference: text, registry }
        }
        OciDistributionError::DigestError(detail) => LoadError::DigestMismatch {
            reference: text,
            expected: "sent by the registry".to_owned(),
            detail: detail.to_string(),
        },
        OciDistributionError::RequestError(source) if source.is_connect() || source.is_timeout() => {
            LoadError::Unreachable { server: format!("registry `{registry}`"), source: Box::new(source) }
        }
        OciDistributionError::RequestError(source) => LoadError::Request { reference: text, source: Box::new(source) },
        other => LoadError::Registry { reference: text, message: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_may_use_plain_http() {
        for registry in ["localhost:5000", "127.0.0.1:41234", "127.1.2.3", "[::1]:5000", "LOCALHOST"] {
            assert!(is_loopback(registry), "{registry}");
        }
        for registry in ["example.com", "10.0.0.1:5000", "[2001:db8::1]:5000", "localhost.example.com"] {
            assert!(!is_loopback(registry), "{registry}");
        }
    }

    #[test]
    fn only_wasm_layers_are_accepted() {
        let reference = OciReference {
            text: "oci://r/x:1".into(),
            registry: "r".into(),
            repository: "x".into(),
            tag: Some("1".into()),
            digest: None,
        };
        let manifest = |media_type: &str| {
            format!(
                r#"{{"schemaVersion":2,"config":{{"mediaType":"application/vnd.wasm.config.v1+json","digest":"sha256:{0}","size":2}},
                "layers":[{{"mediaType":"{media_type}","digest":"sha256:{0}","size":8}}]}}"#,
                "ab".repeat(32)
            )
        };
        for media_type in WASM_LAYERS {
            assert_eq!(
                wasm_layer(&reference, manifest(media_type).as_bytes()).expect("wasm layer").media_type,
                media_type
            );
        }
        let error = wasm_layer(&reference, manifest("application/vnd.oci.image.layer.v1.tar+gzip").as_bytes())
            .expect_err("a container image");
        assert_eq!(
            error.to_string(),
            "`oci://r/x:1` holds no wasm module: its layers are application/vnd.oci.image.layer.v1.tar+gzip; \
             expected application/vnd.wasm.content.layer.v1+wasm or application/wasm"
        );
    }
}
