//! Compiled modules kept on disk, so a restart deserializes instead of compiling.

use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use wasmtime::component::Component;
use wasmtime::{Engine, Module, Precompiled};

use crate::engine::{Compiled, CompiledModule, Runtime};
use crate::error::Error;

/// A directory of compiled modules, one file per module digest and engine configuration.
///
/// The file name includes a hash of everything that makes compiled code compatible with an
/// engine (wasmtime version, target, settings), so an upgrade or a configuration change never
/// loads stale code. Each file starts with the sha256 of the code that follows: a corrupted
/// file is recompiled, never loaded. Files are written to a temporary name and renamed, so
/// several processes can share the directory. The directory must be writable only by the user
/// wagi runs as: loading compiled code trusts it as much as the wagi binary itself.
#[derive(Clone, Debug)]
pub struct ArtifactCache {
    dir: PathBuf,
}

/// Where a compiled module came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArtifactOrigin {
    /// Loaded from the artifact cache.
    Cache,
    /// Compiled now (and stored, when a cache is configured).
    Compiled,
}

const CHECKSUM_LEN: usize = 32;

impl ArtifactCache {
    /// A cache in `dir`, created on first write.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Whether code compiled by `runtime`'s engine for `module_key` is stored here (it may
    /// still turn out unusable when loaded).
    pub fn holds(&self, runtime: &Runtime, module_key: &str) -> bool {
        [&runtime.engine, &runtime.concurrent.engine].iter().any(|engine| self.path_for(engine, module_key).is_file())
    }

    fn path_for(&self, engine: &Engine, module_key: &str) -> PathBuf {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir.join(format!("{module_key}-{:016x}.cwasm", hasher.finish()))
    }
}

impl Runtime {
    /// Compiles `wasm` (see [`Runtime::compile`]), or loads the code compiled for it earlier
    /// from `cache`. `module_key` names the module's content (its digest).
    pub fn compile_cached(
        &self,
        wasm: &[u8],
        module_key: &str,
        cache: &ArtifactCache,
        reused: bool,
    ) -> Result<(CompiledModule, ArtifactOrigin), Error> {
        let engine = self.engine_for(wasm, reused);
        let path = cache.path_for(engine, module_key);
        match load(engine, &path) {
            Ok(Some(code)) => return Ok((CompiledModule::new(code, wasm), ArtifactOrigin::Cache)),
            Ok(None) => {}
            Err(reason) => tracing::warn!(path = %path.display(), %reason, "recompiling an unusable artifact"),
        }
        let module = self.compile(wasm, reused)?;
        let serialized = match &module.code {
            Compiled::Module(module) => module.serialize(),
            Compiled::Component(component) => component.serialize(),
        };
        match serialized {
            Ok(code) => {
                if let Err(error) = store(&path, &code) {
                    tracing::warn!(path = %path.display(), %error, "cannot store a compiled module");
                }
            }
            Err(error) => tracing::warn!(error = %format!("{error:#}"), "cannot serialize a compiled module"),
        }
        Ok((module, ArtifactOrigin::Compiled))
    }
}

/// Loads an artifact: `Ok(None)` when there is none, `Err` when it is corrupted or stale.
fn load(engine: &Engine, path: &Path) -> Result<Option<Compiled>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.to_string()),
    };
    let (checksum, code) = bytes.split_at_checked(CHECKSUM_LEN).ok_or("truncated file")?;
    if Sha256::digest(code).as_slice() != checksum {
        return Err("checksum mismatch".to_owned());
    }
    // SAFETY: `deserialize` trusts that the bytes are code wasmtime produced. These bytes were
    // written by `store` from `Module::serialize` or `Component::serialize` and verified
    // against their checksum above, so they are exactly what an engine serialized; wasmtime
    // itself rejects code produced by an incompatible engine or version, or of the other kind.
    #[allow(unsafe_code)]
    let compiled = unsafe {
        match Engine::detect_precompiled(code) {
            Some(Precompiled::Component) => Component::deserialize(engine, code).map(Compiled::Component),
            _ => Module::deserialize(engine, code).map(Compiled::Module),
        }
    };
    compiled.map(Some).map_err(|error| format!("{error:#}"))
}

fn store(path: &Path, code: &[u8]) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| io::Error::other("artifact path has no directory"))?;
    std::fs::create_dir_all(dir)?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let mut bytes = Vec::with_capacity(CHECKSUM_LEN + code.len());
    bytes.extend_from_slice(&Sha256::digest(code));
    bytes.extend_from_slice(code);
    std::fs::write(&temp, &bytes)?;
    std::fs::rename(&temp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineOptions;

    const WAT: &str = r#"(module (func (export "_start")))"#;

    fn runtime() -> Runtime {
        let options = EngineOptions { max_instances: 4, max_memory: 1 << 20, ..EngineOptions::default() };
        Runtime::new(&options).expect("engine")
    }

    #[test]
    fn artifacts_are_reused_and_bad_ones_recompiled() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = ArtifactCache::new(dir.path());
        let runtime = runtime();
        let wasm = wat::parse_str(WAT).expect("valid WAT");
        let origin = |runtime: &Runtime| runtime.compile_cached(&wasm, "key", &cache, false).expect("compiles").1;

        assert_eq!(origin(&runtime), ArtifactOrigin::Compiled);
        assert_eq!(origin(&runtime), ArtifactOrigin::Cache);
        let path = cache.path_for(&runtime.engine, "key");

        // A flipped byte fails the checksum: recompiled, then the rewritten file loads again.
        let mut bytes = std::fs::read(&path).expect("artifact");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).expect("corrupt");
        assert_eq!(origin(&runtime), ArtifactOrigin::Compiled);
        assert_eq!(origin(&runtime), ArtifactOrigin::Cache);

        // Code from an engine with other settings, under this engine's name and with a valid
        // checksum, is rejected by wasmtime and recompiled.
        let mut other_config = wasmtime::Config::new();
        other_config.epoch_interruption(false).cranelift_opt_level(wasmtime::OptLevel::None);
        let other = Engine::new(&other_config).expect("other engine");
        let stale = Module::new(&other, &wasm).expect("compiles").serialize().expect("serializes");
        store(&path, &stale).expect("store stale");
        assert_eq!(origin(&runtime), ArtifactOrigin::Compiled);
        assert_eq!(origin(&runtime), ArtifactOrigin::Cache);
    }
}
