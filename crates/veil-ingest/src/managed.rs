//! Cameras managed over the API: their stored source settings (JSON, no
//! secrets), their credentials sealed under the root key, and turning a stored
//! camera into a running (or deliberately stopped) ingest.

use serde::{Deserialize, Serialize};
use veil_base::schedule::TimeProfile;
use veil_base::CameraId;
use veil_store::db::CameraDetail;
use veil_store::Keyring;

use crate::gate::{MotionSettings, RecordingMode};
use crate::{Credentials, ExtraStreams, IngestTiming, RtspSource, RtspTransport};

/// Record everything.
pub const CONTINUOUS: &str = "continuous";
/// Record while a weekly time profile is active.
pub const SCHEDULED: &str = "scheduled";
/// Record around motion (with a pre- and post-buffer).
pub const MOTION: &str = "motion";
/// Record nothing: live view only (no segment, no key).
pub const LIVE_ONLY: &str = "live_only";
/// Every recording mode.
pub const RECORDING_MODES: [&str; 4] = [CONTINUOUS, SCHEDULED, MOTION, LIVE_ONLY];

/// The `recording_config` JSON of a camera: the settings of its mode.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StoredRecording {
    /// `scheduled`: when to record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<TimeProfile>,
    /// `motion`: the buffers and the detector's sensitivity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motion: Option<MotionSettings>,
}

impl StoredRecording {
    /// The JSON to store (`None` when there is nothing to store).
    pub fn to_json(&self) -> Option<String> {
        (self != &StoredRecording::default())
            .then(|| serde_json::to_string(self).expect("serialising settings cannot fail"))
    }
}

/// Checks a mode and its settings and makes the ingest's [`RecordingMode`].
/// `scheduled` needs a valid schedule; `motion` takes default settings when
/// none are given; settings of another mode are refused. Errors are
/// messages for people (the API returns them as 400).
pub fn recording_mode(mode: &str, config: &StoredRecording) -> Result<RecordingMode, String> {
    match mode {
        CONTINUOUS => {
            if config.schedule.is_some() || config.motion.is_some() {
                return Err(
                    "recording_mode \"continuous\" takes neither \"schedule\" nor \"motion\""
                        .into(),
                );
            }
            Ok(RecordingMode::Continuous)
        }
        SCHEDULED => {
            if config.motion.is_some() {
                return Err("\"motion\" is only for recording_mode \"motion\"".into());
            }
            let schedule = config.schedule.clone().ok_or_else(|| {
                "recording_mode \"scheduled\" needs a \"schedule\": {\"time_zone\": \"Europe/Paris\", \
                 \"intervals\": [{\"day\": \"mon\", \"start\": \"08:00\", \"end\": \"18:00\"}]}"
                    .to_owned()
            })?;
            schedule.validate().map_err(|e| format!("schedule: {e}"))?;
            Ok(RecordingMode::Scheduled(schedule))
        }
        MOTION => {
            if config.schedule.is_some() {
                return Err("\"schedule\" is only for recording_mode \"scheduled\"".into());
            }
            let motion = config.motion.clone().unwrap_or_default();
            motion.validate()?;
            Ok(RecordingMode::Motion(motion))
        }
        LIVE_ONLY => {
            if config.schedule.is_some() || config.motion.is_some() {
                return Err(
                    "recording_mode \"live_only\" takes neither \"schedule\" nor \"motion\"".into(),
                );
            }
            Ok(RecordingMode::LiveOnly)
        }
        other => Err(format!(
            "recording_mode must be one of {RECORDING_MODES:?}, got {other:?}"
        )),
    }
}

/// The shortest purpose accepted for recording audio or metadata (characters,
/// after trimming).
pub const MIN_PURPOSE_CHARS: usize = 10;
/// The longest purpose accepted.
pub const MAX_PURPOSE_CHARS: usize = 1000;

/// Checks the setting of an optional stream (`field` is `audio` or
/// `metadata`) and returns the trimmed purpose. Enabling one needs a
/// documented purpose: the message names the field and says why. A purpose
/// given while disabled is kept, so switching off and on keeps the text.
pub fn check_purpose(field: &str, enabled: bool, purpose: &str) -> Result<String, String> {
    let purpose = purpose.trim();
    if purpose.chars().count() > MAX_PURPOSE_CHARS
        || purpose.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(format!(
            "{field}.purpose must be at most {MAX_PURPOSE_CHARS} characters without control \
             characters"
        ));
    }
    if enabled && purpose.chars().count() < MIN_PURPOSE_CHARS {
        let why = if field == "audio" {
            "recording sound is more intrusive than video and needs its own documented purpose"
        } else {
            "recording ONVIF metadata (events, detected objects) needs its own documented purpose"
        };
        return Err(format!(
            "{field}.purpose is required to enable {field}: under the GDPR {why}; describe it \
             in at least {MIN_PURPOSE_CHARS} characters"
        ));
    }
    Ok(purpose.to_owned())
}

/// The `source_config` JSON of a managed RTSP camera. Never holds credentials.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StoredSource {
    /// `rtsp://host[:port]/path` without user-info.
    pub url: String,
    /// `tcp` or `udp`.
    pub transport: String,
    /// For `rtsps://`: the pinned SHA-256 fingerprint of the camera's
    /// certificate (hex), if it is not verified against the public roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_fingerprint: Option<String>,
}

/// The sealed form's plaintext.
#[derive(Serialize, Deserialize)]
struct SealedCredentials {
    username: String,
    password: String,
}

/// Seals a camera's credentials under the root key (bound to the camera id).
pub fn seal_credentials(keys: &Keyring, camera: CameraId, c: &Credentials) -> Vec<u8> {
    let plain = serde_json::to_vec(&SealedCredentials {
        username: c.username.clone(),
        password: c.password.clone(),
    })
    .expect("serialising two strings cannot fail");
    keys.seal_camera_secret(camera, &plain)
}

/// Opens sealed credentials; the error says nothing about their content.
pub fn open_credentials(
    keys: &Keyring,
    camera: CameraId,
    sealed: &[u8],
) -> Result<Credentials, String> {
    let plain = keys
        .open_camera_secret(camera, sealed)
        .map_err(|_| "the stored credentials do not open (wrong root key?)".to_owned())?;
    let c: SealedCredentials = serde_json::from_slice(&plain)
        .map_err(|_| "the stored credentials are unreadable".to_owned())?;
    Ok(Credentials {
        username: c.username,
        password: c.password,
    })
}

/// Parses a transport name.
pub fn parse_transport(s: &str) -> Result<RtspTransport, String> {
    match s {
        "tcp" => Ok(RtspTransport::Tcp),
        "udp" => Ok(RtspTransport::Udp),
        _ => Err(format!("transport must be \"tcp\" or \"udp\", got {s:?}")),
    }
}

/// What should run for a stored camera.
#[derive(Debug)]
pub enum Plan {
    /// Record with these settings.
    Record(Box<RtspSource>),
    /// Do not record (disabled).
    Idle,
    /// Cannot record; the message says why (shown as the status error).
    Refuse(String),
}

/// Decides what a stored RTSP camera should do. `default_segment_90k` applies
/// when the camera sets no segment length.
pub fn plan(keys: &Keyring, d: &CameraDetail, default_segment_90k: i64) -> Plan {
    if !d.settings.enabled {
        return Plan::Idle;
    }
    let stored: StoredRecording = match d.settings.recording_config.as_deref() {
        None => StoredRecording::default(),
        Some(json) => match serde_json::from_str(json) {
            Ok(r) => r,
            Err(e) => {
                return Plan::Refuse(format!("stored recording settings are unreadable: {e}"))
            }
        },
    };
    let recording = match recording_mode(&d.settings.recording_mode, &stored) {
        Ok(m) => m,
        Err(e) => return Plan::Refuse(format!("{e}; nothing is recorded")),
    };
    let src: StoredSource = match serde_json::from_str(&d.settings.source_config) {
        Ok(s) => s,
        Err(e) => return Plan::Refuse(format!("stored source settings are unreadable: {e}")),
    };
    let transport = match parse_transport(&src.transport) {
        Ok(t) => t,
        Err(e) => return Plan::Refuse(e),
    };
    let tls_fingerprint = match src
        .tls_fingerprint
        .as_deref()
        .map(crate::tls::parse_fingerprint)
    {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => return Plan::Refuse(e),
    };
    let credentials = match &d.sealed_credentials {
        Some(sealed) => match open_credentials(keys, d.id, sealed) {
            Ok(c) => Some(c),
            Err(e) => return Plan::Refuse(e),
        },
        None => None,
    };
    Plan::Record(Box::new(RtspSource {
        camera: d.id,
        url: src.url,
        credentials,
        transport,
        tls_fingerprint,
        segment_90k: d
            .settings
            .segment_seconds
            .map(|s| i64::from(s) * veil_base::TIME_UNITS_PER_SEC)
            .unwrap_or(default_segment_90k),
        timing: IngestTiming::default(),
        recording,
        extra: ExtraStreams {
            audio: d.settings.audio.enabled,
            metadata: d.settings.metadata.enabled,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(mode: &str, json: &str, expected: Result<&str, &str>) {
        let config: StoredRecording = serde_json::from_str(json).unwrap();
        match (recording_mode(mode, &config), expected) {
            (Ok(m), Ok(want)) => assert!(format!("{m:?}").starts_with(want), "{m:?}"),
            (Err(e), Err(want)) => assert!(e.contains(want), "{e}"),
            (got, want) => panic!("{mode} {json}: got {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn modes_and_their_settings() {
        check("continuous", "{}", Ok("Continuous"));
        check("continuous", r#"{"motion": {}}"#, Err("takes neither"));
        check("scheduled", "{}", Err("needs a \"schedule\""));
        let paris = r#"{"schedule": {"time_zone": "Europe/Paris",
            "intervals": [{"day": "mon", "start": "08:00", "end": "18:00"}]}}"#;
        check("scheduled", paris, Ok("Scheduled"));
        check(
            "scheduled",
            r#"{"schedule": {"time_zone": "Europe/Pariss", "intervals": []}}"#,
            Err("schedule: unknown time zone"),
        );
        check(
            "motion",
            paris,
            Err("only for recording_mode \"scheduled\""),
        );
        check(
            "motion",
            "{}",
            Ok("Motion(MotionSettings { pre_seconds: 5, post_seconds: 10"),
        );
        check(
            "motion",
            r#"{"motion": {"pre_seconds": 2, "post_seconds": 3}}"#,
            Ok("Motion(MotionSettings { pre_seconds: 2, post_seconds: 3, threshold: 20"),
        );
        check(
            "motion",
            r#"{"motion": {"pre_seconds": 31}}"#,
            Err("motion.pre_seconds must be between 0 and 30"),
        );
        check(
            "motion",
            r#"{"motion": {"post_seconds": 0}}"#,
            Err("motion.post_seconds must be between 1 and 300"),
        );
        check(
            "motion",
            r#"{"motion": {"min_area_percent": 0}}"#,
            Err("min_area_percent"),
        );
        check("live_only", "{}", Ok("LiveOnly"));
        check("live_only", r#"{"motion": {}}"#, Err("takes neither"));
        check("live_only", paris, Err("takes neither"));
        check("sometimes", "{}", Err("recording_mode must be one of"));
        assert_eq!(StoredRecording::default().to_json(), None);
    }
}
