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
    /// Reads a whole object. [`Error::NotFound`] if absent.
    fn get(&self, key: &str) -> BoxFuture<'_, Result<Vec<u8>, Error>>;
    /// The size of an object in bytes, or `None` if absent.
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

/// Objects as files under a root directory.
#[derive(Clone, Debug)]
pub struct LocalDir {
    root: Arc<PathBuf>,
}

impl LocalDir {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn open(root: &Path) -> Result<LocalDir, Error> {
        std::fs::create_dir_all(root)?;
        Ok(LocalDir {
            root: Arc::new(root.to_path_buf()),
        })
    }

    fn path(&self, key: &str) -> Result<PathBuf, Error> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }
}

/// Writes `data` to `path` so that it is durable once this returns.
///
/// Order and why: (1) write to a temporary name and fsync the file, so its bytes
/// are on disk; (2) rename to the final name, so a reader never sees a partial
/// object; (3) fsync the directory, so the rename itself (the directory entry)
/// survives a power loss. Only after this may the caller insert the metadata row
/// that points at the object: a crash before the row leaves an orphan object that
/// recovery deletes, never a row that points at nothing.
fn durable_write(path: &Path, data: &[u8]) -> Result<(), Error> {
    let dir = path.parent().expect("object path has a parent");
    std::fs::create_dir_all(dir)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(TEMP_SUFFIX);
    let tmp = PathBuf::from(tmp);
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
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
        Box::pin(async move {
            let path = path?;
            blocking(move || durable_write(&path, &data)).await
        })
    }

    fn get(&self, key: &str) -> BoxFuture<'_, Result<Vec<u8>, Error>> {
        let path = self.path(key);
        let key = key.to_owned();
        Box::pin(async move {
            match tokio::fs::read(path?).await {
                Ok(d) => Ok(d),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NotFound(key)),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn size(&self, key: &str) -> BoxFuture<'_, Result<Option<u64>, Error>> {
        let path = self.path(key);
        Box::pin(async move {
            match tokio::fs::metadata(path?).await {
                Ok(m) => Ok(Some(m.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
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
