//! Masks between a camera and everything that sees its video.
//!
//! [`MaskBoard`] holds every camera's current mask version; the web layer
//! publishes a new one after storing it ([`Store::publish_masks`]) and the
//! recorders take it at the camera's next keyframe. [`MaskStage`] is what a
//! recorder puts in front of its live hub, motion detector, pre-buffer and
//! segmenter: a camera without masks passes through untouched (never
//! decoded); a camera with masks goes through a
//! [`veil_media::masking::MaskPipeline`], so only masked pictures come out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::watch;
use veil_base::CameraId;
use veil_media::mask::{self, Mask};
use veil_media::masking::{EncodeSettings, MaskPipeline, MaskPlan, MaskedFrame, StageTimes};
use veil_media::VideoParams;

use crate::{Error, Store, MAIN_RENDITION, PROTECTED_RENDITION};

/// A camera's masks as the recorders apply them.
#[derive(Debug, PartialEq)]
pub struct MaskVersion {
    /// The `mask_version` row (what segments name).
    pub id: i64,
    /// Where each mask goes.
    pub plan: MaskPlan,
}

type Current = Option<Arc<MaskVersion>>;

/// Every camera's current masks, watched by its recorder.
#[derive(Clone, Default)]
pub struct MaskBoard {
    cameras: Arc<Mutex<HashMap<CameraId, watch::Sender<Current>>>>,
}

/// Parses a stored version: `None` when it has no masks (passthrough).
fn version_of(id: i64, json: &str) -> Result<Current, Error> {
    let masks: Vec<Mask> = serde_json::from_str(json)
        .map_err(|e| Error::Corrupt(format!("mask version {id}: {e}")))?;
    let masks =
        mask::check(&masks).map_err(|e| Error::Corrupt(format!("mask version {id}: {e}")))?;
    let plan = MaskPlan::new(&masks);
    Ok((!plan.is_empty()).then(|| Arc::new(MaskVersion { id, plan })))
}

impl Store {
    fn current_mask_version(&self, camera: CameraId) -> Result<Current, Error> {
        match self.db.current_masks(camera)? {
            Some(row) => version_of(row.id, &row.masks),
            None => Ok(None),
        }
    }

    /// Follows a camera's masks: the current version now, every new one as
    /// it is published.
    pub fn watch_masks(&self, camera: CameraId) -> Result<watch::Receiver<Current>, Error> {
        let mut cameras = self.masks.cameras.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = cameras.get(&camera) {
            return Ok(tx.subscribe());
        }
        let (tx, rx) = watch::channel(self.current_mask_version(camera)?);
        cameras.insert(camera, tx);
        Ok(rx)
    }

    /// Tells the camera's recorder about its latest stored mask version
    /// (after `PUT …/masks`); it applies from the next keyframe.
    pub fn publish_masks(&self, camera: CameraId) -> Result<(), Error> {
        let current = self.current_mask_version(camera)?;
        let mut cameras = self.masks.cameras.lock().unwrap_or_else(|p| p.into_inner());
        match cameras.get(&camera) {
            Some(tx) => {
                tx.send_replace(current);
            }
            None => {
                cameras.insert(camera, watch::channel(current).0);
            }
        }
        Ok(())
    }
}

/// The rendition everyone sees is stored as: `protected` when made with a
/// mask version, `main` when passed through.
pub fn recorded_rendition(mask_version: Option<i64>) -> &'static str {
    if mask_version.is_some() {
        PROTECTED_RENDITION
    } else {
        MAIN_RENDITION
    }
}

/// One picture as it leaves the stage.
#[derive(Clone, Debug)]
pub struct StagedFrame {
    /// The mask version it was made with (`None`: passed through).
    pub mask_version: Option<i64>,
    /// Presentation time in the caller's units (as it came in).
    pub pts: i64,
    /// Whether it is a keyframe.
    pub is_key: bool,
    /// What is recorded for everyone (`main` when passed through,
    /// `protected` when masked).
    pub recorded: Picture,
    /// The `original` rendition, when the masks have liftable ones.
    pub original: Option<Picture>,
    /// What live view shows, when it differs from `recorded`.
    pub live: Option<Picture>,
}

impl StagedFrame {
    /// The rendition `recorded` is stored as.
    pub fn rendition(&self) -> &'static str {
        recorded_rendition(self.mask_version)
    }

    /// The picture live view shows.
    pub fn live_picture(&self) -> &Picture {
        self.live.as_ref().unwrap_or(&self.recorded)
    }
}

/// One encoded picture with its parameter sets.
#[derive(Clone, Debug)]
pub struct Picture {
    /// Its codec parameters.
    pub params: Arc<VideoParams>,
    /// 4-byte length-prefixed NAL units.
    pub data: Bytes,
}

/// Measures a camera's incoming bitrate and frame rate over whole GOPs, so
/// re-encoding keeps the camera's own rate.
#[derive(Default)]
struct RateProbe {
    /// Presentation time and bytes since the GOP began.
    gop: Option<(i64, u64, u32)>,
}

impl RateProbe {
    /// Counts a frame; at a keyframe returns the rate of the GOP it ends.
    fn frame(&mut self, pts_90k: i64, is_key: bool, bytes: usize) -> Option<EncodeSettings> {
        let mut done = None;
        if is_key {
            if let Some((start, total, frames)) = self.gop.take() {
                let span = pts_90k - start;
                if span > 0 && frames > 1 {
                    let secs = span as f64 / 90_000.0;
                    done = Some(EncodeSettings {
                        bitrate_bps: ((total as f64 * 8.0 / secs) as u64).clamp(100_000, 50_000_000)
                            as u32,
                        fps: ((f64::from(frames) / secs) as f32).clamp(1.0, 120.0),
                    });
                }
            }
            self.gop = Some((pts_90k, 0, 0));
        }
        if let Some((_, total, frames)) = &mut self.gop {
            *total += bytes as u64;
            *frames += 1;
        }
        done
    }
}

/// A recorder's mask stage (see the module documentation).
pub struct MaskStage {
    camera: CameraId,
    rx: watch::Receiver<Current>,
    /// The version in force and its pipeline.
    active: Option<(Arc<MaskVersion>, MaskPipeline)>,
    probe: RateProbe,
    /// The camera's measured rate, once known.
    rate: Option<EncodeSettings>,
    /// Time spent by pipelines already finished.
    past: StageTimes,
    /// Whether a keyframe came in yet.
    keyed: bool,
}

impl MaskStage {
    /// A stage following the camera's masks.
    pub fn new(store: &Store, camera: CameraId) -> Result<MaskStage, Error> {
        Ok(MaskStage {
            camera,
            rx: store.watch_masks(camera)?,
            active: None,
            probe: RateProbe::default(),
            rate: None,
            past: StageTimes::default(),
            keyed: false,
        })
    }

    /// Whether frames are being masked now.
    pub fn masking(&self) -> Option<i64> {
        self.active.as_ref().map(|(v, _)| v.id)
    }

    /// Time spent decoding, masking and encoding so far.
    pub fn times(&self) -> StageTimes {
        let mut t = self.past;
        if let Some((_, p)) = &self.active {
            let now = p.times();
            t.decode += now.decode;
            t.mask += now.mask;
            t.encode += now.encode;
            t.frames += now.frames;
            t.lost += now.lost;
        }
        t
    }

    fn retire(&mut self, out: &mut Vec<StagedFrame>) -> Result<(), veil_media::Error> {
        if let Some((v, mut p)) = self.active.take() {
            let done = p.finish();
            let t = p.times();
            self.past.decode += t.decode;
            self.past.mask += t.mask;
            self.past.encode += t.encode;
            self.past.frames += t.frames;
            self.past.lost += t.lost;
            out.extend(done?.into_iter().map(|f| staged(v.id, f)));
        }
        Ok(())
    }

    /// Takes one frame as the camera sent it (decode order, AVC form,
    /// presentation time in 90 kHz units); returns the frames ready to go
    /// on, in presentation order when masked (in decode order, unchanged,
    /// when not). A new mask version is taken at a keyframe. An error means
    /// the stream cannot be decoded: the caller ends the session (nothing
    /// unmasked came out) and reconnects.
    pub fn push(
        &mut self,
        params: &Arc<VideoParams>,
        pts_90k: i64,
        is_key: bool,
        data: Bytes,
    ) -> Result<Vec<StagedFrame>, veil_media::Error> {
        let mut out = Vec::new();
        if !self.keyed {
            // Before the stream's first keyframe nothing can be decoded, so
            // nothing is masked: such frames never leave the stage.
            if !is_key {
                return Ok(out);
            }
            self.keyed = true;
        }
        if let Some(rate) = self.probe.frame(pts_90k, is_key, data.len()) {
            self.rate = Some(rate);
        }
        if is_key {
            let latest = self.rx.borrow_and_update().clone();
            let same = match (&latest, &self.active) {
                (Some(l), Some((a, _))) => l.id == a.id,
                (None, None) => true,
                _ => false,
            };
            if !same {
                self.retire(&mut out)?;
                if let Some(v) = latest {
                    let settings = self
                        .rate
                        .unwrap_or_else(|| EncodeSettings::guess(params.width, params.height));
                    let pipeline = MaskPipeline::new(&v.plan, settings)?;
                    tracing::info!(
                        camera = self.camera.0,
                        version = v.id,
                        "masking from this keyframe"
                    );
                    self.active = Some((v, pipeline));
                }
            }
        }
        match &mut self.active {
            None => out.push(StagedFrame {
                mask_version: None,
                pts: pts_90k,
                is_key,
                recorded: Picture {
                    params: params.clone(),
                    data,
                },
                original: None,
                live: None,
            }),
            Some((v, p)) => {
                if let Some(rate) = self.rate {
                    p.retune(rate);
                }
                let id = v.id;
                let frames = p.push(params, pts_90k, is_key, &data)?;
                out.extend(frames.into_iter().map(|f| staged(id, f)));
            }
        }
        Ok(out)
    }

    /// The frames still inside the pipeline, at the end of a stream.
    pub fn finish(&mut self) -> Result<Vec<StagedFrame>, veil_media::Error> {
        let mut out = Vec::new();
        self.retire(&mut out)?;
        Ok(out)
    }
}

fn picture(p: veil_media::masking::EncodedPicture) -> Picture {
    Picture {
        params: p.params,
        data: Bytes::from(p.data),
    }
}

fn staged(version: i64, f: MaskedFrame) -> StagedFrame {
    StagedFrame {
        mask_version: Some(version),
        pts: f.pts,
        is_key: f.is_key,
        recorded: picture(f.protected),
        original: f.original.map(picture),
        live: f.live.map(picture),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veil_base::{SystemClock, Time90k};
    use veil_media::synthetic::{SyntheticCamera, SyntheticConfig};

    #[test]
    fn a_masked_camera_passes_nothing_before_its_first_keyframe() {
        let dir = tempfile::tempdir().unwrap();
        let clock: veil_base::SharedClock = Arc::new(SystemClock);
        let store = Store::open_dir(dir.path(), clock.clone()).unwrap();
        let camera = store
            .db
            .upsert_camera("c", "synthetic", "{}", clock.now())
            .unwrap();
        let masks = r#"[{"kind": "permanent", "fill": "solid", "name": "Window",
            "reason": "a neighbour's window in view",
            "polygon": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]}]"#;
        let version = store
            .db
            .insert_mask_version(camera, masks, None, Time90k(0))
            .unwrap();
        let mut cam = SyntheticCamera::new(SyntheticConfig::default()).unwrap();
        let params = Arc::new(cam.params().clone());
        let key = cam.next_frame("A").unwrap();
        let next = cam.next_frame("B").unwrap();
        let mut stage = MaskStage::new(&store, camera).unwrap();
        // Joined mid-GOP: the frame is dropped, not passed on unmasked.
        let out = stage
            .push(&params, 0, false, next.data.clone().into())
            .unwrap();
        assert!(out.is_empty());
        let mut all = stage.push(&params, 3600, true, key.data.into()).unwrap();
        all.extend(stage.push(&params, 7200, false, next.data.into()).unwrap());
        all.extend(stage.finish().unwrap());
        let times: Vec<i64> = all.iter().map(|f| f.pts).collect();
        assert_eq!(
            times,
            [3600, 7200],
            "both frames after the keyframe came out"
        );
        assert!(all.iter().all(|f| f.mask_version == Some(version)));
        assert_eq!(all[0].rendition(), crate::PROTECTED_RENDITION);
    }

    #[test]
    fn the_probe_measures_whole_gops() {
        let mut p = RateProbe::default();
        // 25 fps, 10-frame GOPs of 10 kB per frame: 2 Mbit/s.
        let mut got = Vec::new();
        for i in 0..25i64 {
            if let Some(s) = p.frame(i * 3600, i % 10 == 0, 10_000) {
                got.push(s);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].bitrate_bps, 2_000_000);
        assert!((got[0].fps - 25.0).abs() < 0.01);
    }
}
