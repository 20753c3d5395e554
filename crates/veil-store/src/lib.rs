//! Veil's storage: segments sealed under a key hierarchy, in an object store, with
//! their metadata in a SQL database; crash recovery; playback planning; recording.
//!
//! This crate is the only one that touches SQL and files. It knows nothing about
//! HTTP or the permission model.

pub mod crypto;
pub mod db;
pub mod keys;
pub mod objects;
pub mod playback;
pub mod recorder;
pub mod segment;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use veil_base::{CameraId, SegmentId, SharedClock, Time90k};
use veil_media::mp4::Sample;
use veil_media::VideoParams;

pub use db::Db;
pub use keys::Keyring;
pub use objects::{LocalDir, ObjectStore};
use segment::SegmentIndex;

/// The storage error kinds. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Stored data failed to authenticate or parse.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// An object or row does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A caller passed something unusable.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The metadata database failed.
    #[error("database error: {0}")]
    Database(String),
    /// The key needed to read this data has been destroyed.
    #[error("key destroyed: the data can no longer be decrypted")]
    KeyDestroyed,
    /// File-system or object-store I/O failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// The rendition recorded by the foundation: what people see.
pub const MAIN_RENDITION: &str = "main";

/// A segment ready to be sealed and stored.
#[derive(Clone, Debug)]
pub struct NewSegment {
    /// The camera.
    pub camera: CameraId,
    /// Rendition name.
    pub rendition: String,
    /// Start of the run (a continuous recording) it belongs to.
    pub run_start_90k: Time90k,
    /// Wall-clock time of its first frame.
    pub start_90k: Time90k,
    /// Codec parameters.
    pub params: VideoParams,
    /// Per-frame sizes, durations and key flags.
    pub samples: Vec<Sample>,
    /// Tracks recorded with the video (audio, metadata); empty for video only.
    pub tracks: Vec<segment::TrackIndex>,
    /// The frames' bytes, concatenated, then each track's samples in order.
    pub media: Vec<u8>,
}

/// A stored segment with its index unsealed (in memory only).
#[derive(Clone, Debug)]
pub struct Segment {
    /// The row.
    pub row: db::SegmentRow,
    /// The unsealed sample index.
    pub index: SegmentIndex,
}

impl Segment {
    /// Wall-clock end of the segment.
    pub fn end_90k(&self) -> Time90k {
        Time90k(self.row.start_90k.0 + self.row.duration_90k)
    }
}

/// What recovery found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Objects with no row (a crash between object and row), deleted.
    pub orphan_objects_deleted: usize,
    /// Leftovers of interrupted object writes, deleted.
    pub partial_writes_deleted: usize,
    /// Rows whose object is absent or has the wrong size, marked `missing`.
    pub rows_marked_missing: usize,
}

/// Storage for one installation.
#[derive(Clone)]
pub struct Store {
    /// The metadata repository.
    pub db: Db,
    objects: Arc<dyn ObjectStore>,
    keys: Keyring,
    clock: SharedClock,
    /// Held for the store's lifetime: one process per data directory.
    _lock: Option<Arc<std::fs::File>>,
}

/// File names inside a data directory.
pub struct DataDir {
    /// The directory.
    pub root: PathBuf,
}

impl DataDir {
    /// The root key file (0600).
    pub fn root_key(&self) -> PathBuf {
        self.root.join("root.key")
    }
    /// The access record's Ed25519 signing key (0600, PKCS#8 PEM), apart from
    /// the root key.
    pub fn audit_key(&self) -> PathBuf {
        self.root.join("audit.key")
    }
    /// The SQLite database.
    pub fn database(&self) -> PathBuf {
        self.root.join("veil.db")
    }
    /// The local object store.
    pub fn objects(&self) -> PathBuf {
        self.root.join("objects")
    }
    /// Locked while a process uses the directory.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("veil.lock")
    }
    /// TLS certificate and key.
    pub fn tls_dir(&self) -> PathBuf {
        self.root.join("tls")
    }
}

impl Store {
    /// Opens the default layout: SQLite and a local object directory under `dir`,
    /// creating the root key on first use.
    pub fn open_dir(dir: &Path, clock: SharedClock) -> Result<Store, Error> {
        use std::os::unix::fs::DirBuilderExt;
        if !dir.exists() {
            // Owner only: the directory holds the root key and the database.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let d = DataDir {
            root: dir.to_path_buf(),
        };
        // One process at a time: recovery deletes objects that have no row yet,
        // which would destroy a running recorder's in-flight segments.
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(d.lock_file())?;
        if lock.try_lock().is_err() {
            return Err(Error::Invalid(format!(
                "the data directory {} is in use by another Veil process",
                dir.display()
            )));
        }
        let root = keys::load_or_create_root_key(&d.root_key())?;
        let db = Db::open(&d.database())?;
        let objects = Arc::new(LocalDir::open(&d.objects())?);
        let mut store = Store::new(db, objects, root, clock);
        store._lock = Some(Arc::new(lock));
        Ok(store)
    }

    /// Assembles a store from its parts.
    pub fn new(
        db: Db,
        objects: Arc<dyn ObjectStore>,
        root: crypto::Key,
        clock: SharedClock,
    ) -> Store {
        let keys = Keyring::new(db.clone(), root);
        Store {
            db,
            objects,
            keys,
            clock,
            _lock: None,
        }
    }

    /// The clock this store uses.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The key hierarchy.
    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// Seals and stores a segment. The object is durable before the row is
    /// inserted (see `docs/design/storage.md`), so a crash leaves at worst an
    /// orphan object, which [`Store::recover`] deletes.
    pub async fn write_segment(&self, s: NewSegment) -> Result<SegmentId, Error> {
        let index = SegmentIndex {
            params: s.params,
            samples: s.samples,
            tracks: s.tracks,
        };
        if index.media_bytes() != s.media.len() as u64 {
            return Err(Error::Invalid(
                "segment media length differs from its sample sizes".into(),
            ));
        }
        if index.duration_90k() > segment::MAX_SEGMENT_90K {
            return Err(Error::Invalid(
                "a segment may last at most 15 minutes".into(),
            ));
        }
        if index.samples.first().map(|x| x.is_key) != Some(true) {
            return Err(Error::Invalid(
                "a segment must start with a keyframe".into(),
            ));
        }
        let this = self.clone();
        let rendition = s.rendition.clone();
        let (bucket_id, kek) = tokio::task::spawn_blocking(move || {
            this.keys
                .bucket_for_write(s.camera, &rendition, s.start_90k)
        })
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))??;
        let object_key = segment::object_key(s.camera, &s.rendition, s.start_90k, rand::random());
        let seg_key = crypto::Key::generate();
        let mut object = segment::OBJECT_MAGIC_V1.to_vec();
        object.extend_from_slice(&crypto::seal(
            &seg_key,
            &segment::media_aad(s.camera, &s.rendition, s.start_90k),
            &s.media,
        ));
        let row = db::SegmentRow {
            id: SegmentId(0),
            camera_id: s.camera,
            rendition: s.rendition.clone(),
            run_start_90k: s.run_start_90k,
            start_90k: s.start_90k,
            duration_90k: index.duration_90k(),
            frames: index.samples.len() as u32,
            media_bytes: s.media.len() as u64,
            object_key: object_key.clone(),
            object_bytes: object.len() as u64,
            bucket_key_id: Some(bucket_id),
            wrapped_key: crypto::wrap_key(&kek, &segment::segment_key_aad(&object_key), &seg_key),
            sealed_index: crypto::seal(
                &seg_key,
                &segment::index_aad(s.camera, &s.rendition, s.start_90k),
                &index.encode(),
            ),
        };
        self.objects.put(&object_key, object).await?;
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.insert_segment(&row))
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?
    }

    fn segment_key(&self, row: &db::SegmentRow) -> Result<crypto::Key, Error> {
        let bucket = row.bucket_key_id.ok_or(Error::KeyDestroyed)?;
        let kek = self
            .keys
            .bucket_by_id(bucket, row.camera_id, &row.rendition, row.start_90k)?;
        crypto::unwrap_key(
            &kek,
            &segment::segment_key_aad(&row.object_key),
            &row.wrapped_key,
        )
    }

    /// Readable segments overlapping `[start, end)` with their indexes unsealed.
    /// Segments whose key is gone or whose index fails to open are skipped (and
    /// marked corrupt in the latter case).
    pub fn segments(
        &self,
        camera: CameraId,
        rendition: &str,
        start: Time90k,
        end: Time90k,
    ) -> Result<Vec<Segment>, Error> {
        let rows = self.db.segments(camera, rendition, start, end)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let key = match self.segment_key(&row) {
                Ok(k) => k,
                Err(Error::KeyDestroyed) => continue,
                Err(e) => {
                    tracing::warn!(segment = row.id.0, error = %e, "segment key does not open; skipped");
                    self.db.mark_segment(row.id, "corrupt")?;
                    continue;
                }
            };
            let aad = segment::index_aad(row.camera_id, &row.rendition, row.start_90k);
            match crypto::open(&key, &aad, &row.sealed_index).and_then(|b| SegmentIndex::decode(&b))
            {
                Ok(index) => out.push(Segment { row, index }),
                Err(e) => {
                    tracing::warn!(segment = row.id.0, error = %e, "segment index does not open; skipped");
                    self.db.mark_segment(row.id, "corrupt")?;
                }
            }
        }
        Ok(out)
    }

    /// Reads and decrypts a segment's media. A segment that fails to authenticate
    /// or is absent is marked (`corrupt` / `missing`) so it is never served again.
    pub async fn read_media(&self, seg: &Segment) -> Result<Vec<u8>, Error> {
        let key = self.segment_key(&seg.row)?;
        let object = match self.objects.get(&seg.row.object_key).await {
            Ok(o) => o,
            Err(Error::NotFound(_)) => {
                self.mark(seg.row.id, "missing").await;
                return Err(Error::NotFound(format!("segment {}", seg.row.id)));
            }
            Err(e) => return Err(e),
        };
        let opened = object
            .strip_prefix(segment::OBJECT_MAGIC_V1.as_slice())
            .ok_or_else(|| Error::Corrupt("not a version 1 segment object".into()))
            .and_then(|body| {
                crypto::open(
                    &key,
                    &segment::media_aad(seg.row.camera_id, &seg.row.rendition, seg.row.start_90k),
                    body,
                )
            })
            .and_then(|m| {
                if m.len() as u64 == seg.index.media_bytes() {
                    Ok(m)
                } else {
                    Err(Error::Corrupt("media length differs from its index".into()))
                }
            });
        if let Err(e) = &opened {
            tracing::warn!(segment = seg.row.id.0, error = %e, "segment does not open; marked corrupt");
            self.mark(seg.row.id, "corrupt").await;
        }
        opened
    }

    async fn mark(&self, id: SegmentId, state: &'static str) {
        let db = self.db.clone();
        let r = tokio::task::spawn_blocking(move || db.mark_segment(id, state)).await;
        if !matches!(r, Ok(Ok(()))) {
            tracing::error!(segment = id.0, "could not mark segment {state}");
        }
    }

    /// Reconciles objects and rows after a crash: deletes objects without a row
    /// and leftovers of interrupted writes; marks rows without a (complete) object
    /// `missing`. Run before recording or serving starts.
    pub async fn recover(&self) -> Result<RecoveryReport, Error> {
        let mut report = RecoveryReport::default();
        let db = self.db.clone();
        let rows = tokio::task::spawn_blocking(move || db.segment_objects())
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))??;
        let known: std::collections::HashMap<&str, (SegmentId, u64, &str)> = rows
            .iter()
            .map(|(id, k, size, state)| (k.as_str(), (*id, *size, state.as_str())))
            .collect();
        let listed = self.objects.list().await?;
        for key in &listed {
            if key.ends_with(objects::TEMP_SUFFIX) {
                self.objects.delete(key).await?;
                report.partial_writes_deleted += 1;
            } else if !known.contains_key(key.as_str()) {
                self.objects.delete(key).await?;
                report.orphan_objects_deleted += 1;
            }
        }
        for (id, key, size, state) in &rows {
            if state != "ok" {
                continue;
            }
            if self.objects.size(key).await? != Some(*size) {
                self.db.mark_segment(*id, "missing")?;
                report.rows_marked_missing += 1;
            }
        }
        Ok(report)
    }

    /// Recorded runs (continuous stretches) of a camera overlapping
    /// `[start, end)`: `(start, end)` pairs, oldest first. Adjacent segments of
    /// the same run with no gap merge; a missing segment splits a run.
    pub fn runs(
        &self,
        camera: CameraId,
        rendition: &str,
        start: Time90k,
        end: Time90k,
    ) -> Result<Vec<(Time90k, Time90k)>, Error> {
        let rows = self.db.segments(camera, rendition, start, end)?;
        let mut out: Vec<(Time90k, Time90k, Time90k)> = Vec::new();
        for r in rows {
            let (s, e) = (r.start_90k, Time90k(r.start_90k.0 + r.duration_90k));
            match out.last_mut() {
                Some(last) if last.2 == r.run_start_90k && (s.0 - last.1 .0).abs() <= 1 => {
                    last.1 = e
                }
                _ => out.push((s, e, r.run_start_90k)),
            }
        }
        Ok(out.into_iter().map(|(s, e, _)| (s, e)).collect())
    }
}
