//! The access log's file: appended to, and reopened on SIGUSR1 so that logrotate can move it
//! away and have wagi write to a new one.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wagi_server::AccessLog;

/// An access log written to a file at `path`.
#[derive(Debug)]
pub(crate) struct LogFile {
    path: PathBuf,
    log: Arc<AccessLog>,
}

impl LogFile {
    /// `log`, writing to the file at `path`.
    pub(crate) fn new(path: &Path, log: Arc<AccessLog>) -> Self {
        Self { path: path.to_owned(), log }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the path again: the lines buffered so far go to the old file, later ones to the
    /// file now at the path, created if it was moved away.
    pub(crate) fn reopen(&self) -> std::io::Result<()> {
        self.log.reopen(Box::new(append(&self.path)?));
        Ok(())
    }
}

/// Opens `path` for appending, creating it if needed.
pub(crate) fn append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}
