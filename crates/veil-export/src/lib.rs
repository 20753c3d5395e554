//! Evidence export (E1–E5, `docs/design/export.md`): a package is a tar
//! archive, encrypted with `age` by default, holding one MP4 per camera
//! and interval, `manifest.json` (every file's SHA-256 and the recording
//! chain links, anchored in a signed access-record checkpoint), its OpenSSH
//! signature `manifest.json.sig` made with the export key, `allowed_signers`,
//! the public key, `SHA256SUMS` and `README.txt`. [`package`] builds one in a
//! single streaming pass; [`verify`] checks one without the database.

pub mod key;
pub mod manifest;
pub mod package;
mod readme;
pub mod verify;

pub use key::ExportKey;
pub use package::{Encryption, Plan, Request};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Nothing was recorded (or readable) in the intervals asked for.
    #[error("no recording in the intervals asked for")]
    Empty,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] veil_store::Error),
    /// Writing the package failed.
    #[error("writing the package failed: {0}")]
    Io(String),
    /// The recording chain does not cover the segments yet.
    #[error("recording chain: {0}")]
    Chain(String),
    /// Signing failed.
    #[error("signing the manifest failed: {0}")]
    Key(String),
    /// Re-encoding a video with its redaction boxes failed.
    #[error("redacting the video failed: {0}")]
    Redaction(String),
}
