//! Operational metrics: lock-free [`Counter`], [`Gauge`] and [`Histogram`]
//! kept where events happen, and [`TextEncoder`], which writes them in the
//! Prometheus text exposition format (version 0.0.4).
//!
//! There is no global registry: each component owns its metrics and the
//! HTTP layer asks for them when `/metrics` is read. Label values must never
//! hold personal data (names, addresses, camera URLs); camera ids and fixed
//! reasons are fine.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A count that only goes up.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (stored as the bits of an `f64`).
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }

    /// Adds `d` (negative to subtract).
    pub fn add(&self, d: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some((f64::from_bits(b) + d).to_bits())
            });
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// Upper bounds, in seconds, for latencies from a millisecond to ten
/// seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Observations counted into buckets by upper bound, with their sum.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative); the last one is above every bound.
    counts: Box<[AtomicU64]>,
    sum: Gauge,
}

/// A histogram's figures at one moment, buckets cumulative.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound, observations ≤ bound)`, ascending, ending with `+Inf`.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of all observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    /// A histogram with these ascending, finite upper bounds.
    pub fn new(bounds: &'static [f64]) -> Histogram {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]));
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: Gauge::default(),
        }
    }

    /// A latency histogram over [`LATENCY_BUCKETS`].
    pub fn latency() -> Histogram {
        Histogram::new(LATENCY_BUCKETS)
    }

    /// Counts one observation.
    pub fn observe(&self, v: f64) {
        let i = self.bounds.partition_point(|b| *b < v);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum.add(v);
    }

    /// Counts a duration, in seconds.
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// The cumulative figures now.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut total = 0;
        let mut buckets = Vec::with_capacity(self.counts.len());
        for (i, c) in self.counts.iter().enumerate() {
            total += c.load(Ordering::Relaxed);
            let bound = self.bounds.get(i).copied().unwrap_or(f64::INFINITY);
            buckets.push((bound, total));
        }
        HistogramSnapshot {
            buckets,
            sum: self.sum.get(),
            count: total,
        }
    }
}

/// The type of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up; names end in `_total`.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Buckets, `_sum` and `_count`.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// The media type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Writes metric families in the Prometheus text format. Call
/// [`TextEncoder::family`] once per family, then its samples.
#[derive(Debug, Default)]
pub struct TextEncoder {
    out: String,
}

/// Whether `s` is a valid metric or label name.
fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A sample value as the format spells it.
fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

impl TextEncoder {
    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        debug_assert!(valid_name(name), "metric name {name:?}");
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    /// One sample line.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        self.out.push_str(name);
        self.labels(labels, None);
        let _ = writeln!(self.out, " {}", value(v));
    }

    /// A histogram's `_bucket` lines (cumulative, ending with `le="+Inf"`),
    /// `_sum` and `_count`.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &HistogramSnapshot) {
        for (bound, n) in &h.buckets {
            let _ = write!(self.out, "{name}_bucket");
            self.labels(labels, Some(&value(*bound)));
            let _ = writeln!(self.out, " {n}");
        }
        self.sample(&format!("{name}_sum"), labels, h.sum);
        self.sample(&format!("{name}_count"), labels, h.count as f64);
    }

    fn labels(&mut self, labels: &[(&str, &str)], le: Option<&str>) {
        if labels.is_empty() && le.is_none() {
            return;
        }
        self.out.push('{');
        let all = labels.iter().copied().chain(le.map(|v| ("le", v)));
        for (i, (k, v)) in all.enumerate() {
            debug_assert!(valid_name(k), "label name {k:?}");
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str(k);
            self.out.push_str("=\"");
            for c in v.chars() {
                match c {
                    '\\' => self.out.push_str("\\\\"),
                    '"' => self.out.push_str("\\\""),
                    '\n' => self.out.push_str("\\n"),
                    c => self.out.push(c),
                }
            }
            self.out.push('"');
        }
        self.out.push('}');
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_gauges() {
        let c = Counter::default();
        c.inc();
        c.add(41);
        assert_eq!(c.get(), 42);
        let g = Gauge::default();
        g.set(2.5);
        g.add(-1.0);
        assert_eq!(g.get(), 1.5);
    }

    #[test]
    fn histogram_buckets_are_cumulative_with_inf() {
        let h = Histogram::new(&[0.01, 0.1, 1.0]);
        for v in [0.005, 0.01, 0.05, 0.5, 3.0] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(
            s.buckets,
            vec![(0.01, 2), (0.1, 3), (1.0, 4), (f64::INFINITY, 5)]
        );
        assert_eq!(s.count, 5);
        assert!((s.sum - 3.565).abs() < 1e-9, "{}", s.sum);

        let mut e = TextEncoder::default();
        e.family("veil_x_seconds", Kind::Histogram, "Latency.");
        e.histogram("veil_x_seconds", &[("camera", "3")], &s);
        let text = e.finish();
        let expected = "# HELP veil_x_seconds Latency.\n\
            # TYPE veil_x_seconds histogram\n\
            veil_x_seconds_bucket{camera=\"3\",le=\"0.01\"} 2\n\
            veil_x_seconds_bucket{camera=\"3\",le=\"0.1\"} 3\n\
            veil_x_seconds_bucket{camera=\"3\",le=\"1\"} 4\n\
            veil_x_seconds_bucket{camera=\"3\",le=\"+Inf\"} 5\n\
            veil_x_seconds_sum{camera=\"3\"} 3.565\n\
            veil_x_seconds_count{camera=\"3\"} 5\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut e = TextEncoder::default();
        e.family("veil_y_total", Kind::Counter, "Back\\slash and\nnewline.");
        e.sample("veil_y_total", &[("reason", "a\"b\\c\nd")], 7.0);
        e.sample("veil_y_total", &[], f64::NAN);
        e.family("veil_z", Kind::Gauge, "Infinite.");
        e.sample("veil_z", &[], f64::NEG_INFINITY);
        assert_eq!(
            e.finish(),
            "# HELP veil_y_total Back\\\\slash and\\nnewline.\n\
             # TYPE veil_y_total counter\n\
             veil_y_total{reason=\"a\\\"b\\\\c\\nd\"} 7\n\
             veil_y_total NaN\n\
             # HELP veil_z Infinite.\n\
             # TYPE veil_z gauge\n\
             veil_z -Inf\n"
        );
    }

    #[test]
    fn values_and_names() {
        assert_eq!(value(1.0), "1");
        assert_eq!(value(0.25), "0.25");
        assert_eq!(value(1e15), "1000000000000000");
        assert_eq!(value(f64::INFINITY), "+Inf");
        assert!(valid_name("veil_a:b_1"));
        assert!(!valid_name("1a"));
        assert!(!valid_name("a-b"));
        assert!(!valid_name(""));
    }
}
