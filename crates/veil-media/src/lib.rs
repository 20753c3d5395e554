//! Veil's media layer: H.264 parsing (Annex B splitting, SPS parsing, AVC conversion),
//! progressive MP4 and fragmented MP4 (MSE live view, with decode times derived for
//! B-frame streams) muxing, motion detection on decoded keyframes, and the
//! synthetic camera.
//! It works on bytes only and knows nothing about storage, HTTP or SQL.

#![warn(missing_docs)]

pub mod h264;
#[cfg(feature = "libav")]
pub mod libav;
pub mod live;
pub mod mask;
pub mod masking;
pub mod motion;
pub mod mp4;
pub mod redaction;
pub mod synthetic;

pub use h264::VideoParams;

/// Errors produced by the media layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input bytes are not a valid H.264 stream, NAL unit or parameter set.
    #[error("malformed H.264 data: {0}")]
    Malformed(String),
    /// The video encoder failed or produced unexpected output.
    #[error("video codec error: {0}")]
    Codec(String),
    /// A configuration value is out of the supported range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The stream uses a feature this crate does not support.
    #[error("unsupported H.264 feature: {0}")]
    Unsupported(String),
}
