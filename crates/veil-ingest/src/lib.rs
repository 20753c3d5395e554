//! Camera ingest: pulls H.264 from IP cameras over RTSP (TCP interleaved or
//! UDP) with the `retina` client and feeds the recorder (segmenter, live hub,
//! store). Owns reconnecting with backoff, per-camera status, gaps as separate
//! runs, the recording gate (continuous, scheduled, motion) and keeping
//! credentials out of logs; not HTTP or SQL (decoding is `veil-media`'s).

#![warn(missing_docs)]

pub mod backoff;
mod detect;
pub mod gate;
pub mod managed;
pub mod redact;
mod rtsp;
pub mod status;
mod supervisor;
pub mod tls;
mod tracks;

use std::fmt;
use std::time::Duration;

pub use gate::{MotionSettings, RecordingMode};
pub use rtsp::spawn_rtsp;
pub use status::{CameraStatus, IngestState, StatusBoard};
pub use supervisor::Supervisor;

use veil_base::CameraId;

/// How RTP packets travel from the camera.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RtspTransport {
    /// Interleaved in the RTSP TCP connection (default: works through NAT and
    /// firewalls, no packet loss).
    #[default]
    Tcp,
    /// Separate UDP ports (lower latency on a LAN; lost packets are lost).
    Udp,
}

/// A camera's login. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password (kept out of every log line, status and error).
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &"<redacted>")
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What one RTSP camera's ingest needs.
#[derive(Clone, Debug)]
pub struct RtspSource {
    /// The camera row.
    pub camera: CameraId,
    /// `rtsp://host[:port]/path`, without user-info (see [`redact`]).
    pub url: String,
    /// Login, if the camera asks for one.
    pub credentials: Option<Credentials>,
    /// RTP transport (`rtsps://` needs TCP).
    pub transport: RtspTransport,
    /// For `rtsps://`: accept exactly the certificate with this SHA-256
    /// fingerprint instead of verifying it against the public roots.
    pub tls_fingerprint: Option<[u8; 32]>,
    /// Target segment duration.
    pub segment_90k: i64,
    /// Timing of reconnects and the stall watchdog.
    pub timing: IngestTiming,
    /// What is recorded (live view always gets every frame).
    pub recording: RecordingMode,
    /// Which streams besides video are set up and recorded (none by default).
    pub extra: ExtraStreams,
}

/// The camera streams recorded besides video. Both are off unless the camera
/// is configured with a documented purpose; a stream that is off is never set
/// up, so its packets never reach Veil.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExtraStreams {
    /// Record the audio stream (AAC only; another codec is reported in the
    /// status and not recorded).
    pub audio: bool,
    /// Record the ONVIF metadata stream.
    pub metadata: bool,
}

/// Timeouts and backoff of one camera's ingest.
#[derive(Clone, Debug)]
pub struct IngestTiming {
    /// Time allowed for connecting and DESCRIBE/SETUP/PLAY.
    pub connect_timeout: Duration,
    /// A stream with no frame for this long is considered stalled and reconnected.
    pub stall_timeout: Duration,
    /// First reconnect delay (before jitter).
    pub backoff_base: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
}

impl Default for IngestTiming {
    fn default() -> Self {
        IngestTiming {
            connect_timeout: Duration::from_secs(15),
            stall_timeout: Duration::from_secs(10),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// Splits `user:password@` out of a camera URL: returns the URL without it and
/// the credentials it held (percent-decoded), if any. Refuses anything but
/// `rtsp://` and `rtsps://` URLs with a host.
pub fn split_url_credentials(raw: &str) -> Result<(String, Option<Credentials>), String> {
    let mut url = url::Url::parse(raw).map_err(|e| {
        format!(
            "invalid camera URL {:?}: {e}",
            redact::strip_credentials(raw)
        )
    })?;
    if !matches!(url.scheme(), "rtsp" | "rtsps") || url.host_str().is_none() {
        return Err(format!(
            "camera URL must be rtsp://host/… or rtsps://host/… (got {:?})",
            redact::strip_credentials(raw)
        ));
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let creds = (!url.username().is_empty()).then(|| Credentials {
        username: decode(url.username()),
        password: decode(url.password().unwrap_or("")),
    });
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok((url.to_string(), creds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials_are_split_out() {
        let (u, c) = split_url_credentials("rtsp://admin:p%40ss@10.0.0.5:554/h264").unwrap();
        assert_eq!(u, "rtsp://10.0.0.5:554/h264");
        let c = c.unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("admin", "p@ss")
        );
        assert!(!format!("{c:?}").contains("p@ss"));
        let (u, c) = split_url_credentials("rtsps://cam.local/s").unwrap();
        assert_eq!(u, "rtsps://cam.local/s");
        assert!(c.is_none());
        let e = split_url_credentials("http://u:secret@cam/").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
        assert!(split_url_credentials("not a url").is_err());
    }
}
