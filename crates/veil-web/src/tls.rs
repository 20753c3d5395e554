//! The self-signed certificate made on first start (HTTPS by default).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Returns `(cert.pem, key.pem)` under `dir`, generating a self-signed pair for
/// `localhost`, `127.0.0.1`, `::1` and `extra_names` if none exists. The key file
/// is written with mode 0600.
pub fn ensure_self_signed(
    dir: &Path,
    extra_names: &[String],
) -> std::io::Result<(PathBuf, PathBuf)> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if cert.exists() && key.exists() {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(std::io::Error::other(format!(
                "the TLS key file has permissions {:o}; it must be readable by its owner only (chmod 600)",
                mode & 0o777
            )));
        }
        return Ok((cert, key));
    }
    std::fs::create_dir_all(dir)?;
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    names.extend(extra_names.iter().cloned());
    let signed = rcgen::generate_simple_self_signed(names).map_err(std::io::Error::other)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&key)?;
    f.write_all(signed.key_pair.serialize_pem().as_bytes())?;
    f.sync_all()?;
    let mut f = std::fs::File::create(&cert)?;
    f.write_all(signed.cert.pem().as_bytes())?;
    f.sync_all()?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok((cert, key))
}
