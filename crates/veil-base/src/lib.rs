//! Veil's shared vocabulary: newtype ids, the one clock, 90 kHz time helpers,
//! weekly time profiles ([`schedule`]) and lock-free operational metrics with
//! their text format ([`metrics`]), and HTML escaping ([`escape_html`]) for
//! the pages, reports and documents that write HTML.
//!
//! Everything here is plain data with no I/O except [`SystemClock`], which is the
//! only place in Veil that reads the wall clock. Nothing here knows about video,
//! storage or HTTP.

pub mod metrics;
pub mod schedule;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// A camera known to this installation.
    CameraId
);
id_type!(
    /// One stored segment of one rendition of one camera.
    SegmentId
);
id_type!(
    /// A person with an account. Audit entries reference this, never a name.
    UserId
);

/// Ticks per second of the timestamps Veil stores (the RTP clock of H.264).
pub const TIME_UNITS_PER_SEC: i64 = 90_000;

/// Wall-clock time in 90 kHz units since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Time90k(pub i64);

impl Time90k {
    /// Converts from a chrono UTC timestamp (sub-tick precision is truncated).
    pub fn from_chrono(t: chrono::DateTime<chrono::Utc>) -> Self {
        let secs = t.timestamp();
        let nanos = i64::from(t.timestamp_subsec_nanos());
        Time90k(secs * TIME_UNITS_PER_SEC + nanos * 9 / 100_000)
    }

    /// Converts to a chrono UTC timestamp.
    pub fn to_chrono(self) -> chrono::DateTime<chrono::Utc> {
        let secs = self.0.div_euclid(TIME_UNITS_PER_SEC);
        let rem = self.0.rem_euclid(TIME_UNITS_PER_SEC);
        chrono::DateTime::from_timestamp(secs, (rem * 100_000 / 9) as u32).unwrap_or_default()
    }

    /// RFC 3339 with millisecond precision, always UTC (`Z`).
    pub fn to_rfc3339(self) -> String {
        self.to_chrono()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    /// Parses RFC 3339, returning `None` for anything else.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| Self::from_chrono(t.with_timezone(&chrono::Utc)))
    }

    /// Seconds since the epoch (floored).
    pub fn unix_secs(self) -> i64 {
        self.0.div_euclid(TIME_UNITS_PER_SEC)
    }
}

/// The one source of "now" in Veil. Tests use [`SimulatedClock`].
pub trait Clock: Send + Sync + 'static {
    /// The current wall-clock time.
    fn now(&self) -> Time90k;
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Time90k {
        Time90k::from_chrono(chrono::Utc::now())
    }
}

/// A clock that moves only when told to.
#[derive(Clone, Debug, Default)]
pub struct SimulatedClock(Arc<AtomicI64>);

impl SimulatedClock {
    /// A clock standing at `t`.
    pub fn new(t: Time90k) -> Self {
        SimulatedClock(Arc::new(AtomicI64::new(t.0)))
    }

    /// Moves the clock forward by `d_90k` ticks.
    pub fn advance(&self, d_90k: i64) {
        self.0.fetch_add(d_90k, Ordering::SeqCst);
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> Time90k {
        Time90k(self.0.load(Ordering::SeqCst))
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping_covers_text_and_quoted_attributes() {
        assert_eq!(
            escape_html("<a href='x' title=\"y\">&</a> é"),
            "&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;&amp;&lt;/a&gt; é"
        );
    }

    #[test]
    fn rfc3339_round_trip() {
        let t = Time90k::parse_rfc3339("2026-11-23T10:00:00.040Z").unwrap();
        assert_eq!(t.0 % TIME_UNITS_PER_SEC, 3_600);
        assert_eq!(t.to_rfc3339(), "2026-11-23T10:00:00.040Z");
        assert!(Time90k::parse_rfc3339("yesterday").is_none());
    }

    #[test]
    fn simulated_clock_moves_only_when_told() {
        let c = SimulatedClock::new(Time90k(1000));
        assert_eq!(c.now(), Time90k(1000));
        c.advance(500);
        assert_eq!(c.now(), Time90k(1500));
    }
}
