//! The recording gate: which of a camera's frames are recorded, by recording
//! mode. Pure: frames, their presentation times and motion verdicts go in,
//! "record this frame" and "end the run here" come out; the time is always
//! the frame's, so tests drive it with any clock they like.
//!
//! - `continuous`: every frame.
//! - `scheduled`: whole GOPs whose keyframe falls inside the weekly time
//!   profile; the decision changes only at keyframes, so a recording starts
//!   and stops at a GOP boundary (up to one GOP late).
//! - `motion`: frames wait in a pre-buffer of whole GOPs covering
//!   `pre_seconds`; when a keyframe shows motion, the buffer is recorded and
//!   recording goes on until the first keyframe at least `post_seconds` after
//!   the last keyframe with motion. That keyframe's own verdict is awaited
//!   (until the next keyframe) before the run ends, so motion right at the
//!   boundary continues the run instead of starting another. Each motion
//!   event is its own run.
//! - `live_only`: no frame; nothing is buffered (live view only).
//!
//! Live view is not gated: the caller publishes every frame before this.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use veil_base::schedule::TimeProfile;
use veil_base::{Time90k, TIME_UNITS_PER_SEC};

/// The most a pre-buffer holds; older GOPs are dropped beyond it.
pub const MAX_PRE_BUFFER_BYTES: usize = 64 << 20;

/// Motion-triggered recording settings (API and stored JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MotionSettings {
    /// Seconds recorded before the keyframe where motion was seen (0–30).
    #[serde(default = "default_pre")]
    pub pre_seconds: u32,
    /// Seconds recorded after the last keyframe with motion (1–300).
    #[serde(default = "default_post")]
    pub post_seconds: u32,
    /// A grid cell changed when its mean luma moved by more than this (1–254).
    #[serde(default = "default_threshold")]
    pub threshold: u8,
    /// Motion when more than this percentage of grid cells changed (0.1–100).
    #[serde(default = "default_area")]
    pub min_area_percent: f32,
}

fn default_pre() -> u32 {
    5
}
fn default_post() -> u32 {
    10
}
fn default_threshold() -> u8 {
    20
}
fn default_area() -> f32 {
    2.0
}

impl Default for MotionSettings {
    fn default() -> Self {
        MotionSettings {
            pre_seconds: default_pre(),
            post_seconds: default_post(),
            threshold: default_threshold(),
            min_area_percent: default_area(),
        }
    }
}

impl MotionSettings {
    /// Checks the bounds; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.pre_seconds > 30 {
            return Err("motion.pre_seconds must be between 0 and 30".into());
        }
        if !(1..=300).contains(&self.post_seconds) {
            return Err("motion.post_seconds must be between 1 and 300".into());
        }
        if !(1..=254).contains(&self.threshold) {
            return Err("motion.threshold must be between 1 and 254 (luma levels)".into());
        }
        if !(0.1..=100.0).contains(&self.min_area_percent) {
            return Err("motion.min_area_percent must be between 0.1 and 100".into());
        }
        Ok(())
    }

    /// The detector's configuration.
    pub fn detector(&self) -> veil_media::motion::MotionConfig {
        veil_media::motion::MotionConfig {
            threshold: self.threshold,
            min_area: self.min_area_percent / 100.0,
        }
    }
}

/// What a camera records.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum RecordingMode {
    /// Everything.
    #[default]
    Continuous,
    /// While the weekly time profile is active.
    Scheduled(TimeProfile),
    /// Around keyframes with motion.
    Motion(MotionSettings),
    /// Nothing: live view only, no segment and no key is ever written.
    LiveOnly,
}

/// What the caller does with the frames it gave the gate, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Output<F> {
    /// Record this frame (in the current run; open one if none is open).
    Record(F),
    /// Close the current run (the next recorded frame starts a new one).
    EndRun,
}

/// Where a motion event begins or ends (motion mode only), in stream time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MotionEdge {
    /// Motion seen on this keyframe started a motion run.
    Start(Time90k),
    /// The motion run ended here (the keyframe that closed it).
    End(Time90k),
}

/// Why a connected camera is not recording.
pub const OUTSIDE_SCHEDULE: &str = "outside the recording schedule";
/// Why a connected motion camera is not recording.
pub const WAITING_FOR_MOTION: &str = "waiting for motion";
/// Why a connected live-only camera is not recording.
pub const LIVE_ONLY: &str = "live only: nothing is recorded";
/// Why a camera without a documented purpose is not recording (P8; the
/// recorders ask `Store::may_record`, live view goes on).
pub const NO_PURPOSE: &str = "no documented purpose";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not recording (motion: buffering).
    Idle,
    /// Recording.
    Recording,
    /// Motion: the post window ended at this keyframe; its frames wait for
    /// its verdict.
    Closing(Time90k),
}

struct Gop<F> {
    start: Time90k,
    bytes: usize,
    frames: Vec<F>,
}

/// The gate of one camera's stream (see the module doc).
pub struct Gate<F> {
    mode: RecordingMode,
    phase: Phase,
    /// Motion: the pre-buffer (Idle) or the GOP awaiting its verdict (Closing).
    gops: VecDeque<Gop<F>>,
    bytes: usize,
    last_motion: Option<Time90k>,
    /// Motion events begun and ended, not yet taken by the caller.
    edges: Vec<MotionEdge>,
}

impl<F> Gate<F> {
    /// A gate that has seen nothing yet.
    pub fn new(mode: RecordingMode) -> Gate<F> {
        let phase = match mode {
            RecordingMode::Continuous => Phase::Recording,
            _ => Phase::Idle,
        };
        Gate {
            mode,
            phase,
            gops: VecDeque::new(),
            bytes: 0,
            last_motion: None,
            edges: Vec::new(),
        }
    }

    /// Whether keyframes should be sent to the motion detector.
    pub fn wants_motion(&self) -> bool {
        matches!(self.mode, RecordingMode::Motion(_))
    }

    /// Why nothing is being recorded, if so.
    pub fn standby_reason(&self) -> Option<&'static str> {
        match (&self.mode, self.phase) {
            (RecordingMode::Scheduled(_), Phase::Idle) => Some(OUTSIDE_SCHEDULE),
            (RecordingMode::Motion(_), Phase::Idle) => Some(WAITING_FOR_MOTION),
            (RecordingMode::LiveOnly, _) => Some(LIVE_ONLY),
            _ => None,
        }
    }

    /// The latest keyframe that showed motion.
    pub fn last_motion(&self) -> Option<Time90k> {
        self.last_motion
    }

    /// The stream's timeline broke (new connection, new parameters, a clock
    /// jump): buffered frames are dropped; the caller ends its run and feeds
    /// the new timeline from a keyframe.
    pub fn restart(&mut self) {
        self.gops.clear();
        self.bytes = 0;
        if let Phase::Closing(end) = self.phase {
            self.phase = Phase::Idle;
            self.edges.push(MotionEdge::End(end));
        }
    }

    /// The motion events begun and ended since the last call, in order: the
    /// caller persists them (a `Start` is always followed, eventually, by an
    /// `End`, unless the stream stops first).
    pub fn take_motion_edges(&mut self) -> Vec<MotionEdge> {
        std::mem::take(&mut self.edges)
    }

    /// Takes one frame (decode order) with its presentation time and size.
    pub fn frame(
        &mut self,
        pts: Time90k,
        is_key: bool,
        size_bytes: usize,
        f: F,
        out: &mut Vec<Output<F>>,
    ) {
        match &self.mode {
            RecordingMode::Continuous => {}
            // Idle with no GOP open: the frame is dropped below.
            RecordingMode::LiveOnly => return,
            RecordingMode::Scheduled(profile) => {
                if is_key {
                    match (self.phase, profile.active(pts)) {
                        (Phase::Recording, false) => {
                            out.push(Output::EndRun);
                            self.phase = Phase::Idle;
                        }
                        (Phase::Idle, true) => self.phase = Phase::Recording,
                        _ => {}
                    }
                }
            }
            RecordingMode::Motion(m) => {
                let (pre_90k, post_90k) = (
                    i64::from(m.pre_seconds) * TIME_UNITS_PER_SEC,
                    i64::from(m.post_seconds) * TIME_UNITS_PER_SEC,
                );
                if is_key {
                    match self.phase {
                        Phase::Recording => {
                            let over = self.last_motion.is_none_or(|t| pts.0 >= t.0 + post_90k);
                            if over {
                                self.phase = Phase::Closing(pts);
                                self.new_gop(pts);
                            }
                        }
                        Phase::Closing(end) => {
                            // No verdict came for the closing keyframe: end there.
                            self.edges.push(MotionEdge::End(end));
                            out.push(Output::EndRun);
                            self.phase = Phase::Idle;
                            self.new_gop(pts);
                        }
                        Phase::Idle => self.new_gop(pts),
                    }
                    if self.phase == Phase::Idle {
                        self.trim(pts, pre_90k);
                    }
                }
            }
        }
        match self.phase {
            Phase::Recording => out.push(Output::Record(f)),
            Phase::Idle | Phase::Closing(_) => {
                // Before the first keyframe there is no GOP: the frame is dropped.
                if let Some(g) = self.gops.back_mut() {
                    g.frames.push(f);
                    g.bytes += size_bytes;
                    self.bytes += size_bytes;
                    while self.bytes > MAX_PRE_BUFFER_BYTES && self.gops.len() > 1 {
                        self.pop_oldest();
                    }
                }
            }
        }
    }

    /// The motion detector's verdict on the keyframe at `key_pts`.
    pub fn verdict(&mut self, key_pts: Time90k, motion: bool, out: &mut Vec<Output<F>>) {
        if !self.wants_motion() {
            return;
        }
        if motion {
            self.last_motion = Some(self.last_motion.map_or(key_pts, |t| t.max(key_pts)));
            if self.phase == Phase::Idle {
                self.edges.push(MotionEdge::Start(key_pts));
            }
            if self.phase != Phase::Recording {
                self.phase = Phase::Recording;
                self.bytes = 0;
                for g in self.gops.drain(..) {
                    out.extend(g.frames.into_iter().map(Output::Record));
                }
            }
        } else if self.phase == Phase::Closing(key_pts) {
            self.edges.push(MotionEdge::End(key_pts));
            out.push(Output::EndRun);
            self.phase = Phase::Idle;
        }
    }

    fn new_gop(&mut self, start: Time90k) {
        self.gops.push_back(Gop {
            start,
            bytes: 0,
            frames: Vec::new(),
        });
    }

    /// Keeps the fewest newest GOPs that cover `pre_90k` before `now`.
    fn trim(&mut self, now: Time90k, pre_90k: i64) {
        while self.gops.len() >= 2 && self.gops[1].start.0 <= now.0 - pre_90k {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some(g) = self.gops.pop_front() {
            self.bytes -= g.bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veil_base::schedule::{Day, Interval};

    const SEC: i64 = TIME_UNITS_PER_SEC;
    const FRAME: i64 = SEC / 25;

    /// Frames are numbered by their index; a keyframe every 25 frames (1 s).
    struct Feed {
        gate: Gate<u32>,
        t0: i64,
        next: u32,
        out: Vec<Output<u32>>,
    }

    impl Feed {
        fn new(mode: RecordingMode, t0: Time90k) -> Feed {
            Feed {
                gate: Gate::new(mode),
                t0: t0.0,
                next: 0,
                out: Vec::new(),
            }
        }
        fn pts(&self, i: u32) -> Time90k {
            Time90k(self.t0 + i64::from(i) * FRAME)
        }
        /// Feeds `n` frames; `motion(i)` says whether keyframe i shows motion
        /// (its verdict arrives three frames later, as from a detector thread).
        fn run(&mut self, n: u32, motion: impl Fn(u32) -> bool) {
            for _ in 0..n {
                let i = self.next;
                self.gate
                    .frame(self.pts(i), i.is_multiple_of(25), 1000, i, &mut self.out);
                if i >= 3 && (i - 3).is_multiple_of(25) {
                    let k = i - 3;
                    self.gate.verdict(self.pts(k), motion(k), &mut self.out);
                }
                self.next += 1;
            }
        }
        /// Recorded runs as inclusive frame ranges.
        fn runs(&self) -> Vec<(u32, u32)> {
            let mut runs = Vec::new();
            let mut cur: Option<(u32, u32)> = None;
            for o in &self.out {
                match *o {
                    Output::Record(i) => {
                        cur = Some(match cur {
                            None => (i, i),
                            Some((s, e)) => {
                                assert_eq!(i, e + 1, "frames recorded in order, no holes");
                                (s, i)
                            }
                        })
                    }
                    Output::EndRun => runs.extend(cur.take()),
                }
            }
            runs.extend(cur);
            runs
        }
    }

    fn motion(pre: u32, post: u32) -> RecordingMode {
        RecordingMode::Motion(MotionSettings {
            pre_seconds: pre,
            post_seconds: post,
            ..MotionSettings::default()
        })
    }

    #[test]
    fn live_only_records_and_buffers_nothing() {
        let mut f = Feed::new(RecordingMode::LiveOnly, Time90k(0));
        f.run(100, |_| true);
        assert!(f.out.is_empty(), "{:?}", f.out);
        assert!(f.gate.gops.is_empty() && f.gate.bytes == 0);
        assert!(!f.gate.wants_motion());
        assert_eq!(f.gate.standby_reason(), Some(LIVE_ONLY));
    }

    #[test]
    fn continuous_records_everything() {
        let mut f = Feed::new(RecordingMode::Continuous, Time90k(0));
        f.run(100, |_| false);
        assert_eq!(f.runs(), [(0, 99)]);
        assert_eq!(f.gate.standby_reason(), None);
    }

    #[test]
    fn motion_records_the_pre_buffer_then_the_post_window() {
        // Motion seen on the keyframes at 8 s, 9 s, 10 s and 11 s.
        let moving = |k: u32| (200..=275).contains(&k);
        let mut f = Feed::new(motion(2, 3), Time90k(0));
        f.run(200, moving);
        assert_eq!(f.runs(), []);
        assert_eq!(f.gate.standby_reason(), Some(WAITING_FOR_MOTION));
        f.run(4, moving);
        assert_eq!(f.gate.standby_reason(), None);
        assert_eq!(f.gate.last_motion(), Some(f.pts(200)));
        f.run(796, moving);
        // From 6 s (two GOPs before the motion keyframe at 8 s) to the end
        // of the GOP before 14 s (3 s after the last motion at 11 s).
        assert_eq!(f.runs(), [(150, 349)]);
        assert_eq!(f.gate.standby_reason(), Some(WAITING_FOR_MOTION));
    }

    #[test]
    fn motion_edges_mark_each_event_from_its_keyframe_to_the_run_end() {
        let mut f = Feed::new(motion(1, 2), Time90k(0));
        f.run(1000, |k| k == 100 || k == 125 || k == 500);
        assert_eq!(f.runs(), [(75, 174), (475, 549)]);
        // The event starts at the motion keyframe (not the pre-buffer) and
        // ends at the keyframe that closed its run.
        assert_eq!(
            f.gate.take_motion_edges(),
            [
                MotionEdge::Start(f.pts(100)),
                MotionEdge::End(f.pts(175)),
                MotionEdge::Start(f.pts(500)),
                MotionEdge::End(f.pts(550)),
            ]
        );
        assert_eq!(f.gate.take_motion_edges(), [], "taken once");
        // Motion at the closing keyframe continues the same event.
        let mut f = Feed::new(motion(0, 2), Time90k(0));
        f.run(400, |k| k == 100 || k == 150);
        assert_eq!(
            f.gate.take_motion_edges(),
            [MotionEdge::Start(f.pts(100)), MotionEdge::End(f.pts(200))]
        );
        // Other modes have no motion events.
        let mut f = Feed::new(RecordingMode::Continuous, Time90k(0));
        f.run(100, |_| true);
        assert_eq!(f.gate.take_motion_edges(), []);
    }

    #[test]
    fn a_restart_while_closing_ends_the_event() {
        let mut f = Feed::new(motion(0, 1), Time90k(0));
        // Motion at 0 s; the post window closes at the keyframe at 1 s,
        // whose verdict has not arrived when the stream breaks.
        f.run(27, |k| k == 0);
        f.gate.restart();
        assert_eq!(
            f.gate.take_motion_edges(),
            [MotionEdge::Start(f.pts(0)), MotionEdge::End(f.pts(25))]
        );
        assert_eq!(f.gate.standby_reason(), Some(WAITING_FOR_MOTION));
    }

    #[test]
    fn pre_zero_records_from_the_motion_keyframe() {
        let mut f = Feed::new(motion(0, 1), Time90k(0));
        f.run(300, |k| k == 100);
        assert_eq!(f.runs(), [(100, 124)]);
    }

    #[test]
    fn each_motion_event_is_its_own_run() {
        let mut f = Feed::new(motion(1, 2), Time90k(0));
        f.run(1000, |k| k == 100 || k == 500);
        assert_eq!(f.runs(), [(75, 149), (475, 549)]);
    }

    #[test]
    fn motion_at_the_closing_keyframe_continues_the_run() {
        // Post window of 2 s after 4 s ends at 6 s, where motion is seen again.
        let mut f = Feed::new(motion(0, 2), Time90k(0));
        f.run(400, |k| k == 100 || k == 150);
        assert_eq!(f.runs(), [(100, 199)]);
    }

    #[test]
    fn a_missing_verdict_ends_the_run_at_the_next_keyframe() {
        let mut f = Feed::new(motion(0, 1), Time90k(0));
        let mut out = Vec::new();
        for i in 0..100u32 {
            f.gate
                .frame(f.pts(i), i.is_multiple_of(25), 10, i, &mut out);
            if i == 1 {
                f.gate.verdict(f.pts(0), true, &mut out);
            }
            // The closing keyframe at 1 s never gets a verdict (skipped).
        }
        f.out = out;
        assert_eq!(f.runs(), [(0, 24)]);
        assert_eq!(f.out.last(), Some(&Output::EndRun));
    }

    #[test]
    fn the_pre_buffer_is_bounded_and_restarts_drop_it() {
        let mut g: Gate<u32> = Gate::new(motion(30, 5));
        let mut out = Vec::new();
        // 40 GOPs of 4 MiB keyframes: only what fits in the bound stays.
        for i in 0..40u32 {
            g.frame(Time90k(i64::from(i) * SEC), true, 4 << 20, i, &mut out);
        }
        assert!(g.bytes <= MAX_PRE_BUFFER_BYTES);
        assert_eq!(g.gops.len(), MAX_PRE_BUFFER_BYTES / (4 << 20));
        g.restart();
        g.verdict(Time90k(40 * SEC), true, &mut out);
        assert_eq!(out, []);
        g.frame(Time90k(41 * SEC), false, 1, 99, &mut out);
        assert_eq!(out, [Output::Record(99)]);
    }

    fn sunday_3_to_4_paris() -> TimeProfile {
        TimeProfile {
            time_zone: "Europe/Paris".into(),
            intervals: vec![Interval {
                day: Day::Sun,
                start: "03:00".into(),
                end: "04:00".into(),
            }],
        }
    }

    #[test]
    fn schedule_starts_and_stops_at_keyframes_across_a_dst_change() {
        // Sunday 2026-03-29: 02:00 Paris jumps to 03:00, so 03:00 local is
        // 01:00Z (it was 02:00Z a week earlier). Start 10 s before.
        let t0 = Time90k::parse_rfc3339("2026-03-29T00:59:50Z").unwrap();
        let mut f = Feed::new(RecordingMode::Scheduled(sunday_3_to_4_paris()), t0);
        f.run(250, |_| false);
        assert_eq!(f.gate.standby_reason(), Some(OUTSIDE_SCHEDULE));
        assert_eq!(f.runs(), []);
        f.run(10, |_| false);
        assert_eq!(
            f.runs(),
            [(250, 259)],
            "records from the keyframe at 01:00Z"
        );
        assert_eq!(f.gate.standby_reason(), None);
        // Jump to just before 04:00 local (02:00Z): the run ends at the first
        // keyframe outside.
        f.t0 =
            Time90k::parse_rfc3339("2026-03-29T01:59:58Z").unwrap().0 - i64::from(f.next) * FRAME;
        f.run(100, |_| false);
        let runs = f.runs();
        assert_eq!(runs, [(250, 324)], "ends at the keyframe at 02:00:00.6Z");
        assert_eq!(f.gate.standby_reason(), Some(OUTSIDE_SCHEDULE));
        // A frame that arrives mid-GOP in schedule does not start a run.
        let mut g: Gate<u32> = Gate::new(RecordingMode::Scheduled(sunday_3_to_4_paris()));
        let mut out = Vec::new();
        let inside = Time90k::parse_rfc3339("2026-03-29T01:30:00Z").unwrap();
        g.frame(inside, false, 1, 0, &mut out);
        assert_eq!(out, []);
        g.frame(inside, true, 1, 1, &mut out);
        assert_eq!(out, [Output::Record(1)]);
    }
}
