//! A Spin component's `files`: the host files its paths, globs and `{ source, destination }`
//! tables name, minus `exclude_files`, copied into one directory that the component sees as `/`.
//!
//! The directory is named by a digest of what goes in it (each destination, its source, size and
//! modification time), so an unchanged set is staged once and reused by later starts and
//! reloads, and a changed one never disturbs requests still reading the old one.

use std::path::{Path, PathBuf};

use wagi_config::{FileMount, Files, Location, PathEscape, path_inside};

use wagi_config::Digest;

/// Why a component's files could not be staged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilesError {
    /// A path or glob of `files` or `exclude_files` is not a valid glob.
    #[error("`{pattern}` is not a valid glob: {reason}")]
    Pattern {
        /// The glob as written.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `{ source, destination }` source does not exist.
    #[error("`files` source `{}` does not exist", path.display())]
    MissingSource {
        /// The source, joined to the manifest's directory.
        path: PathBuf,
        /// The `files` entry.
        location: Location,
    },
    /// A source, once `..` and symbolic links are resolved, is outside the manifest's directory.
    #[error("`files` source `{}` resolves outside the manifest's directory `{}`", path.display(), root.display())]
    SourceOutside {
        /// The source as found, before symbolic links are resolved.
        path: PathBuf,
        /// The manifest's directory.
        root: PathBuf,
        /// The `files` entry.
        location: Location,
    },
    /// A destination, or the path a glob found, climbs above the component's `/`.
    #[error("`files` destination `{}` {escape}: a destination must be inside the component's `/`", destination.display())]
    DestinationOutside {
        /// The destination, relative to `/`.
        destination: PathBuf,
        /// How it leaves.
        escape: PathEscape,
        /// The `files` entry.
        location: Location,
    },
    /// A file could not be read or copied.
    #[error("cannot copy `{}` into the component's files", path.display())]
    Copy {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

impl FilesError {
    /// The `files` entry the problem is in, when it is one entry's.
    pub fn location(&self) -> Option<Location> {
        match self {
            Self::MissingSource { location, .. }
            | Self::SourceOutside { location, .. }
            | Self::DestinationOutside { location, .. } => Some(*location),
            Self::Pattern { .. } | Self::Copy { .. } => None,
        }
    }
}

/// One file to stage: where the component sees it, relative to `/`, and where it comes from.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Staged {
    destination: PathBuf,
    /// The source as named, which `exclude_files` matches.
    source: PathBuf,
    /// The source with symbolic links resolved, checked to be inside the manifest's directory:
    /// what is read.
    resolved: PathBuf,
}

/// Copies the files `files` names into a directory under `dir` and returns that directory, to be
/// mounted read-only at `/`.
///
/// Every source must resolve, symbolic links followed, inside `files.root`, and every destination
/// inside the new directory. Files are only ever written into a directory made empty here, never
/// to a source.
pub fn stage_files(files: &Files, dir: &Path) -> Result<PathBuf, FilesError> {
    let exclude = files.exclude.iter().map(|pattern| glob_pattern(pattern)).collect::<Result<Vec<_>, _>>()?;
    let root = files.root.canonicalize().map_err(|source| FilesError::Copy { path: files.root.clone(), source })?;
    let mut staged = Vec::new();
    for mount in &files.mounts {
        match mount {
            FileMount::Pattern { pattern, location } => {
                let full = format!("{}/{pattern}", glob::Pattern::escape(&files.root.to_string_lossy()));
                let matches = glob::glob(&full)
                    .map_err(|error| FilesError::Pattern { pattern: pattern.clone(), reason: error.msg.to_owned() })?;
                for found in matches.flatten() {
                    let relative = found.strip_prefix(&files.root).unwrap_or(&found);
                    let destination = destination_inside(relative, *location)?;
                    let mut collector = Collector { root: &root, location: *location, staged: &mut staged };
                    collector.collect(&found, &destination)?;
                }
            }
            FileMount::Mapped { source, destination, location } => {
                let source = files.root.join(source);
                if !source.exists() {
                    return Err(FilesError::MissingSource { path: source, location: *location });
                }
                let destination = destination_inside(Path::new(destination.trim_start_matches('/')), *location)?;
                Collector { root: &root, location: *location, staged: &mut staged }.collect(&source, &destination)?;
            }
        }
    }
    staged.retain(|file| {
        let relative = file.source.strip_prefix(&files.root).unwrap_or(&file.source);
        !exclude.iter().any(|pattern| pattern.matches_path(relative))
    });
    staged.sort();
    staged.dedup_by(|a, b| a.destination == b.destination);
    let target = dir.join(fingerprint(&staged)?.to_hex());
    if target.is_dir() {
        return Ok(target);
    }
    let scratch = dir.join(format!(".staging-{}", std::process::id()));
    let copy_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FilesError::Copy { path, source }
    };
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(copy_error(&scratch))?;
    // Each destination is normal components only and the scratch directory holds nothing but the
    // directories and regular files made here, so no write can follow a link or `..` out of it.
    for file in &staged {
        let to = scratch.join(&file.destination);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(copy_error(parent))?;
        }
        std::fs::copy(&file.resolved, &to).map_err(copy_error(&file.source))?;
    }
    match std::fs::rename(&scratch, &target) {
        Ok(()) => Ok(target),
        // Another process staged the same files first.
        Err(_) if target.is_dir() => {
            let _ = std::fs::remove_dir_all(&scratch);
            Ok(target)
        }
        Err(source) => Err(FilesError::Copy { path: target, source }),
    }
}

fn glob_pattern(pattern: &str) -> Result<glob::Pattern, FilesError> {
    glob::Pattern::new(pattern)
        .map_err(|error| FilesError::Pattern { pattern: pattern.to_owned(), reason: error.msg.to_owned() })
}

/// `destination` with `.` and `..` resolved, or the error for the `files` entry at `location`.
fn destination_inside(destination: &Path, location: Location) -> Result<PathBuf, FilesError> {
    path_inside(destination).map_err(|escape| FilesError::DestinationOutside {
        destination: destination.to_path_buf(),
        escape,
        location,
    })
}

/// Gathers the files of one `files` entry, each checked to be inside the manifest's directory.
struct Collector<'a> {
    /// The manifest's directory, symbolic links resolved.
    root: &'a Path,
    location: Location,
    staged: &'a mut Vec<Staged>,
}

impl Collector<'_> {
    /// Adds `source` at `destination`: a file, or everything below a directory.
    fn collect(&mut self, source: &Path, destination: &Path) -> Result<(), FilesError> {
        let resolved =
            source.canonicalize().map_err(|error| FilesError::Copy { path: source.to_path_buf(), source: error })?;
        // A symbolic link anywhere on the way, or `..` after one, may lead out of the manifest's
        // directory; only where it really ends counts.
        if !resolved.starts_with(self.root) {
            return Err(FilesError::SourceOutside {
                path: source.to_path_buf(),
                root: self.root.to_path_buf(),
                location: self.location,
            });
        }
        if !resolved.is_dir() {
            self.staged.push(Staged { destination: destination.to_path_buf(), source: source.to_path_buf(), resolved });
            return Ok(());
        }
        let entries = std::fs::read_dir(source)
            .map_err(|error| FilesError::Copy { path: source.to_path_buf(), source: error })?;
        for entry in entries {
            let entry = entry.map_err(|error| FilesError::Copy { path: source.to_path_buf(), source: error })?;
            self.collect(&entry.path(), &destination.join(entry.file_name()))?;
        }
        Ok(())
    }
}

/// The digest of what is staged: each destination and resolved source with the source's size and
/// modification time, so an edited file makes a new directory.
fn fingerprint(staged: &[Staged]) -> Result<Digest, FilesError> {
    let mut text = String::new();
    for file in staged {
        let metadata = std::fs::metadata(&file.resolved)
            .map_err(|error| FilesError::Copy { path: file.source.clone(), source: error })?;
        let modified = metadata.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        text.push_str(&format!(
            "{}\0{}\0{}\0{}\n",
            file.destination.display(),
            file.resolved.display(),
            metadata.len(),
            modified.map_or(0, |t| t.as_nanos())
        ));
    }
    Ok(Digest::of(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_globs_and_mapped_directories_are_staged_without_the_excluded() {
        let root = tempfile::tempdir().expect("temp dir");
        let write = |path: &str, text: &str| {
            let path = root.path().join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dirs");
            std::fs::write(path, text).expect("write");
        };
        write("index.html", "index");
        write("static/a.css", "a");
        write("static/sub/b.css", "b");
        write("static/skip.bak", "skip");
        write("assets/logo.svg", "logo");
        let location = wagi_config::Location::default();
        let files = Files {
            root: root.path().to_path_buf(),
            mounts: vec![
                FileMount::Pattern { pattern: "index.html".to_owned(), location },
                FileMount::Pattern { pattern: "static/**/*".to_owned(), location },
                FileMount::Mapped { source: "assets".into(), destination: "/img".to_owned(), location },
            ],
            exclude: vec!["**/*.bak".to_owned()],
        };
        let cache = tempfile::tempdir().expect("temp dir");
        let staged = stage_files(&files, cache.path()).expect("staged");
        let read = |path: &str| std::fs::read_to_string(staged.join(path)).ok();
        assert_eq!(read("index.html").as_deref(), Some("index"));
        assert_eq!(read("static/a.css").as_deref(), Some("a"));
        assert_eq!(read("static/sub/b.css").as_deref(), Some("b"));
        assert_eq!(read("img/logo.svg").as_deref(), Some("logo"));
        assert_eq!(read("static/skip.bak"), None);
        assert_eq!(stage_files(&files, cache.path()).expect("staged again"), staged, "an unchanged set is reused");
    }

    /// A manifest directory `app/` with `index.html`, a secret beside it in `outside/`, and the
    /// staging directory `deep/er/cache/`, all in one temporary directory: deep enough that an
    /// escape this module failed to stop would still land inside it.
    struct Escape {
        dir: tempfile::TempDir,
    }

    impl Escape {
        fn new() -> Self {
            let escape = Self { dir: tempfile::tempdir().expect("temp dir") };
            for (path, text) in [("app/index.html", "index"), ("outside/secret.txt", "secret")] {
                let path = escape.dir.path().join(path);
                std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dirs");
                std::fs::write(path, text).expect("write");
            }
            escape
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        fn stage(&self, mounts: Vec<FileMount>) -> Result<PathBuf, FilesError> {
            let files = Files { root: self.path("app"), mounts, exclude: Vec::new() };
            stage_files(&files, &self.path("deep/er/cache"))
        }

        /// Every path below the temporary directory with the content of each file, links not
        /// followed.
        fn snapshot(&self) -> Vec<(PathBuf, Option<Vec<u8>>)> {
            fn walk(path: &Path, out: &mut Vec<(PathBuf, Option<Vec<u8>>)>) {
                let metadata = std::fs::symlink_metadata(path).expect("metadata");
                if metadata.is_dir() {
                    for entry in std::fs::read_dir(path).expect("read dir") {
                        walk(&entry.expect("entry").path(), out);
                    }
                }
                out.push((path.to_path_buf(), metadata.is_file().then(|| std::fs::read(path).expect("read"))));
            }
            let mut out = Vec::new();
            walk(self.dir.path(), &mut out);
            out.sort();
            out
        }

        /// Stages `mounts`, which must fail, and checks that nothing was written anywhere.
        fn refused(&self, mounts: Vec<FileMount>) -> FilesError {
            let before = self.snapshot();
            let error = self.stage(mounts).expect_err("refused");
            assert_eq!(self.snapshot(), before, "staging wrote something: {error}");
            error
        }
    }

    fn mapped(source: &str, destination: &str) -> Vec<FileMount> {
        let location = wagi_config::Location { line: 7, col: 3 };
        vec![FileMount::Mapped { source: source.into(), destination: destination.to_owned(), location }]
    }

    fn pattern(pattern: &str) -> Vec<FileMount> {
        let location = wagi_config::Location { line: 7, col: 3 };
        vec![FileMount::Pattern { pattern: pattern.to_owned(), location }]
    }

    #[test]
    fn a_destination_that_climbs_out_of_the_staging_directory_is_refused() {
        let escape = Escape::new();
        let error = escape.refused(mapped("index.html", "/../../../x.txt"));
        assert!(matches!(error, FilesError::DestinationOutside { escape: PathEscape::ClimbsOut, .. }), "{error:?}");
        assert_eq!(error.location(), Some(wagi_config::Location { line: 7, col: 3 }));
    }

    #[test]
    fn a_destination_that_names_its_own_source_is_refused_and_the_source_is_kept() {
        let escape = Escape::new();
        // From `deep/er/cache/.staging-PID/`, this is `app/index.html` itself.
        let error = escape.refused(mapped("index.html", "/../../../../app/index.html"));
        assert!(matches!(error, FilesError::DestinationOutside { .. }), "{error:?}");
        assert_eq!(std::fs::read_to_string(escape.path("app/index.html")).expect("read"), "index");
    }

    #[test]
    fn a_glob_that_yields_paths_above_the_manifest_is_refused() {
        let escape = Escape::new();
        let error = escape.refused(pattern("../outside/*"));
        assert!(matches!(error, FilesError::DestinationOutside { .. }), "{error:?}");
    }

    #[test]
    fn an_absolute_source_is_refused() {
        let escape = Escape::new();
        let secret = escape.path("outside/secret.txt");
        let error = escape.refused(mapped(&secret.to_string_lossy(), "/secret.txt"));
        assert!(matches!(error, FilesError::SourceOutside { .. }), "{error:?}");
    }

    #[test]
    fn a_source_that_climbs_out_of_the_manifest_directory_is_refused() {
        let escape = Escape::new();
        let error = escape.refused(mapped("../outside/secret.txt", "/secret.txt"));
        assert!(matches!(error, FilesError::SourceOutside { .. }), "{error:?}");
        let error = escape.refused(mapped("..", "/all"));
        assert!(matches!(error, FilesError::SourceOutside { .. }), "{error:?}");
    }

    #[test]
    fn a_symlink_source_that_points_out_of_the_manifest_directory_is_refused() {
        let escape = Escape::new();
        std::os::unix::fs::symlink(escape.path("outside/secret.txt"), escape.path("app/secret.txt")).expect("link");
        std::os::unix::fs::symlink(escape.path("outside"), escape.path("app/linked")).expect("link");
        for mounts in [
            pattern("secret.txt"),
            pattern("*"),
            pattern("linked/*"),
            mapped("secret.txt", "/s.txt"),
            mapped("linked", "/l"),
            mapped(".", "/"),
        ] {
            let error = escape.refused(mounts.clone());
            assert!(matches!(error, FilesError::SourceOutside { .. }), "{mounts:?}: {error:?}");
        }
    }

    #[test]
    fn a_symlink_that_stays_inside_the_manifest_directory_is_staged() {
        let escape = Escape::new();
        std::os::unix::fs::symlink(escape.path("app/index.html"), escape.path("app/alias.html")).expect("link");
        let staged = escape.stage(mapped("alias.html", "/a/../home.html")).expect("staged");
        assert_eq!(std::fs::read_to_string(staged.join("home.html")).expect("read"), "index");
    }
}
