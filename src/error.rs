//! The crate's error type: every variant names the file, field or value at fault.

use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    // The OS error is shown, not chained as a source: `{:#}` would print it twice.
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },
    #[error("invalid config {origin}: {message}")]
    Config { origin: String, message: String },
    #[error("unknown task `{name}` (known tasks: {known})")]
    UnknownTask { name: String, known: String },
    #[error("invalid action: {0}")]
    InvalidAction(String),
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), error: source }
    }
}
