//! Where evidence-export packages are kept until they expire
//! (`docs/design/export.md`): `exports/` in the data directory (mode 0700),
//! one encrypted file per package, written once, fsynced, and removed when
//! the package expires. The export key sits beside the audit key.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

use crate::{DataDir, Error, Store};

/// The setting that holds this installation's id.
const SYSTEM_ID_SETTING: &str = "system_id";

impl DataDir {
    /// The export signing key (0600, OpenSSH private key), apart from the
    /// root and audit keys.
    pub fn export_key(&self) -> PathBuf {
        self.root.join("export.key")
    }
    /// Stored export packages.
    pub fn exports(&self) -> PathBuf {
        self.root.join("exports")
    }
}

/// A package file being written: [`ExportFile::commit`] makes it durable.
pub struct ExportFile {
    file: File,
    dir: PathBuf,
}

impl Write for ExportFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl ExportFile {
    /// Flushes the file and its directory entry to disk.
    pub fn commit(self) -> Result<(), Error> {
        self.file.sync_all()?;
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }
}

/// A package file name: letters, digits, `-`, `_` and `.` only, no leading
/// dot (never a path).
fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{name:?} is not an export file name"
        )))
    }
}

impl Store {
    /// This installation's id (random, made on first use; exports and the
    /// decommissioning certificate name it).
    pub fn system_id(&self) -> Result<String, Error> {
        if let Some(id) = self.db.setting(SYSTEM_ID_SETTING)? {
            return Ok(id);
        }
        let id = format!("veil-{:032x}", rand::random::<u128>());
        self.db.set_setting(SYSTEM_ID_SETTING, &id)?;
        Ok(id)
    }

    fn exports_dir(&self) -> Result<PathBuf, Error> {
        let dir = self
            .dir
            .as_ref()
            .ok_or_else(|| Error::Invalid("this store has no data directory".into()))?;
        Ok(DataDir {
            root: dir.as_ref().clone(),
        }
        .exports())
    }

    /// Creates package file `name` (exclusively, mode 0600) in the exports
    /// directory, made on first use (mode 0700).
    pub fn create_export_file(&self, name: &str) -> Result<ExportFile, Error> {
        check_name(name)?;
        let dir = self.exports_dir()?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dir.join(name))?;
        Ok(ExportFile { file, dir })
    }

    /// Opens stored package file `name` for reading.
    pub fn open_export_file(&self, name: &str) -> Result<File, Error> {
        check_name(name)?;
        Ok(File::open(self.exports_dir()?.join(name))?)
    }

    /// Removes every stored package file and shreds the export key
    /// (decommissioning the installation): how many packages went.
    pub fn remove_all_export_files(&self) -> Result<usize, Error> {
        let dir = self.exports_dir()?;
        let mut n = 0;
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for e in entries {
                    let e = e?;
                    if e.file_type()?.is_file() {
                        std::fs::remove_file(e.path())?;
                        n += 1;
                    }
                }
                File::open(&dir)?.sync_all()?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(root) = &self.dir {
            crate::root::shred_file(
                &DataDir {
                    root: root.as_ref().clone(),
                }
                .export_key(),
            )?;
        }
        Ok(n)
    }

    /// Removes stored package file `name` (gone already is fine) and makes
    /// the removal durable.
    pub fn remove_export_file(&self, name: &str) -> Result<(), Error> {
        check_name(name)?;
        let dir = self.exports_dir()?;
        match std::fs::remove_file(dir.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        File::open(&dir)?.sync_all()?;
        Ok(())
    }
}
