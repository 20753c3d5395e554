//! Streams recorded besides video: the camera's audio (AAC) and ONVIF
//! metadata, each only when the camera is configured for it with a documented
//! purpose. This module chooses which described streams to set up, collects
//! their frames with wall-clock times on the video's timeline, and attaches
//! them to the video segment of the same time before it is stored, so they are
//! sealed, kept and erased with it.
//!
//! Not here: video (see `rtsp`), live view (audio is not sent to live viewers).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use retina::codec::{CodecItem, ParametersRef};
use veil_base::{Time90k, TIME_UNITS_PER_SEC};
use veil_media::mp4::{TrackCodec, TrackSample};
use veil_store::segment::TrackIndex;
use veil_store::NewSegment;

use crate::ExtraStreams;

/// Most frames kept waiting for their segment per track (a bound on memory
/// if video stops while audio goes on): about 3.5 minutes of 48 kHz AAC.
const MAX_PENDING: usize = 10_000;
/// How long the writer waits for audio to reach a segment's end before
/// storing it (audio and video packets arrive interleaved, not in lockstep).
const AUDIO_WAIT: Duration = Duration::from_millis(500);
/// Audio silent for this long counts as gone: the writer stops waiting for it.
const AUDIO_GONE: Duration = Duration::from_secs(2);

/// A metadata document that arrives after its segment was stored joins the
/// next one if it is at most this late (else it was outside any recording).
const MAX_DOC_LATENESS_90K: i64 = 2 * TIME_UNITS_PER_SEC;

/// The ONVIF metadata encoding Veil records (uncompressed XML).
const ONVIF_ENCODING: &str = "vnd.onvif.metadata";

/// The streams to set up besides video, and what the status says about them.
#[derive(Debug, Default)]
pub(crate) struct Selection {
    /// The AAC audio stream's index.
    pub audio: Option<usize>,
    /// The ONVIF metadata stream's index.
    pub metadata: Option<usize>,
    /// One line per enabled stream: recorded, or why not.
    pub notes: Vec<String>,
}

/// Chooses the streams to set up. A stream that is not enabled is never
/// chosen (and never mentioned).
pub(crate) fn select(streams: &[retina::client::Stream], extra: ExtraStreams) -> Selection {
    let mut sel = Selection::default();
    if extra.audio {
        let audio = streams.iter().position(|s| s.media() == "audio");
        match audio {
            Some(i) if streams[i].encoding_name() == "mpeg4-generic" => {
                sel.audio = Some(i);
                sel.notes.push("audio: recording AAC".into());
            }
            Some(i) => sel.notes.push(format!(
                "audio: the camera's audio codec ({}) cannot be recorded, only AAC can; \
                 video is recorded without sound",
                streams[i].encoding_name()
            )),
            None => sel
                .notes
                .push("audio: enabled, but the camera offers no audio stream".into()),
        }
    }
    if extra.metadata {
        let onvif = streams
            .iter()
            .position(|s| s.media() == "application" && s.encoding_name() == ONVIF_ENCODING);
        let other = streams.iter().position(|s| {
            s.media() == "application" && s.encoding_name().starts_with(ONVIF_ENCODING)
        });
        match (onvif, other) {
            (Some(i), _) => {
                sel.metadata = Some(i);
                sel.notes.push("metadata: recording ONVIF metadata".into());
            }
            (None, Some(i)) => sel.notes.push(format!(
                "metadata: the camera's metadata encoding ({}) cannot be recorded, only \
                 uncompressed ONVIF XML can",
                streams[i].encoding_name()
            )),
            (None, None) => sel
                .notes
                .push("metadata: enabled, but the camera offers no ONVIF metadata stream".into()),
        }
    }
    sel
}

/// A frame waiting for its segment.
struct Pending {
    /// Wall-clock time of the frame.
    time_90k: i64,
    /// Duration in the track's timescale (audio; metadata is timed by gaps).
    duration: u32,
    data: Bytes,
}

#[derive(Default)]
struct Buffers {
    /// The audio configuration and timescale of the frames in `audio`.
    audio_codec: Option<(TrackCodec, u32)>,
    audio: VecDeque<Pending>,
    /// Arrival of the latest audio frame (for the writer's wait).
    audio_arrived: Option<Instant>,
    metadata: VecDeque<Pending>,
}

/// Where a camera time falls on the wall clock: the current run's start and
/// its first frame's camera time (both from the video).
pub(crate) type Anchor = (Time90k, i64);

/// Collects audio and metadata frames for one camera and hands them to the
/// writer with the video segment of their time. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Collector(Arc<Mutex<Buffers>>);

impl Collector {
    fn lock(&self) -> std::sync::MutexGuard<'_, Buffers> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a non-video item of the selected streams. Frames before the
    /// run's first video frame (no `anchor`) are dropped: there is no segment
    /// to hold them.
    pub fn push(
        &self,
        item: CodecItem,
        sel: &Selection,
        params: Option<ParametersRef<'_>>,
        anchor: Option<Anchor>,
    ) {
        let Some((run_start, first_camera_90k)) = anchor else {
            return;
        };
        let wall = |ts: retina::Timestamp| {
            let camera_90k = (i128::from(ts.elapsed()) * i128::from(TIME_UNITS_PER_SEC)
                / i128::from(ts.clock_rate().get())) as i64;
            run_start.0 + (camera_90k - first_camera_90k)
        };
        match item {
            CodecItem::AudioFrame(f) if Some(f.stream_id()) == sel.audio => {
                let Some(ParametersRef::Audio(p)) = params else {
                    return;
                };
                let codec = TrackCodec::Aac {
                    channels: p.channels().get(),
                    config: p.extra_data().to_vec(),
                };
                let timescale = p.clock_rate();
                let mut b = self.lock();
                if b.audio_codec.as_ref() != Some(&(codec.clone(), timescale)) {
                    // New parameters: frames of the old ones cannot share a track.
                    b.audio.clear();
                    b.audio_codec = Some((codec, timescale));
                }
                push_bounded(
                    &mut b.audio,
                    Pending {
                        time_90k: wall(f.timestamp()),
                        duration: f.frame_length().get(),
                        data: Bytes::copy_from_slice(f.data()),
                    },
                );
                b.audio_arrived = Some(Instant::now());
            }
            CodecItem::MessageFrame(m) if Some(m.stream_id()) == sel.metadata => {
                let mut b = self.lock();
                push_bounded(
                    &mut b.metadata,
                    Pending {
                        time_90k: wall(m.timestamp()),
                        duration: 0,
                        data: Bytes::copy_from_slice(m.data()),
                    },
                );
            }
            _ => {}
        }
    }

    /// Adds to `seg` the audio and metadata of its time: frames from its start
    /// up to its end. Waits (briefly) for audio to reach the end. Audio that
    /// arrives after its segment was stored is dropped; a metadata document
    /// that does is kept at the start of the next segment, unless it is more
    /// than 2 s older than that segment (then it is from unrecorded time).
    pub async fn attach(&self, seg: &mut NewSegment) {
        let start = seg.start_90k.0;
        let end = start
            + seg
                .samples
                .iter()
                .map(|s| i64::from(s.duration_90k))
                .sum::<i64>();
        let waited = Instant::now();
        loop {
            let ready = {
                let b = self.lock();
                let reached = b.audio.back().is_none_or(|f| f.time_90k >= end);
                let gone = b.audio_arrived.is_none_or(|t| t.elapsed() > AUDIO_GONE);
                b.audio_codec.is_none() || reached || gone
            };
            if ready || waited.elapsed() > AUDIO_WAIT {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut b = self.lock();
        if let Some((codec, timescale)) = b.audio_codec.clone() {
            while b.audio.front().is_some_and(|f| f.time_90k < start) {
                b.audio.pop_front();
            }
            let frames = take_before(&mut b.audio, end);
            if let Some(first) = frames.first() {
                let track = TrackIndex {
                    codec,
                    timescale,
                    start_offset_90k: first.time_90k - start,
                    samples: frames
                        .iter()
                        .map(|f| TrackSample {
                            size: f.data.len() as u32,
                            duration: f.duration,
                        })
                        .collect(),
                };
                append(seg, track, &frames);
            }
        }
        // A document older than this before the segment was not late: it
        // belongs to time that was not recorded (standby before a motion
        // event, outside a schedule) and is dropped with it.
        while b
            .metadata
            .front()
            .is_some_and(|d| d.time_90k < start - MAX_DOC_LATENESS_90K)
        {
            b.metadata.pop_front();
        }
        let mut docs = take_before(&mut b.metadata, end);
        if !docs.is_empty() {
            for d in &mut docs {
                d.time_90k = d.time_90k.max(start);
            }
            let samples = docs
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let next = docs.get(i + 1).map_or(end, |n| n.time_90k);
                    TrackSample {
                        size: d.data.len() as u32,
                        duration: (next - d.time_90k).clamp(1, i64::from(u32::MAX)) as u32,
                    }
                })
                .collect();
            let track = TrackIndex {
                codec: TrackCodec::OnvifMetadata,
                timescale: TIME_UNITS_PER_SEC as u32,
                start_offset_90k: docs[0].time_90k - start,
                samples,
            };
            append(seg, track, &docs);
        }
    }
}

fn push_bounded(q: &mut VecDeque<Pending>, p: Pending) {
    if q.len() >= MAX_PENDING {
        q.pop_front();
    }
    q.push_back(p);
}

/// Removes and returns the frames before `end` (the queue is in time order).
fn take_before(q: &mut VecDeque<Pending>, end: i64) -> Vec<Pending> {
    let n = q.iter().take_while(|f| f.time_90k < end).count();
    q.drain(..n).collect()
}

fn append(seg: &mut NewSegment, track: TrackIndex, frames: &[Pending]) {
    for f in frames {
        seg.media.extend_from_slice(&f.data);
    }
    seg.tracks.push(track);
}

#[cfg(test)]
mod tests {
    use super::*;
    use veil_base::CameraId;
    use veil_media::mp4::Sample;
    use veil_media::VideoParams;

    fn segment(start: i64, seconds: i64) -> NewSegment {
        NewSegment {
            camera: CameraId(1),
            rendition: "main".into(),
            run_start_90k: Time90k(start),
            start_90k: Time90k(start),
            params: VideoParams {
                width: 320,
                height: 240,
                sps: vec![0x67],
                pps: vec![0x68],
            },
            samples: vec![Sample::new(1, (seconds * TIME_UNITS_PER_SEC) as u32, true)],
            media: vec![0],
            mask_version: None,
            tracks: Vec::new(),
        }
    }

    fn doc(c: &Collector, time_90k: i64, text: &str) {
        push_bounded(
            &mut c.lock().metadata,
            Pending {
                time_90k,
                duration: 0,
                data: Bytes::copy_from_slice(text.as_bytes()),
            },
        );
    }

    #[tokio::test]
    async fn metadata_from_unrecorded_time_is_dropped_late_documents_join_the_next_segment() {
        let s = TIME_UNITS_PER_SEC;
        let c = Collector::default();
        doc(&c, 0, "standby, long before the event");
        doc(&c, 99 * s, "late for the previous segment");
        doc(&c, 101 * s, "inside");
        doc(&c, 111 * s, "after");
        let mut seg = segment(100 * s, 10);
        c.attach(&mut seg).await;
        assert_eq!(seg.tracks.len(), 1);
        let t = &seg.tracks[0];
        assert_eq!(t.samples.len(), 2);
        assert_eq!(
            t.start_offset_90k, 0,
            "the late document starts the segment"
        );
        let tail = String::from_utf8_lossy(&seg.media[1..]).into_owned();
        assert_eq!(tail, "late for the previous segmentinside");
        assert_eq!(c.lock().metadata.len(), 1, "the next document waits");
    }
}
