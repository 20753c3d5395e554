//! The export signing key: an Ed25519 key of its own (never the audit key),
//! kept in the data directory as an OpenSSH private key (mode 0600), that
//! signs each package's manifest in OpenSSH's SSHSIG format under the
//! namespace [`NAMESPACE`], so a recipient checks it with
//! `ssh-keygen -Y verify` and the package's `allowed_signers` file.

use std::path::Path;

use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

/// The SSHSIG namespace of manifest signatures: a signature made for
/// anything else (a git commit, a file signed with another namespace) never
/// verifies as an export's.
pub const NAMESPACE: &str = "veil-export";

/// Why a key or signature could not be used.
#[derive(Debug, thiserror::Error)]
#[error("export key: {0}")]
pub struct KeyError(pub String);

fn err(e: impl std::fmt::Display) -> KeyError {
    KeyError(e.to_string())
}

/// The installation's export signing key.
pub struct ExportKey {
    private: PrivateKey,
}

impl std::fmt::Debug for ExportKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExportKey({})", self.fingerprint())
    }
}

impl ExportKey {
    /// A new random key.
    pub fn generate() -> ExportKey {
        let private = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519)
            .expect("the system RNG works");
        ExportKey { private }
    }

    /// The key in `path` (OpenSSH private key, mode 0600), created on first
    /// use.
    pub fn load_or_create(path: &Path) -> Result<ExportKey, KeyError> {
        let key = ExportKey::generate();
        let text = key.private.to_openssh(LineEnding::LF).map_err(err)?;
        let created = veil_store::keys::create_secret_file(path, text.as_bytes()).map_err(err)?;
        if created {
            return Ok(key);
        }
        let text = veil_store::keys::read_secret_file(path, "export key").map_err(err)?;
        ExportKey::from_openssh(&text)
    }

    /// Parses an unencrypted OpenSSH Ed25519 private key.
    pub fn from_openssh(text: &str) -> Result<ExportKey, KeyError> {
        let private = PrivateKey::from_openssh(text).map_err(err)?;
        if private.algorithm() != Algorithm::Ed25519 {
            return Err(KeyError(format!(
                "the key is {}, not Ed25519",
                private.algorithm()
            )));
        }
        if private.is_encrypted() {
            return Err(KeyError("the key file is passphrase-protected".into()));
        }
        Ok(ExportKey { private })
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        self.private.public_key()
    }

    /// The public key in OpenSSH's one-line form (`ssh-ed25519 AAAA…`).
    pub fn public_openssh(&self) -> String {
        public_openssh(self.public_key())
    }

    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        self.public_key().fingerprint(HashAlg::Sha256).to_string()
    }

    /// An armored SSHSIG signature of `message` (SHA-512, [`NAMESPACE`]).
    pub fn sign(&self, message: &[u8]) -> Result<String, KeyError> {
        let sig = self
            .private
            .sign(NAMESPACE, HashAlg::Sha512, message)
            .map_err(err)?;
        sig.to_pem(LineEnding::LF).map_err(err)
    }
}

/// A public key's one-line OpenSSH form, without a comment.
pub fn public_openssh(key: &PublicKey) -> String {
    let mut k = key.clone();
    k.set_comment("");
    k.to_openssh().expect("an Ed25519 public key encodes")
}

/// The `allowed_signers` line that lets `ssh-keygen -Y verify -I principal`
/// accept `key` for export signatures only.
pub fn allowed_signers_line(principal: &str, key: &PublicKey) -> String {
    format!(
        "{principal} namespaces=\"{NAMESPACE}\" {}\n",
        public_openssh(key)
    )
}

/// Parses a public key given as an OpenSSH line (`ssh-ed25519 AAAA… [comment]`)
/// or as an `allowed_signers` line (`principal [options] ssh-ed25519 AAAA…`).
pub fn parse_public_key(text: &str) -> Result<PublicKey, KeyError> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| KeyError("no public key in the text".into()))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "ssh-ed25519")
        .ok_or_else(|| KeyError("not an ssh-ed25519 public key".into()))?;
    let blob = words
        .get(at + 1)
        .ok_or_else(|| KeyError("the ssh-ed25519 key has no key data".into()))?;
    PublicKey::from_openssh(&format!("ssh-ed25519 {blob}")).map_err(err)
}

/// Checks an armored SSHSIG `signature` of `message` by `key` under
/// [`NAMESPACE`].
pub fn verify(key: &PublicKey, message: &[u8], signature: &str) -> Result<(), KeyError> {
    let sig =
        SshSig::from_pem(signature).map_err(|e| KeyError(format!("malformed signature: {e}")))?;
    if sig.public_key() != key.key_data() {
        return Err(KeyError(
            "the signature was made with another key than the one expected".into(),
        ));
    }
    key.verify(NAMESPACE, message, &sig)
        .map_err(|_| KeyError("the signature does not match the manifest".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_under_the_namespace_only() {
        let k = ExportKey::generate();
        let sig = k.sign(b"manifest").unwrap();
        assert!(sig.starts_with("-----BEGIN SSH SIGNATURE-----"));
        verify(k.public_key(), b"manifest", &sig).unwrap();
        assert!(verify(k.public_key(), b"manifest!", &sig).is_err());
        let other = ExportKey::generate();
        let e = verify(other.public_key(), b"manifest", &sig).unwrap_err();
        assert!(e.to_string().contains("another key"), "{e}");
        // The same key signing under another namespace does not verify.
        let foreign = k
            .private
            .sign("git", HashAlg::Sha512, b"manifest")
            .unwrap()
            .to_pem(LineEnding::LF)
            .unwrap();
        assert!(verify(k.public_key(), b"manifest", &foreign).is_err());
    }

    #[test]
    fn key_file_round_trips_and_public_keys_parse_from_either_form() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.key");
        let a = ExportKey::load_or_create(&path).unwrap();
        let b = ExportKey::load_or_create(&path).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert!(a.fingerprint().starts_with("SHA256:"));
        let line = allowed_signers_line("export@x", a.public_key());
        assert_eq!(parse_public_key(&line).unwrap(), *a.public_key());
        assert_eq!(
            parse_public_key(&a.public_openssh()).unwrap(),
            *a.public_key()
        );
        assert!(parse_public_key("ssh-rsa AAAA").is_err());
    }
}
