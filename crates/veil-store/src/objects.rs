//! The object-store interface and its local-directory backend.
//!
//! Callers see only [`ObjectStore`]: put a whole object durably, get it, delete it,
//! list keys. An S3-compatible backend (e.g. over the `object_store` crate) implements
//! the same trait, so nothing above this module changes when it is added.
//!
//! Keys are relative, `/`-separated, made of `[A-Za-z0-9._-]` segments; anything
//! else is rejected so a key can never escape the root directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::Error;

/// A blob store addressed by string keys.
pub trait ObjectStore: Send + Sync + 'static {
    /// Stores `data` under `key` durably: when the future resolves `Ok`, the object
    /// survives a power loss. Replaces nothing: callers use fresh keys.
    fn put(&self, key: &str, data: Vec<u8>) -> BoxFuture<'_, Result<(), Error>>;
    /// Reads a whole object. [`Error::NotFound`] only if the object is absent
    /// from a store that is itself in place; [`Error::Unavailable`] if the
    /// store is not (an unmounted volume).
    fn get(&self, key: &str) -> BoxFuture<'_, Result<Vec<u8>, Error>>;
    /// The size of an object in bytes, or `None` if absent (from a store in
    /// place, as for [`ObjectStore::get`]).
    fn size(&self, key: &str) -> BoxFuture<'_, Result<Option<u64>, Error>>;
    /// Deletes an object; deleting an absent object is not an error.
    fn delete(&self, key: &str) -> BoxFuture<'_, Result<(), Error>>;
    /// Every key in the store (including leftovers of interrupted writes, which
    /// end in [`TEMP_SUFFIX`]).
    fn list(&self) -> BoxFuture<'_, Result<Vec<String>, Error>>;
}

/// Suffix of an object being written; never visible under its final key.
pub const TEMP_SUFFIX: &str = ".partial";

/// Checks a key's syntax.
pub fn validate_key(key: &str) -> Result<(), Error> {
    let ok = !key.is_empty()
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        });
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!("invalid object key {key:?}")))
    }
}

/// The file at the root of a local object directory that says "this is
/// Veil's object store, mounted and in place". An absent object is taken for
/// absent only while the marker is there: an unmounted volume or an emptied
/// directory is an error, never thousands of `missing` segments.
pub const MARKER: &str = "VEIL-OBJECTS";

/// Objects as files under a root directory.
#[derive(Clone, Debug)]
pub struct LocalDir {
    root: Arc<PathBuf>,
}

impl LocalDir {
    /// Opens (creating if needed) a store rooted at `root`. Call
    /// [`LocalDir::ensure_marker`] before use: without its marker the store
    /// answers every read of an absent object with [`Error::Unavailable`].
    pub fn open(root: &Path) -> Result<LocalDir, Error> {
        std::fs::create_dir_all(root)?;
        Ok(LocalDir {
            root: Arc::new(root.to_path_buf()),
        })
    }

    /// Checks the marker against this installation (`installation`, from
    /// [`crate::db::Db::installation_id`]) and writes it if it is missing
    /// and that is safe, as for the S3 store
    /// ([`crate::objects_s3::S3Objects::ensure_marker`]): a marker naming
    /// another installation is refused; a marker without an id (written
    /// before markers named one) gets the id unless the database is new
    /// (`segments` counts its segments) while the directory holds objects;
    /// without a marker, one is written while the database holds no
    /// segment yet or the directory holds objects (an installation from
    /// before markers). Refuses an empty directory while the database lists
    /// segments: that is an unmounted volume or lost objects, to be mended
    /// by the operator.
    pub fn ensure_marker(
        &self,
        installation: &str,
        segments: impl FnOnce() -> Result<u64, Error>,
    ) -> Result<(), Error> {
        use crate::objects_s3::{marker_owner, marker_text, MarkerOwner};
        let marker = self.root.join(MARKER);
        let has_objects = || -> Result<bool, Error> {
            Ok(std::fs::read_dir(&*self.root)?
                .filter_map(|e| e.ok())
                .any(|e| e.file_name() != MARKER))
        };
        match std::fs::read(&marker) {
            Ok(text) => match marker_owner(&text) {
                MarkerOwner::Installation(id) if id == installation => return Ok(()),
                MarkerOwner::Installation(_) => {
                    return Err(Error::Unavailable(format!(
                        "the object directory {} belongs to another Veil installation (its \
                         {MARKER} file names another installation id): Veil does not start, so \
                         that none of its objects is touched",
                        self.root.display()
                    )))
                }
                MarkerOwner::Unnamed => {
                    if segments()? == 0 && has_objects()? {
                        return Err(Error::Unavailable(format!(
                            "the object directory {} holds another Veil installation's objects \
                             and this database is new: Veil does not adopt them, so that none is \
                             deleted",
                            self.root.display()
                        )));
                    }
                    // Rewritten with the id below (replaced whole by a
                    // rename, as every object is).
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let n = segments()?;
                if n > 0 && !has_objects()? {
                    return Err(Error::Unavailable(format!(
                        "the object directory {} is empty and has no {MARKER} file, but the \
                         database lists {n} segments: is its volume mounted? Mount it or restore \
                         the objects; Veil does not start, so that no recording is marked missing",
                        self.root.display()
                    )));
                }
            }
            Err(e) => return Err(e.into()),
        }
        durable_write(
            &self.root,
            &marker,
            marker_text(installation)
                .replace("object.", "file.")
                .as_bytes(),
        )
    }

    /// Ok while the marker is in place.
    fn available(&self) -> Result<(), Error> {
        match std::fs::symlink_metadata(self.root.join(MARKER)) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::Unavailable(format!(
                "the object directory {} has lost its {MARKER} file (unmounted or emptied?)",
                self.root.display()
            ))),
            Err(e) => Err(e.into()),
        }
    }

    fn path(&self, key: &str) -> Result<PathBuf, Error> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }
}

/// Makes the directories from `dir` up to the first that exists (below or at
/// `root`) and fsyncs the parent of each one made, so every new directory
/// entry survives a power loss, not only the leaf.
fn create_dirs_durably(root: &Path, dir: &Path) -> Result<(), Error> {
    let mut made = Vec::new();
    let mut d = dir;
    while d != root && std::fs::symlink_metadata(d).is_err() {
        made.push(d);
        d = d.parent().ok_or_else(|| {
            Error::Invalid(format!("{} is not under the object root", dir.display()))
        })?;
    }
    for m in made.iter().rev() {
        match std::fs::create_dir(m) {
            Ok(()) => {}
            // Another writer made it at the same time.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
    }
    for m in &made {
        sync_dir(m.parent().expect("below the root"))?;
    }
    Ok(())
}

/// fsyncs a directory (its entries). Tests record which directories were
/// synced.
fn sync_dir(dir: &Path) -> Result<(), Error> {
    #[cfg(test)]
    tests::SYNCED.with(|s| s.borrow_mut().push(dir.to_path_buf()));
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Writes `data` to `path` so that it is durable once this returns.
///
/// Order and why: (1) write to a temporary name and fsync the file, so its bytes
/// are on disk; (2) rename to the final name, so a reader never sees a partial
/// object; (3) fsync the directory, so the rename itself (the directory entry)
/// survives a power loss; every directory made on the way is fsynced in its
/// parent too ([`create_dirs_durably`]). Only after this may the caller insert
/// the metadata row that points at the object: a crash before the row leaves an
/// orphan object that recovery deletes, never a row that points at nothing.
fn durable_write(root: &Path, path: &Path, data: &[u8]) -> Result<(), Error> {
    let dir = path.parent().expect("object path has a parent");
    create_dirs_durably(root, dir)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(TEMP_SUFFIX);
    let tmp = PathBuf::from(tmp);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(data)?;
            f.sync_all()
        });
    if let Err(e) = written {
        // A full disk leaves a partial file: give its space back at once.
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    std::fs::rename(&tmp, path)?;
    sync_dir(dir)
}

fn list_dir(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            list_dir(root, &path, out)?;
        } else if dir == root && entry.file_name() == MARKER {
            // The marker is not an object.
        } else if let Ok(rel) = path.strip_prefix(root) {
            match rel
                .to_str()
                .map(|s| s.replace(std::path::MAIN_SEPARATOR, "/"))
            {
                Some(key) if validate_key(key.trim_end_matches(TEMP_SUFFIX)).is_ok() => {
                    out.push(key)
                }
                // Not something Veil wrote: left alone, never served.
                _ => tracing::warn!("ignoring a foreign file in the object directory"),
            }
        }
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?
}

impl ObjectStore for LocalDir {
    fn put(&self, key: &str, data: Vec<u8>) -> BoxFuture<'_, Result<(), Error>> {
        let path = self.path(key);
        let root = self.root.clone();
        Box::pin(async move {
            let path = path?;
            blocking(move || durable_write(&root, &path, &data)).await
        })
    }

    fn get(&self, key: &str) -> BoxFuture<'_, Result<Vec<u8>, Error>> {
        let path = self.path(key);
        let key = key.to_owned();
        Box::pin(async move {
            match tokio::fs::read(path?).await {
                Ok(d) => Ok(d),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.available()?;
                    Err(Error::NotFound(key))
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    fn size(&self, key: &str) -> BoxFuture<'_, Result<Option<u64>, Error>> {
        let path = self.path(key);
        Box::pin(async move {
            match tokio::fs::metadata(path?).await {
                Ok(m) => Ok(Some(m.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.available()?;
                    Ok(None)
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    fn delete(&self, key: &str) -> BoxFuture<'_, Result<(), Error>> {
        let path = self.path(key);
        Box::pin(async move {
            let path = path?;
            blocking(move || {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(e.into()),
                }
                if let Some(dir) = path.parent() {
                    std::fs::File::open(dir)?.sync_all()?;
                }
                Ok(())
            })
            .await
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<String>, Error>> {
        let root = self.root.clone();
        Box::pin(async move {
            self.available()?;
            blocking(move || {
                let mut out = Vec::new();
                list_dir(&root, &root, &mut out)?;
                out.sort();
                Ok(out)
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        pub(super) static SYNCED: std::cell::RefCell<Vec<PathBuf>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    /// Every directory a write makes is fsynced in its parent, up to the
    /// root, and the leaf after the rename.
    #[test]
    fn new_directories_are_synced_up_to_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("objects");
        std::fs::create_dir(&root).unwrap();
        SYNCED.with(|s| s.borrow_mut().clear());
        durable_write(&root, &root.join("v1/cam1/main/x.seg"), b"x").unwrap();
        let synced = SYNCED.with(|s| s.borrow().clone());
        for d in ["", "v1", "v1/cam1", "v1/cam1/main"] {
            let d = if d.is_empty() {
                root.clone()
            } else {
                root.join(d)
            };
            assert!(
                synced.contains(&d),
                "{} not synced: {synced:?}",
                d.display()
            );
        }
        // A second object in the same directory syncs only its leaf.
        SYNCED.with(|s| s.borrow_mut().clear());
        durable_write(&root, &root.join("v1/cam1/main/y.seg"), b"y").unwrap();
        let synced = SYNCED.with(|s| s.borrow().clone());
        assert_eq!(synced, vec![root.join("v1/cam1/main")]);
    }

    /// Without its marker (an unmounted volume), an absent object is an
    /// error, never "not found"; an empty directory is refused while the
    /// database lists segments.
    #[tokio::test]
    async fn an_absent_marker_is_unavailable_not_missing() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalDir::open(dir.path()).unwrap();
        let e = s.ensure_marker("i1", || Ok(3)).unwrap_err();
        assert!(matches!(e, Error::Unavailable(_)), "{e}");
        assert!(e.to_string().contains("mounted"), "{e}");
        assert!(matches!(s.get("a/b.seg").await, Err(Error::Unavailable(_))));
        assert!(matches!(
            s.size("a/b.seg").await,
            Err(Error::Unavailable(_))
        ));
        assert!(matches!(s.list().await, Err(Error::Unavailable(_))));
        s.ensure_marker("i1", || Ok(0)).unwrap();
        assert!(matches!(s.get("a/b.seg").await, Err(Error::NotFound(_))));
        assert_eq!(s.size("a/b.seg").await.unwrap(), None);
        // The marker is not an object.
        assert!(s.list().await.unwrap().is_empty());
        std::fs::remove_file(dir.path().join(MARKER)).unwrap();
        assert!(matches!(s.get("a/b.seg").await, Err(Error::Unavailable(_))));
        // An older installation whose directory holds objects gets a marker.
        std::fs::write(dir.path().join("obj"), b"x").unwrap();
        s.ensure_marker("i1", || Ok(3)).unwrap();
        assert!(dir.path().join(MARKER).exists());
    }

    #[test]
    fn keys_cannot_escape() {
        for bad in ["", "/abs", "a/../b", "a//b", "..", "a/b c", "a\\b"] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
        validate_key("v1/cam1/main/2026/11/23/10/123-abc.seg").unwrap();
    }

    #[tokio::test]
    async fn put_get_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalDir::open(dir.path()).unwrap();
        s.ensure_marker("i1", || Ok(0)).unwrap();
        s.put("a/b/c.seg", b"xyz".to_vec()).await.unwrap();
        assert_eq!(s.get("a/b/c.seg").await.unwrap(), b"xyz");
        assert_eq!(s.size("a/b/c.seg").await.unwrap(), Some(3));
        assert_eq!(s.list().await.unwrap(), vec!["a/b/c.seg".to_string()]);
        s.delete("a/b/c.seg").await.unwrap();
        s.delete("a/b/c.seg").await.unwrap();
        assert!(matches!(s.get("a/b/c.seg").await, Err(Error::NotFound(_))));
        assert_eq!(s.size("a/b/c.seg").await.unwrap(), None);
    }
}
