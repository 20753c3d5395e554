//! The key hierarchy: root key → bucket keys (one per camera, rendition and hour)
//! → segment keys (one per segment).
//!
//! The root key lives in a 0600 file in the data directory and never in the
//! database. Bucket keys are stored only wrapped by the root key; segment keys only
//! wrapped by their bucket key. Destroying a bucket key (deleting its row) makes
//! every segment of that hour unreadable, including copies of the objects taken
//! earlier: this is how retention destroys.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use veil_base::{CameraId, Time90k, UserId};

use crate::crypto::{self, Key};
use crate::db::Db;
use crate::root::Roots;
use crate::segment::{bucket_key_aad, bucket_start};
use crate::Error;

/// AAD of a camera's sealed credentials.
pub(crate) fn camera_secret_aad(camera: CameraId) -> Vec<u8> {
    let mut v = b"veil/camera-credentials/v1".to_vec();
    v.extend_from_slice(&camera.0.to_be_bytes());
    v
}

/// AAD of a lock's or hold's own key wrapped under the root.
pub fn protection_key_aad(protection: i64) -> Vec<u8> {
    let mut v = b"veil/protection-key/v1".to_vec();
    v.extend_from_slice(&protection.to_be_bytes());
    v
}

/// Creates the secret file `path` (mode 0600, exclusively) holding `contents`
/// and makes it durable. Returns `false`, writing nothing, if it exists.
pub fn create_secret_file(path: &Path, contents: &[u8]) -> Result<bool, Error> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut f) => {
            f.write_all(contents)?;
            f.sync_all()?;
            if let Some(dir) = path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Reads the secret file `path` (`what` names it in errors), refusing one
/// that group or others can read.
pub fn read_secret_file(path: &Path, what: &str) -> Result<String, Error> {
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(Error::Invalid(format!(
            "the {what} file has permissions {:o}; it must be readable by its owner only (chmod 600)",
            mode & 0o777
        )));
    }
    Ok(std::fs::read_to_string(path)?)
}

/// Creates the root key at `path` (mode 0600, exclusively) for a new data
/// directory, or loads the one already there (a key restored before the first
/// start). Only [`crate::Store::open_dir`] calls this, and only when the data
/// directory has no database yet: an existing installation uses
/// [`load_root_key`], which never creates a key.
pub fn load_or_create_root_key(path: &Path) -> Result<Key, Error> {
    let k = Key::generate();
    if create_secret_file(path, format!("{}\n", hex::encode(k.as_bytes())).as_bytes())? {
        return Ok(k);
    }
    load_root_key(path)
}

/// Loads the root key of an existing data directory from `path`. A missing
/// file is an error naming it: a new key would make every recording, camera
/// credential and second-factor seed sealed under the old one unreadable.
/// Refuses a key file that group or others can read.
pub fn load_root_key(path: &Path) -> Result<Key, Error> {
    if !path.exists() {
        return Err(Error::Invalid(format!(
            "the root key file {} is missing, but this data directory already has a database. \
             Veil does not create a new key for an existing installation: recordings, camera \
             credentials and second-factor seeds sealed under the old key could never be opened \
             again. Restore root.key from your backup (mode 0600) and start again",
            path.display()
        )));
    }
    let text = read_secret_file(path, "root key")?;
    let raw = zeroize::Zeroizing::new(
        hex::decode(text.trim())
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "the root key file {} does not hold 64 hex digits",
                    path.display()
                ))
            })?,
    );
    drop(zeroize::Zeroizing::new(text));
    Ok(Key::from_bytes(*raw))
}

/// The `setting` row holding the root key's check value.
const ROOT_CHECK_SETTING: &str = "root_key_check";
/// What the check value seals, and its associated data.
const ROOT_CHECK_AAD: &[u8] = b"veil/root-key-check/v1";

/// Verifies that `root` is the key this database was sealed under, by opening
/// the check value stored at setup. A database from before check values (or
/// one whose first start stopped before writing it) is checked against a
/// stored bucket key when it has one, then given its check value. `path` names
/// the key file in the error.
pub fn verify_root_key(db: &Db, root: &Key, path: &Path) -> Result<(), Error> {
    let wrong = || {
        Error::Invalid(format!(
            "the root key in {} is not the key of this database (its check value does not open). \
             Nothing was changed. Restore the root.key that belongs to this data directory",
            path.display()
        ))
    };
    if let Some(check) = db.setting(ROOT_CHECK_SETTING)? {
        let sealed = hex::decode(check.trim()).map_err(|_| {
            Error::Corrupt("the root key's check value in the database is not hex".into())
        })?;
        return match crypto::open(root, ROOT_CHECK_AAD, &sealed) {
            Ok(_) => Ok(()),
            Err(Error::Corrupt(_)) => Err(wrong()),
            Err(e) => Err(e),
        };
    }
    if let Some((camera, rendition, start, wrapped)) = db.any_bucket_key()? {
        if crypto::unwrap_key(root, &bucket_key_aad(camera, &rendition, start), &wrapped).is_err() {
            return Err(wrong());
        }
    }
    let sealed = crypto::seal(root, ROOT_CHECK_AAD, ROOT_CHECK_AAD);
    db.set_setting(ROOT_CHECK_SETTING, &hex::encode(sealed))
}

type Scope = (CameraId, String, Time90k);

pub(crate) fn user_secret_aad(user: UserId) -> Vec<u8> {
    format!("veil-user-secret-v1:{}", user.0).into_bytes()
}

/// Hands out bucket keys, creating them on first use; keeps unwrapped keys in
/// memory only.
#[derive(Clone)]
pub struct Keyring {
    db: Db,
    /// The live root versions; rotation installs a new current one and
    /// forgets destroyed ones while the keyring is in use.
    roots: Arc<RwLock<Roots>>,
    cache: Arc<Mutex<HashMap<Scope, (i64, Key)>>>,
    /// Tests widen the window between clearing the cache and deleting the row.
    #[cfg(test)]
    pause_in_destroy: Arc<Mutex<Option<std::time::Duration>>>,
}

impl Keyring {
    /// A keyring over `db` under `root`.
    pub fn new(db: Db, root: Key) -> Keyring {
        Keyring::with_roots(db, Roots::single(1, root))
    }

    /// A keyring over `db` with every live root version.
    pub fn with_roots(db: Db, roots: Roots) -> Keyring {
        Keyring {
            db,
            roots: Arc::new(RwLock::new(roots)),
            cache: Arc::default(),
            #[cfg(test)]
            pause_in_destroy: Arc::default(),
        }
    }

    fn roots(&self) -> std::sync::RwLockReadGuard<'_, Roots> {
        self.roots.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The root version new values are wrapped under.
    pub fn root_version(&self) -> u32 {
        self.roots().current
    }

    /// A 32-byte key derived from the current root key for `label`
    /// (HKDF-SHA256, no salt, `label` as the info): every node that shares
    /// the root key derives the same value, nobody else can. Used for the
    /// internal channel between nodes (`docs/design/scale-out.md`, "The
    /// internal channel"). Never log it.
    pub fn derive_from_root(&self, label: &[u8]) -> zeroize::Zeroizing<[u8; 32]> {
        struct Len32;
        impl ring::hkdf::KeyType for Len32 {
            fn len(&self) -> usize {
                32
            }
        }
        let roots = self.roots();
        let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, &[])
            .extract(roots.current_key().as_bytes());
        let mut out = zeroize::Zeroizing::new([0u8; 32]);
        prk.expand(&[label], Len32)
            .and_then(|okm| okm.fill(&mut out[..]))
            .expect("32 bytes are a valid HKDF-SHA256 output length");
        out
    }

    /// The live root versions.
    pub fn root_versions(&self) -> Vec<u32> {
        self.roots().keys.keys().copied().collect()
    }

    /// Makes `key` the current root version (a rotation's new root).
    pub(crate) fn install_root(&self, version: u32, key: Key) {
        let mut r = self.roots.write().unwrap_or_else(|p| p.into_inner());
        r.keys.insert(version, key);
        r.current = version;
    }

    /// Forgets a destroyed root version.
    pub(crate) fn forget_root(&self, version: u32) {
        let mut r = self.roots.write().unwrap_or_else(|p| p.into_inner());
        if r.current != version {
            r.keys.remove(&version);
        }
    }

    /// Seals under the current root.
    fn seal_root(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        crypto::seal(self.roots().current_key(), aad, plaintext)
    }

    /// Opens what was sealed under any live root version (current first).
    fn open_root(&self, aad: &[u8], sealed: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
        let roots = self.roots();
        let mut last = None;
        for (_, k) in roots.in_order() {
            match crypto::open(k, aad, sealed) {
                Ok(v) => return Ok(v),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Corrupt("no root key".into())))
    }

    /// Wraps a key under the current root.
    fn wrap_root(&self, aad: &[u8], key: &Key) -> Vec<u8> {
        crypto::wrap_key(self.roots().current_key(), aad, key)
    }

    /// Unwraps a key wrapped under any live root version (current first).
    fn unwrap_root(&self, aad: &[u8], wrapped: &[u8]) -> Result<Key, Error> {
        let roots = self.roots();
        let mut last = None;
        for (_, k) in roots.in_order() {
            match crypto::unwrap_key(k, aad, wrapped) {
                Ok(v) => return Ok(v),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Corrupt("no root key".into())))
    }

    /// Re-seals a value sealed under any live root under root `to`:
    /// `None` when it already opens under `to`.
    pub(crate) fn reseal(
        &self,
        aad: &[u8],
        sealed: &[u8],
        to: u32,
    ) -> Result<Option<Vec<u8>>, Error> {
        let roots = self.roots();
        let target = roots
            .keys
            .get(&to)
            .ok_or_else(|| Error::Invalid(format!("root version {to} is not loaded")))?;
        if crypto::open(target, aad, sealed).is_ok() {
            return Ok(None);
        }
        for (v, k) in roots.in_order() {
            if v == to {
                continue;
            }
            if let Ok(plain) = crypto::open(k, aad, sealed) {
                return Ok(Some(crypto::seal(target, aad, &plain)));
            }
        }
        Err(Error::Corrupt(
            "a value sealed under the root opens under no live root version".into(),
        ))
    }

    /// Re-wraps a key wrapped under any live root under root `to`: `None`
    /// when it already unwraps under `to`. A wrapped key is a sealed value
    /// ([`crypto::wrap_key`]), so this is [`Keyring::reseal`].
    pub(crate) fn rewrap(
        &self,
        aad: &[u8],
        wrapped: &[u8],
        to: u32,
    ) -> Result<Option<Vec<u8>>, Error> {
        self.reseal(aad, wrapped, to)
    }

    /// Seals a user's secret (a TOTP seed) under the root key, bound to the
    /// user.
    pub fn seal_user_secret(&self, user: UserId, plaintext: &[u8]) -> Vec<u8> {
        self.seal_root(&user_secret_aad(user), plaintext)
    }

    /// Opens what [`Keyring::seal_user_secret`] sealed for `user`.
    pub fn open_user_secret(
        &self,
        user: UserId,
        sealed: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
        self.open_root(&user_secret_aad(user), sealed)
    }

    /// Seals a camera's credentials (any small secret tied to the camera) under
    /// the root key; the camera id is bound in as associated data, so a sealed
    /// value copied to another camera's row does not open.
    pub fn seal_camera_secret(&self, camera: CameraId, plaintext: &[u8]) -> Vec<u8> {
        self.seal_root(&camera_secret_aad(camera), plaintext)
    }

    /// Opens what [`Keyring::seal_camera_secret`] sealed for `camera`.
    pub fn open_camera_secret(
        &self,
        camera: CameraId,
        sealed: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
        self.open_root(&camera_secret_aad(camera), sealed)
    }

    /// Wraps a lock's or hold's own key under the root key, bound to the
    /// protection's id (`protection.wrapped_key`).
    pub fn wrap_protection_key(&self, protection: i64, key: &Key) -> Vec<u8> {
        self.wrap_root(&protection_key_aad(protection), key)
    }

    /// Unwraps what [`Keyring::wrap_protection_key`] wrapped for `protection`.
    pub fn unwrap_protection_key(&self, protection: i64, wrapped: &[u8]) -> Result<Key, Error> {
        self.unwrap_root(&protection_key_aad(protection), wrapped)
    }

    /// Seals the lift key's identity (`lift_key.sealed_identity`) under the
    /// current root.
    pub(crate) fn seal_lift_identity(&self, secret: &[u8]) -> Vec<u8> {
        self.seal_root(crate::lift::LIFT_IDENTITY_AAD, secret)
    }

    /// Opens the lift key's identity: only the lift path calls this.
    pub(crate) fn open_lift_identity(
        &self,
        sealed: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
        self.open_root(crate::lift::LIFT_IDENTITY_AAD, sealed)
    }

    /// The bucket key for data of `camera`/`rendition` at time `t`, created if
    /// this is the bucket's first data. Blocks on the database.
    pub fn bucket_for_write(
        &self,
        camera: CameraId,
        rendition: &str,
        t: Time90k,
    ) -> Result<(i64, Key), Error> {
        let b = bucket_start(t);
        let scope = (camera, rendition.to_owned(), b);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((id, k)) = cache.get(&scope) {
            return Ok((*id, k.clone()));
        }
        let aad = bucket_key_aad(camera, rendition, b);
        let (id, key) = match self.db.bucket_key(camera, rendition, b)? {
            Some((id, wrapped)) => (id, self.unwrap_root(&aad, &wrapped)?),
            None => {
                let k = Key::generate();
                // The root stays read-locked until the row is in, labelled
                // with the version it was wrapped under: a rotation switching
                // roots meanwhile waits, so its scan sees this row.
                let roots = self.roots();
                match self.db.insert_bucket_key_at(
                    camera,
                    rendition,
                    b,
                    &crypto::wrap_key(roots.current_key(), &aad, &k),
                    roots.current,
                )? {
                    (id, None) => (id, k),
                    // Another node created this bucket's key meanwhile:
                    // its key is the bucket's.
                    (id, Some(winner)) => {
                        drop(roots);
                        (id, self.unwrap_root(&aad, &winner)?)
                    }
                }
            }
        };
        cache.retain(|(c, r, _), _| !(*c == camera && r == rendition));
        cache.insert(scope, (id, key.clone()));
        Ok((id, key))
    }

    /// The bucket key with this id, for data of `camera`/`rendition` at time `t`.
    /// [`Error::KeyDestroyed`] if it has been destroyed.
    pub fn bucket_by_id(
        &self,
        id: i64,
        camera: CameraId,
        rendition: &str,
        t: Time90k,
    ) -> Result<Key, Error> {
        let b = bucket_start(t);
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((cid, k)) = cache.get(&(camera, rendition.to_owned(), b)) {
                if *cid == id {
                    return Ok(k.clone());
                }
            }
        }
        let wrapped = self.db.bucket_key_by_id(id)?.ok_or(Error::KeyDestroyed)?;
        self.unwrap_root(&bucket_key_aad(camera, rendition, b), &wrapped)
    }

    /// Destroys a bucket key (crypto-shredding) and forgets any cached copy.
    /// The cache stays locked until the row is gone, so a writer asking for
    /// the same bucket meanwhile waits, then gets a new key: it can never
    /// re-cache the key being destroyed after the cache was cleared.
    pub fn destroy(&self, id: i64) -> Result<(), Error> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|_, (cid, _)| *cid != id);
        #[cfg(test)]
        if let Some(pause) = *self.pause_in_destroy.lock().unwrap() {
            std::thread::sleep(pause);
        }
        self.db.destroy_bucket_key(id)
    }

    /// Destroys a batch of bucket keys (retention) and forgets any cached
    /// copy: one transaction and one WAL truncation for the whole batch, with
    /// the cache locked throughout as in [`Keyring::destroy`]. Returns how
    /// many keys existed.
    pub fn destroy_batch(&self, ids: &[i64]) -> Result<usize, Error> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|_, (cid, _)| !ids.contains(cid));
        self.db.destroy_bucket_keys(ids)
    }

    /// Retention's destruction of a plan's batch: bucket keys `keys` and
    /// segment rows `segments`, in chunks of [`crate::db::DESTROY_CHUNK`]
    /// keys, each one short transaction that deletes the chunk's planned
    /// rows and then its keys (`Db::destroy_bucket_chunk`), with the cache
    /// locked per chunk as in [`Keyring::destroy`]; then the planned rows of
    /// keys destroyed earlier; then one WAL truncation for the batch.
    /// `whole`: the plan keeps no segment of these keys (no lock or hold).
    /// `reason` goes into the recording chains' removal links.
    /// Returns how many keys existed and the deleted rows' objects.
    pub fn destroy_buckets(
        &self,
        keys: &[i64],
        segments: &[veil_base::SegmentId],
        whole: bool,
        reason: &str,
    ) -> Result<(usize, Vec<(String, u64)>), Error> {
        let planned: std::collections::HashSet<veil_base::SegmentId> =
            segments.iter().copied().collect();
        let mut destroyed = 0;
        let mut gone = Vec::with_capacity(segments.len());
        let mut taken = std::collections::HashSet::new();
        for chunk in keys.chunks(crate::db::DESTROY_CHUNK) {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.retain(|_, (cid, _)| !chunk.contains(cid));
            let done = self
                .db
                .destroy_bucket_chunk(chunk, &planned, whole, reason)?;
            drop(cache);
            destroyed += done.keys;
            crate::crash_point("retention.chunk_destroyed");
            for (id, key, bytes) in done.gone {
                taken.insert(id);
                gone.push((key, bytes));
            }
            // Kept by a lock or hold made since the plan: not leftovers.
            taken.extend(done.protected);
        }
        // Keyless leftovers (keys destroyed by an earlier run that stopped).
        let rest: Vec<veil_base::SegmentId> = segments
            .iter()
            .copied()
            .filter(|s| !taken.contains(s))
            .collect();
        for chunk in rest.chunks(crate::db::DESTROY_CHUNK * 360) {
            gone.extend(self.db.delete_segments(chunk, reason)?);
        }
        self.db.truncate_wal_after_destruction()?;
        Ok((destroyed, gone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_key_is_created_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("root.key");
        let a = load_or_create_root_key(&p).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let b = load_or_create_root_key(&p).unwrap();
        assert_eq!(a.as_bytes(), b.as_bytes());
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create_root_key(&p).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }

    /// A writer asking for a bucket while its key is being destroyed never
    /// gets (or caches) the destroyed key afterwards.
    #[test]
    fn destroy_does_not_race_a_writer_recaching_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("veil.db")).unwrap();
        let cam = db
            .upsert_camera("c", "synthetic", "{}", Time90k(0))
            .unwrap();
        let ring = Keyring::new(db.clone(), Key::generate());
        *ring.pause_in_destroy.lock().unwrap() = Some(std::time::Duration::from_millis(30));
        let t = Time90k(5);
        for _ in 0..5 {
            let (id, _) = ring.bucket_for_write(cam, "main", t).unwrap();
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let writer = {
                let (ring, stop) = (ring.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        seen.push(ring.bucket_for_write(cam, "main", t).unwrap().0);
                    }
                    seen
                })
            };
            std::thread::sleep(std::time::Duration::from_millis(5));
            ring.destroy(id).unwrap();
            let (after, _) = ring.bucket_for_write(cam, "main", t).unwrap();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            writer.join().unwrap();
            assert_ne!(after, id, "the destroyed key was re-cached");
            assert!(db.bucket_key_by_id(after).unwrap().is_some());
        }
    }

    #[test]
    fn bucket_keys_are_per_scope_and_hour() {
        let db = Db::open_for_tests().unwrap();
        let cam = db
            .upsert_camera("c", "synthetic", "{}", Time90k(0))
            .unwrap();
        let ring = Keyring::new(db, Key::generate());
        let t = Time90k(10 * crate::segment::BUCKET_90K + 5);
        let (id1, k1) = ring.bucket_for_write(cam, "main", t).unwrap();
        let (id2, k2) = ring
            .bucket_for_write(cam, "main", Time90k(t.0 + 100))
            .unwrap();
        assert_eq!(id1, id2);
        assert_eq!(k1.as_bytes(), k2.as_bytes());
        let (id3, _) = ring
            .bucket_for_write(cam, "main", Time90k(t.0 + crate::segment::BUCKET_90K))
            .unwrap();
        assert_ne!(id1, id3);
        let (id4, _) = ring.bucket_for_write(cam, "original", t).unwrap();
        assert_ne!(id1, id4);
        assert_eq!(
            ring.bucket_by_id(id1, cam, "main", t).unwrap().as_bytes(),
            k1.as_bytes()
        );
        ring.destroy(id1).unwrap();
        assert!(matches!(
            ring.bucket_by_id(id1, cam, "main", t),
            Err(Error::KeyDestroyed)
        ));
    }

    #[test]
    fn a_batch_destroy_forgets_cached_keys() {
        let db = Db::open_for_tests().unwrap();
        let cam = db
            .upsert_camera("c", "synthetic", "{}", Time90k(0))
            .unwrap();
        let ring = Keyring::new(db, Key::generate());
        let hour = crate::segment::BUCKET_90K;
        let (old, _) = ring.bucket_for_write(cam, "main", Time90k(5)).unwrap();
        let (cached, _) = ring.bucket_for_write(cam, "sub", Time90k(5)).unwrap();
        let (kept, _) = ring
            .bucket_for_write(cam, "main", Time90k(hour + 5))
            .unwrap();
        assert_eq!(ring.destroy_batch(&[old, cached]).unwrap(), 2);
        for (id, rendition) in [(old, "main"), (cached, "sub")] {
            assert!(matches!(
                ring.bucket_by_id(id, cam, rendition, Time90k(5)),
                Err(Error::KeyDestroyed)
            ));
        }
        // A writer of the destroyed (cached) bucket gets a new key.
        let (again, _) = ring.bucket_for_write(cam, "sub", Time90k(5)).unwrap();
        assert_ne!(again, cached);
        assert!(ring
            .bucket_by_id(kept, cam, "main", Time90k(hour + 5))
            .is_ok());
    }
}
