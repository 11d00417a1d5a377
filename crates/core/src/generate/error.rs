//! Why generation fails: [`GenerateError`], and the two helpers that attach the path being
//! written to an I/O or CSV error.

use std::path::{Path, PathBuf};

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A setting is out of range.
    #[error("invalid generator setting `{field}`: {reason}")]
    InvalidConfig {
        /// The setting, as named in [`GenerateConfig`](super::GenerateConfig).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A file or directory could not be created or written.
    #[error("cannot write {path}")]
    Io {
        /// The file or directory, as the generator named it (inside the output directory).
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file could not be written.
    #[error("cannot write CSV file {path}")]
    Csv {
        /// The CSV file being written.
        path: PathBuf,
        /// What the CSV writer reported (an I/O failure underneath, in practice).
        #[source]
        source: csv::Error,
    },
    /// A JSON file could not be written.
    #[error("cannot write JSON file {path}")]
    Json {
        /// The JSON file being written (a product page or the generation report).
        path: PathBuf,
        /// What the JSON serialiser reported.
        #[source]
        source: serde_json::Error,
    },
}

/// Turns an I/O error on `path` into [`GenerateError::Io`] (for `map_err`).
pub(super) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> GenerateError + '_ {
    move |source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Turns a CSV writer's error on `path` into [`GenerateError::Csv`] (for `map_err`).
pub(super) fn csv_error(path: &Path) -> impl FnOnce(csv::Error) -> GenerateError + '_ {
    move |source| GenerateError::Csv {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::generate;
    use crate::generate::tests::config;

    #[test]
    fn unwritable_output_reports_the_path_and_keeps_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, "x").unwrap();
        let error = generate(&config(), &blocker.join("out")).unwrap_err();
        match &error {
            GenerateError::Io { path, .. } => assert!(path.starts_with(&blocker)),
            other => panic!("unexpected {other:?}"),
        }
        assert!(std::error::Error::source(&error).is_some());
    }
}
