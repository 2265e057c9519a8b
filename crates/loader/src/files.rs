//! A Spin component's `files`: the host files its paths, globs and `{ source, destination }`
//! tables name, minus `exclude_files`, copied into one directory that the component sees as `/`.
//!
//! The directory is named by a digest of what goes in it (each destination, its source, size and
//! modification time), so an unchanged set is staged once and reused by later starts and
//! reloads, and a changed one never disturbs requests still reading the old one.

use std::path::{Path, PathBuf};

use wagi_config::{FileMount, Files};

use crate::digest::Digest;

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
    #[error("`files` source `{}` does not exist", .0.display())]
    MissingSource(PathBuf),
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

/// One file to stage: where the component sees it, relative to `/`, and where it comes from.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Staged {
    destination: PathBuf,
    source: PathBuf,
}

/// Copies the files `files` names into a directory under `dir` and returns that directory, to be
/// mounted read-only at `/`.
pub fn stage_files(files: &Files, dir: &Path) -> Result<PathBuf, FilesError> {
    let exclude = files.exclude.iter().map(|pattern| glob_pattern(pattern)).collect::<Result<Vec<_>, _>>()?;
    let mut staged = Vec::new();
    for mount in &files.mounts {
        match mount {
            FileMount::Pattern { pattern, .. } => {
                let full = format!("{}/{pattern}", glob::Pattern::escape(&files.root.to_string_lossy()));
                let matches = glob::glob(&full)
                    .map_err(|error| FilesError::Pattern { pattern: pattern.clone(), reason: error.msg.to_owned() })?;
                for found in matches.flatten() {
                    let relative = found.strip_prefix(&files.root).unwrap_or(&found).to_path_buf();
                    collect(&found, &relative, &mut staged)?;
                }
            }
            FileMount::Mapped { source, destination, .. } => {
                let source = files.root.join(source);
                if !source.exists() {
                    return Err(FilesError::MissingSource(source));
                }
                collect(&source, Path::new(destination.trim_start_matches('/')), &mut staged)?;
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
    for file in &staged {
        let to = scratch.join(&file.destination);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(copy_error(parent))?;
        }
        std::fs::copy(&file.source, &to).map_err(copy_error(&file.source))?;
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

/// Adds `source` at `destination`: a file, or everything below a directory.
fn collect(source: &Path, destination: &Path, staged: &mut Vec<Staged>) -> Result<(), FilesError> {
    if !source.is_dir() {
        staged.push(Staged { destination: destination.to_path_buf(), source: source.to_path_buf() });
        return Ok(());
    }
    let entries =
        std::fs::read_dir(source).map_err(|error| FilesError::Copy { path: source.to_path_buf(), source: error })?;
    for entry in entries {
        let entry = entry.map_err(|error| FilesError::Copy { path: source.to_path_buf(), source: error })?;
        collect(&entry.path(), &destination.join(entry.file_name()), staged)?;
    }
    Ok(())
}

/// The digest of what is staged: each destination and source with the source's size and
/// modification time, so an edited file makes a new directory.
fn fingerprint(staged: &[Staged]) -> Result<Digest, FilesError> {
    let mut text = String::new();
    for file in staged {
        let metadata = std::fs::metadata(&file.source)
            .map_err(|error| FilesError::Copy { path: file.source.clone(), source: error })?;
        let modified = metadata.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        text.push_str(&format!(
            "{}\0{}\0{}\0{}\n",
            file.destination.display(),
            file.source.display(),
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
}
