//! Erasure of marked intervals (a data subject's right to erasure, D3):
//! every GOP of a camera's recordings that overlaps an interval is
//! destroyed, in every rendition (`docs/design/retention.md`, "Erasure of
//! marked intervals").
//!
//! A segment all of whose GOPs overlap goes whole: its row (with its wrapped
//! segment key, overwritten by `secure_delete`) and its object. A segment
//! partly covered is rewritten: the GOPs before the interval and those after
//! it become one new segment each (the later one starts a new run, so
//! players show the gap), sealed under fresh segment keys, their objects
//! durable before one transaction inserts their rows and segment links,
//! deletes the old rows and appends a removal link `reason=erasure …` to
//! each recording chain; then the write-ahead log is truncated and the old
//! objects deleted. An `original` segment (whose key may be sealed to an
//! escrow the server cannot open) and a segment that cannot be read go
//! whole. Segments an active evidence lock or restriction hold covers are
//! kept and named in [`ErasurePlan::blocked`].
//!
//! A crash before the transaction leaves orphan new objects, after it
//! orphan old objects: [`Store::recover`] deletes both. Never a row without
//! its object.

use veil_base::{CameraId, SegmentId, Time90k, TIME_UNITS_PER_SEC};
use veil_media::mp4::TrackSample;

use crate::db::{ProtectionRow, RunCut, SegmentRow};
use crate::segment::{SegmentIndex, TrackIndex};
use crate::{
    blocking, chain, crash_point, Error, NewSegment, Opened, Segment, Store, MAIN_RENDITION,
    ORIGINAL_RENDITION, PROTECTED_RENDITION,
};

/// The reason erasure's removal links give (`reason=erasure`).
pub const ERASURE_REASON: &str = "erasure";

/// What erasing `[start, end)` of a camera would remove: made by
/// [`Store::erasure_plan`], carried out by [`Store::erase`].
#[derive(Clone, Debug)]
pub struct ErasurePlan {
    /// The camera.
    pub camera: CameraId,
    /// Start of the interval asked for (inclusive).
    pub start: Time90k,
    /// End of the interval asked for (exclusive).
    pub end: Time90k,
    targets: Vec<Target>,
    blocked: Vec<ErasureBlock>,
}

/// A protection (evidence lock or restriction hold) that keeps part of an
/// interval from erasure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErasureBlock {
    /// The lock's or hold's id.
    pub protection: i64,
    /// `lock` or `hold`.
    pub kind: String,
    /// Start of the protection's interval.
    pub start: Time90k,
    /// End of the protection's interval.
    pub end: Time90k,
}

/// A contiguous stretch of one rendition that erasure removes: from the
/// first removed frame's time to the end of the last removed one (whole
/// GOPs, so it may reach past the interval asked for).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErasedSpan {
    /// `main`, `protected` or `original`.
    pub rendition: String,
    /// The first removed frame's time.
    pub start: Time90k,
    /// The end of the last removed frame.
    pub end: Time90k,
    /// Stored segments it touches (destroyed or rewritten).
    pub segments: usize,
}

/// What [`Store::erase`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Erasure {
    /// What went, per rendition ([`ErasurePlan::removes`]).
    pub removed: Vec<ErasedSpan>,
    /// What was kept by locks and holds.
    pub blocked: Vec<ErasureBlock>,
    /// Segments destroyed whole (key, row, object).
    pub segments_destroyed: usize,
    /// Segments partly removed: rewritten without the removed GOPs under
    /// fresh keys, the old one destroyed.
    pub segments_rewritten: usize,
}

/// One stored segment the plan touches.
#[derive(Clone, Debug)]
struct Target {
    row: SegmentRow,
    cut: Cut,
}

/// How a segment goes.
#[derive(Clone, Debug)]
enum Cut {
    /// Whole.
    Whole,
    /// Samples `from..to` (whole GOPs) go; the rest is rewritten.
    Part {
        index: SegmentIndex,
        from: usize,
        to: usize,
    },
}

impl Target {
    /// The removed stretch: `(start, end)`.
    fn removed(&self) -> (Time90k, Time90k) {
        let start = self.row.start_90k.0;
        match &self.cut {
            Cut::Whole => (
                self.row.start_90k,
                Time90k(start + self.row.duration_90k.max(0)),
            ),
            Cut::Part { index, from, to } => (
                Time90k(start + ticks_before(&index.samples, *from)),
                Time90k(start + ticks_before(&index.samples, *to)),
            ),
        }
    }

    /// Whether `self` and `other` remove the same from the same segment.
    fn same(&self, other: &Target) -> bool {
        self.row.id == other.row.id
            && match (&self.cut, &other.cut) {
                (Cut::Whole, Cut::Whole) => true,
                (Cut::Part { from, to, .. }, Cut::Part { from: f, to: t, .. }) => {
                    (from, to) == (f, t)
                }
                _ => false,
            }
    }
}

/// Sort order of renditions in spans: the default views, then `original`.
fn rendition_rank(r: &str) -> (u8, &str) {
    match r {
        MAIN_RENDITION => (0, r),
        PROTECTED_RENDITION => (1, r),
        ORIGINAL_RENDITION => (2, r),
        _ => (3, r),
    }
}

impl ErasurePlan {
    /// Whether no recording of the camera overlaps `[start, end)` (none to
    /// remove and none kept by a protection).
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.blocked.is_empty()
    }

    /// The protections that keep part of the interval, by id.
    pub fn blocked(&self) -> &[ErasureBlock] {
        &self.blocked
    }

    /// Exactly what [`Store::erase`] removes: per rendition (`main`,
    /// `protected`, `original`), each contiguous stretch in time order.
    pub fn removes(&self) -> Vec<ErasedSpan> {
        let mut pieces: Vec<(&str, Time90k, Time90k)> = self
            .targets
            .iter()
            .map(|t| {
                let (a, b) = t.removed();
                (t.row.rendition.as_str(), a, b)
            })
            .collect();
        pieces.sort_by_key(|(r, a, b)| (rendition_rank(r), *a, *b));
        let mut out: Vec<ErasedSpan> = Vec::new();
        for (r, a, b) in pieces {
            match out.last_mut() {
                Some(l) if l.rendition == r && a.0 - l.end.0 <= 1 => {
                    l.end = l.end.max(b);
                    l.segments += 1;
                }
                _ => out.push(ErasedSpan {
                    rendition: r.to_string(),
                    start: a,
                    end: b,
                    segments: 1,
                }),
            }
        }
        out
    }

    /// Renditions whose overlapped segments go whole rather than GOP by GOP:
    /// `original` (its segment keys may be sealed to an escrow recipient the
    /// server cannot open, so its GOPs cannot be cut out), and any rendition
    /// with a segment that cannot be read (a key already destroyed, a
    /// damaged index). Their spans in [`ErasurePlan::removes`] are whole
    /// segments.
    pub fn whole_segment_renditions(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .targets
            .iter()
            .filter(|t| matches!(t.cut, Cut::Whole) && t.row.rendition == ORIGINAL_RENDITION)
            .map(|t| t.row.rendition.as_str())
            .collect();
        out.dedup();
        out
    }

    /// Segments destroyed whole and segments rewritten.
    fn counts(&self) -> (usize, usize) {
        let whole = self
            .targets
            .iter()
            .filter(|t| matches!(t.cut, Cut::Whole))
            .count();
        (whole, self.targets.len() - whole)
    }

    /// Whether `other` (planned again) removes and keeps the same.
    fn same_as(&self, other: &ErasurePlan) -> bool {
        self.camera == other.camera
            && self.start == other.start
            && self.end == other.end
            && self.blocked == other.blocked
            && self.targets.len() == other.targets.len()
            && self
                .targets
                .iter()
                .zip(&other.targets)
                .all(|(a, b)| a.same(b))
    }
}

/// 90 kHz ticks of the first `n` samples.
fn ticks_before(samples: &[veil_media::mp4::Sample], n: usize) -> i64 {
    samples[..n].iter().map(|s| i64::from(s.duration_90k)).sum()
}

/// The samples `from..to` of a segment starting at `seg_start` that make
/// the GOPs (keyframe to next keyframe) overlapping `[start, end)`; `None`
/// when none does. Times are decode times, as the segment's start and
/// duration are.
pub(crate) fn gop_cut(
    samples: &[veil_media::mp4::Sample],
    seg_start: Time90k,
    start: Time90k,
    end: Time90k,
) -> Option<(usize, usize)> {
    // GOPs as (first sample, end sample, start time, end time).
    let mut gops: Vec<(usize, usize, i64, i64)> = Vec::new();
    let mut t = seg_start.0;
    for (i, s) in samples.iter().enumerate() {
        match gops.last_mut() {
            Some(g) if !s.is_key => {
                g.1 = i + 1;
            }
            _ => gops.push((i, i + 1, t, t)),
        }
        t += i64::from(s.duration_90k);
        if let Some(g) = gops.last_mut() {
            g.3 = t;
        }
    }
    let mut hit = gops
        .iter()
        .filter(|g| g.2 < end.0 && start.0 < g.3.max(g.2 + 1));
    let first = hit.next()?;
    let last = hit.next_back().unwrap_or(first);
    Some((first.0, last.1))
}

/// 90 kHz time of `ticks` in `timescale`.
fn ticks_to_90k(ticks: u64, timescale: u32) -> i64 {
    (u128::from(ticks) * u128::from(TIME_UNITS_PER_SEC as u64) / u128::from(timescale.max(1)))
        as i64
}

/// The part of a segment made of its samples `from..to` (whole GOPs): its
/// index, its media and its start relative to the segment's. Each extra
/// track keeps the samples whose time falls in that part's frames (before
/// the first frame too when the part starts the segment, after the last
/// when it ends it).
pub(crate) fn piece(
    index: &SegmentIndex,
    media: &[u8],
    from: usize,
    to: usize,
) -> (SegmentIndex, Vec<u8>, i64) {
    let n = index.samples.len();
    let v_from = ticks_before(&index.samples, from);
    let v_to = ticks_before(&index.samples, to);
    let byte = |k: usize| -> usize {
        index.samples[..k]
            .iter()
            .map(|s| s.size as usize)
            .sum::<usize>()
    };
    let mut out = media[byte(from)..byte(to)].to_vec();
    let mut tracks = Vec::new();
    for (ti, t) in index.tracks.iter().enumerate() {
        let base = index.track_offset(ti) as usize;
        let mut at = 0u64;
        let mut offset = 0usize;
        let mut kept: Vec<TrackSample> = Vec::new();
        let mut first_time = None;
        for s in &t.samples {
            let time = t.start_offset_90k + ticks_to_90k(at, t.timescale);
            at += u64::from(s.duration);
            let (a, b) = (base + offset, base + offset + s.size as usize);
            offset += s.size as usize;
            if (from == 0 || time >= v_from) && (to == n || time < v_to) {
                first_time.get_or_insert(time);
                kept.push(*s);
                out.extend_from_slice(&media[a..b]);
            }
        }
        if let Some(first) = first_time {
            tracks.push(TrackIndex {
                codec: t.codec.clone(),
                timescale: t.timescale,
                start_offset_90k: first - v_from,
                samples: kept,
            });
        }
    }
    (
        SegmentIndex {
            params: index.params.clone(),
            samples: index.samples[from..to].to_vec(),
            tracks,
        },
        out,
        v_from,
    )
}

impl Store {
    /// Plans the erasure of `[start, end)` of `camera` in every rendition:
    /// which segments go whole, which lose which GOPs, and which an active
    /// lock or hold keeps. Reads only. `start ≥ end` is refused
    /// ([`Error::Invalid`], naming the interval).
    pub async fn erasure_plan(
        &self,
        camera: CameraId,
        start: Time90k,
        end: Time90k,
    ) -> Result<ErasurePlan, Error> {
        if start >= end {
            return Err(Error::Invalid(format!(
                "the erasure interval's start ({}) must be before its end ({})",
                start.0, end.0
            )));
        }
        let this = self.clone();
        blocking(move || this.plan_erasure(camera, start, end)).await
    }

    fn plan_erasure(
        &self,
        camera: CameraId,
        start: Time90k,
        end: Time90k,
    ) -> Result<ErasurePlan, Error> {
        let rows = self.db.erasure_segments(camera, start, end)?;
        let protections: Vec<ProtectionRow> = self
            .db
            .protections(true)?
            .into_iter()
            .filter(|p| p.cameras.contains(&camera))
            .collect();
        let mut targets = Vec::new();
        let mut blocked: Vec<ErasureBlock> = Vec::new();
        for (row, state) in rows {
            let seg_end = row.start_90k.0 + row.duration_90k.max(1);
            let mut kept = false;
            for p in &protections {
                if row.start_90k < p.end && p.start.0 < seg_end {
                    kept = true;
                    if !blocked.iter().any(|b| b.protection == p.id) {
                        blocked.push(ErasureBlock {
                            protection: p.id,
                            kind: p.kind.as_str().to_string(),
                            start: p.start,
                            end: p.end,
                        });
                    }
                }
            }
            if kept {
                continue;
            }
            let cut = if row.rendition == ORIGINAL_RENDITION || state != "ok" {
                Cut::Whole
            } else {
                match self.open_index(&row, None) {
                    Ok((_, index)) => match gop_cut(&index.samples, row.start_90k, start, end) {
                        None => continue,
                        Some((0, to)) if to == index.samples.len() => Cut::Whole,
                        Some((from, to)) => Cut::Part { index, from, to },
                    },
                    // Unreadable already: nothing to cut, the row and
                    // object go.
                    Err(Opened::KeyDestroyed) | Err(Opened::OwnDataCorrupt(_)) => Cut::Whole,
                    Err(Opened::Fault(e)) => return Err(e),
                }
            };
            targets.push(Target { row, cut });
        }
        blocked.sort_by_key(|b| b.protection);
        Ok(ErasurePlan {
            camera,
            start,
            end,
            targets,
            blocked,
        })
    }

    /// Carries out an erasure plan (the caller has recorded it in the access
    /// record first). Holds [`Store::destruction_gate`] throughout, plans
    /// again and refuses ([`Error::Invalid`], erasing nothing) when the
    /// recordings or protections changed since `plan` was made. `detail`
    /// (space-separated `key=value`, e.g. `request=12`; may be empty) goes
    /// into the recording chains' removal links after `reason=erasure`.
    pub async fn erase(&self, plan: &ErasurePlan, detail: &str) -> Result<Erasure, Error> {
        chain::check_extra_detail(detail)
            .map_err(|m| Error::Invalid(format!("the erasure's detail: {m}")))?;
        let _gate = self.destruction_gate().await;
        let fresh = self.erasure_plan(plan.camera, plan.start, plan.end).await?;
        if !fresh.same_as(plan) {
            return Err(Error::Invalid(format!(
                "the recordings or protections of camera {} in the interval changed since the \
                 erasure was planned; plan it again (nothing was erased)",
                plan.camera.0
            )));
        }
        let (segments_destroyed, segments_rewritten) = fresh.counts();
        let done = Erasure {
            removed: fresh.removes(),
            blocked: fresh.blocked.clone(),
            segments_destroyed,
            segments_rewritten,
        };
        if fresh.targets.is_empty() {
            return Ok(done);
        }
        // 1. The rewritten remainders, each object durable.
        let mut new_rows = Vec::new();
        let written = self.write_remainders(&fresh, &mut new_rows).await;
        if let Err(e) = written {
            self.forget_objects(&new_rows).await;
            return Err(e);
        }
        crash_point("erasure.objects_written");
        // 2. One transaction: new rows and links in, old rows out (their
        // wrapped segment keys overwritten), removal links, new runs.
        let old: Vec<SegmentId> = fresh.targets.iter().map(|t| t.row.id).collect();
        let cuts: Vec<RunCut> = fresh
            .targets
            .iter()
            .map(|t| RunCut {
                rendition: t.row.rendition.clone(),
                run_start: t.row.run_start_90k,
                after: t.removed().1,
            })
            .collect();
        let (db, camera, extra, rows) = (
            self.db.clone(),
            plan.camera,
            detail.to_string(),
            new_rows.clone(),
        );
        let replaced = blocking(move || {
            db.replace_erased_segments(&old, &rows, &cuts, camera, ERASURE_REASON, &extra)
        })
        .await;
        let replaced = match replaced {
            Ok(r) => r,
            Err(e) => {
                self.forget_objects(&new_rows).await;
                return Err(e);
            }
        };
        crash_point("erasure.rows_replaced");
        // 3. No copy of the deleted rows left in the write-ahead log.
        let db = self.db.clone();
        blocking(move || db.truncate_wal_after_destruction()).await?;
        // 4. The old objects.
        for (_, key, _) in &replaced.gone {
            self.objects.delete(key).await?;
            crash_point("erasure.object_deleted");
        }
        tracing::info!(
            camera = plan.camera.0,
            destroyed = done.segments_destroyed,
            rewritten = done.segments_rewritten,
            blocked = done.blocked.len(),
            "recordings erased"
        );
        Ok(done)
    }

    /// Seals and stores the remainders of the partly erased segments of
    /// `plan` (before and after the removed GOPs), pushing each row to
    /// `rows` as soon as its object is durable.
    async fn write_remainders(
        &self,
        plan: &ErasurePlan,
        rows: &mut Vec<SegmentRow>,
    ) -> Result<(), Error> {
        for t in &plan.targets {
            let Cut::Part { index, from, to } = &t.cut else {
                continue;
            };
            let seg = Segment {
                row: t.row.clone(),
                index: index.clone(),
            };
            let media = self.read_media(&seg).await?;
            for (a, b) in [(0, *from), (*to, index.samples.len())] {
                if a == b {
                    continue;
                }
                let (idx, bytes, offset) = piece(index, &media, a, b);
                let new = NewSegment {
                    camera: t.row.camera_id,
                    rendition: t.row.rendition.clone(),
                    // The remainder after a removed stretch gets its run's
                    // new start in the transaction (`RunCut`).
                    run_start_90k: t.row.run_start_90k,
                    start_90k: Time90k(t.row.start_90k.0 + offset),
                    params: idx.params.clone(),
                    samples: Vec::new(),
                    tracks: Vec::new(),
                    media: bytes,
                    mask_version: t.row.mask_version_id,
                };
                rows.push(self.seal_and_put(new, idx).await?);
            }
        }
        Ok(())
    }

    /// Deletes the objects of rows that will not be inserted (recovery
    /// would delete them at the next start).
    async fn forget_objects(&self, rows: &[SegmentRow]) {
        for r in rows {
            if let Err(e) = self.objects.delete(&r.object_key).await {
                tracing::warn!(error = %e, "could not delete an erasure's unused object");
            }
        }
    }

    /// Tests only, never an API: a segment's own key and its wrapping as
    /// stored (`segment.wrapped_key`), so a test can look for their bytes
    /// in the data directory after erasure. `original` segments are
    /// refused.
    #[doc(hidden)]
    pub fn test_only_segment_key_bytes(
        &self,
        segment: SegmentId,
    ) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let row = self
            .db
            .segment_row_by_id(segment)?
            .ok_or_else(|| Error::NotFound(format!("segment {}", segment.0)))?;
        let key = self.segment_key(&row, None)?;
        Ok((key.as_bytes().to_vec(), row.wrapped_key.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veil_media::mp4::Sample;
    use veil_media::VideoParams;

    /// `gops` GOPs of `per` frames of 1000 ticks and 10 bytes each.
    fn samples(gops: usize, per: usize) -> Vec<Sample> {
        (0..gops * per)
            .map(|i| Sample::new(10, 1000, i % per == 0))
            .collect()
    }

    #[test]
    fn every_gop_overlapping_the_interval_goes() {
        let s = samples(4, 5); // GOPs at 0, 5000, 10000, 15000 (each 5000 long)
        let at = Time90k(100_000);
        let t = |x: i64| Time90k(100_000 + x);
        // Inside one GOP: that GOP.
        assert_eq!(gop_cut(&s, at, t(6000), t(7000)), Some((5, 10)));
        // Touching the next GOP's first tick: both.
        assert_eq!(gop_cut(&s, at, t(6000), t(10_001)), Some((5, 15)));
        // Ending exactly at a GOP's start: not that GOP.
        assert_eq!(gop_cut(&s, at, t(6000), t(10_000)), Some((5, 10)));
        // Starting exactly at a GOP's end: not that GOP.
        assert_eq!(gop_cut(&s, at, t(5000), t(5001)), Some((5, 10)));
        // Everything.
        assert_eq!(gop_cut(&s, at, t(-50), t(30_000)), Some((0, 20)));
        // Outside.
        assert_eq!(gop_cut(&s, at, t(20_000), t(30_000)), None);
        assert_eq!(gop_cut(&s, at, t(-10), t(0)), None);
    }

    #[test]
    fn a_piece_keeps_its_frames_and_the_track_samples_of_their_time() {
        let mut index = SegmentIndex {
            params: VideoParams {
                width: 16,
                height: 16,
                sps: vec![0x67],
                pps: vec![0x68],
            },
            samples: samples(3, 2), // 6 frames of 10 bytes, 1000 ticks each
            tracks: vec![],
        };
        index.tracks.push(TrackIndex {
            codec: veil_media::mp4::TrackCodec::OnvifMetadata,
            timescale: 90_000,
            start_offset_90k: -500,
            // Samples at -500, 1000, 2500, 4000, 5500.
            samples: (0..5)
                .map(|_| TrackSample {
                    size: 3,
                    duration: 1500,
                })
                .collect(),
        });
        let mut media: Vec<u8> = (0..60u8).collect();
        media.extend((0..15u8).map(|b| 100 + b));
        assert_eq!(media.len() as u64, index.media_bytes());
        // The first GOP: frames 0..2 (times 0..2000), track samples at -500
        // (before the first frame, kept with the start) and 1000.
        let (head, bytes, offset) = piece(&index, &media, 0, 2);
        assert_eq!(offset, 0);
        assert_eq!(head.samples, index.samples[..2]);
        assert_eq!(head.tracks[0].samples.len(), 2);
        assert_eq!(head.tracks[0].start_offset_90k, -500);
        let mut want: Vec<u8> = (0..20).collect();
        want.extend(100..106);
        assert_eq!(bytes, want);
        assert_eq!(bytes.len() as u64, head.media_bytes());
        // The last GOP: frames 4..6 (times 4000..6000): samples at 4000 and
        // 5500, the first now at the piece's start.
        let (tail, bytes, offset) = piece(&index, &media, 4, 6);
        assert_eq!(offset, 4000);
        assert_eq!(tail.tracks[0].start_offset_90k, 0);
        let mut want: Vec<u8> = (40..60).collect();
        want.extend(109..115);
        assert_eq!(bytes, want);
        assert_eq!(bytes.len() as u64, tail.media_bytes());
        // A piece with no track sample in its time has no track.
        index.tracks[0].samples.truncate(1);
        let media: Vec<u8> = (0..63u8).collect();
        let (tail, _, _) = piece(&index, &media, 4, 6);
        assert!(tail.tracks.is_empty());
    }
}
