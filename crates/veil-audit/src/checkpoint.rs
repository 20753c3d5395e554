//! Signed checkpoints: an Ed25519 key, separate from the root key, signs
//! "the entry with sequence `seq` has chain hash `hash`" (a checkpoint) or
//! "every entry up to `seq` was pruned; the chain goes on from `hash`" (an
//! anchor). A checkpoint covers every entry before it, because each hash
//! includes the one before.
//!
//! Signed message, version 1 (integers big-endian):
//! `b"veil-audit-checkpoint-v1" || kind u8 (1 checkpoint, 2 anchor) ||
//!  seq u64 || time_90k i64 || hash (32)`.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use veil_base::Time90k;
use veil_store::db::CheckpointRow;

/// Domain-separation prefix of the signed message.
pub const MESSAGE_DOMAIN: &[u8] = b"veil-audit-checkpoint-v1";

/// What a signature states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The chain hash at `seq`.
    Checkpoint,
    /// Entries up to `seq` were pruned; the chain continues from `hash`.
    Anchor,
}

impl Kind {
    /// Stable id stored in the database and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Checkpoint => "checkpoint",
            Kind::Anchor => "anchor",
        }
    }

    /// The kind with id `s`.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "checkpoint" => Some(Kind::Checkpoint),
            "anchor" => Some(Kind::Anchor),
            _ => None,
        }
    }

    fn byte(self) -> u8 {
        match self {
            Kind::Checkpoint => 1,
            Kind::Anchor => 2,
        }
    }
}

/// The bytes that are signed.
pub fn message(kind: Kind, seq: u64, time_90k: i64, hash: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(MESSAGE_DOMAIN.len() + 1 + 8 + 8 + 32);
    m.extend_from_slice(MESSAGE_DOMAIN);
    m.push(kind.byte());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&time_90k.to_be_bytes());
    m.extend_from_slice(hash);
    m
}

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("audit key: {0}")]
pub struct KeyError(String);

/// The audit signing key.
pub struct AuditKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({})", fingerprint(&self.public_key()))
    }
}

const PEM_LABEL: &str = "PRIVATE KEY";

impl AuditKey {
    /// A new random key and its PKCS#8 document.
    pub fn generate() -> (AuditKey, Vec<u8>) {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).expect("the system RNG works");
        let der = doc.as_ref().to_vec();
        let pair = Ed25519KeyPair::from_pkcs8(&der).expect("a fresh PKCS#8 document parses");
        (AuditKey { pair }, der)
    }

    /// The key in `path` (PKCS#8 PEM, mode 0600), created on first use.
    pub fn load_or_create(path: &Path) -> Result<AuditKey, KeyError> {
        let (key, der) = AuditKey::generate();
        let created = veil_store::keys::create_secret_file(path, to_pem(&der).as_bytes())
            .map_err(|e| KeyError(e.to_string()))?;
        if created {
            return Ok(key);
        }
        let text = veil_store::keys::read_secret_file(path, "audit key")
            .map_err(|e| KeyError(e.to_string()))?;
        AuditKey::from_pem(&text)
    }

    /// Parses a PKCS#8 PEM Ed25519 private key.
    pub fn from_pem(text: &str) -> Result<AuditKey, KeyError> {
        let der = from_pem(text).ok_or_else(|| KeyError("not a PEM private key".into()))?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|e| KeyError(format!("not an Ed25519 PKCS#8 key ({e})")))?;
        Ok(AuditKey { pair })
    }

    /// The public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.pair
            .public_key()
            .as_ref()
            .try_into()
            .expect("Ed25519 public keys are 32 bytes")
    }

    /// Signs a statement about `(seq, hash)` at `time`.
    pub fn sign(&self, kind: Kind, seq: u64, time: Time90k, hash: &[u8; 32]) -> CheckpointRow {
        let sig = self.pair.sign(&message(kind, seq, time.0, hash));
        CheckpointRow {
            kind: kind.as_str().to_owned(),
            seq: seq as i64,
            time_90k: time,
            hash: hash.to_vec(),
            public_key: self.public_key().to_vec(),
            signature: sig.as_ref().to_vec(),
        }
    }
}

fn to_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {PEM_LABEL}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {PEM_LABEL}-----\n"));
    out
}

fn from_pem(text: &str) -> Option<Vec<u8>> {
    let body = text
        .trim()
        .strip_prefix(&format!("-----BEGIN {PEM_LABEL}-----"))?
        .strip_suffix(&format!("-----END {PEM_LABEL}-----"))?;
    let b64: String = body.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 key
/// bytes follow it.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The public key as a PEM `PUBLIC KEY` (what `openssl pkeyutl -pubin` reads).
pub fn public_key_pem(public_key: &[u8; 32]) -> String {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(public_key);
    to_pem(&der).replace(PEM_LABEL, "PUBLIC KEY")
}

/// Reads a public key given as 64 hex digits or as a PEM `PUBLIC KEY`.
pub fn parse_public_key(text: &str) -> Option<[u8; 32]> {
    let t = text.trim();
    if let Some(k) = unhex(t).and_then(|b| b.try_into().ok()) {
        return Some(k);
    }
    let body = t
        .strip_prefix("-----BEGIN PUBLIC KEY-----")?
        .strip_suffix("-----END PUBLIC KEY-----")?;
    let b64: String = body.split_whitespace().collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    der.strip_prefix(&SPKI_PREFIX[..])?.try_into().ok()
}

/// A short name for a public key: the first 16 hex digits of its SHA-256.
pub fn fingerprint(public_key: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, public_key);
    hex(&d.as_ref()[..8])
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Why a checkpoint is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Signed by a key other than the trusted one.
    #[error(
        "the {kind} at sequence {seq} is signed by an unknown key ({found}, expected {expected})"
    )]
    UnknownKey {
        /// Checkpoint or anchor.
        kind: String,
        /// Its sequence number.
        seq: i64,
        /// Fingerprint of the key it names.
        found: String,
        /// Fingerprint of the trusted key.
        expected: String,
    },
    /// The signature does not match the statement.
    #[error("the {kind} at sequence {seq} has a bad signature (its statement was altered)")]
    BadSignature {
        /// Checkpoint or anchor.
        kind: String,
        /// Its sequence number.
        seq: i64,
    },
}

/// Checks that `c` is signed by `trusted` and that its signature matches.
pub fn check_signature(c: &CheckpointRow, trusted: &[u8; 32]) -> Result<(), CheckpointError> {
    if c.public_key.as_slice() != trusted {
        return Err(CheckpointError::UnknownKey {
            kind: c.kind.clone(),
            seq: c.seq,
            found: fingerprint(&c.public_key),
            expected: fingerprint(trusted),
        });
    }
    let bad = || CheckpointError::BadSignature {
        kind: c.kind.clone(),
        seq: c.seq,
    };
    let kind = Kind::parse(&c.kind).ok_or_else(bad)?;
    let hash: [u8; 32] = c.hash.as_slice().try_into().map_err(|_| bad())?;
    let seq = u64::try_from(c.seq).map_err(|_| bad())?;
    UnparsedPublicKey::new(&ED25519, trusted)
        .verify(&message(kind, seq, c.time_90k.0, &hash), &c.signature)
        .map_err(|_| bad())
}

/// A checkpoint as one JSON object (the export and the external sink use it).
pub fn to_json(c: &CheckpointRow) -> serde_json::Value {
    serde_json::json!({
        "type": c.kind,
        "seq": c.seq,
        "time_90k": c.time_90k.0,
        "time": c.time_90k.to_rfc3339(),
        "hash": hex(&c.hash),
        "public_key": hex(&c.public_key),
        "signature": hex(&c.signature),
    })
}

/// Where copies of checkpoints go, outside the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sink {
    /// Appends one JSON line per checkpoint to a file, and syncs it.
    File(PathBuf),
    /// Sends one RFC 5424 message per checkpoint to a syslog datagram socket
    /// (facility log-audit, severity informational).
    Syslog(PathBuf),
}

impl Sink {
    /// Writes a copy of `c`.
    pub fn write(&self, c: &CheckpointRow) -> std::io::Result<()> {
        let line = to_json(c).to_string();
        match self {
            Sink::File(path) => {
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(path)?;
                f.write_all(format!("{line}\n").as_bytes())?;
                f.sync_data()
            }
            Sink::Syslog(socket) => {
                // <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG;
                // PRI 110 = facility 13 (log audit) * 8 + severity 6.
                let msg = format!(
                    "<110>1 {} - veil {} audit-checkpoint - {line}",
                    c.time_90k.to_rfc3339(),
                    std::process::id()
                );
                let s = std::os::unix::net::UnixDatagram::unbound()?;
                s.send_to(msg.as_bytes(), socket).map(|_| ())
            }
        }
    }
}

/// Reads checkpoints back from a sink file (one JSON object per line, as
/// [`to_json`] writes them).
pub fn read_sink_file(path: &Path) -> Result<Vec<CheckpointRow>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| from_json_line(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// Parses one checkpoint object written by [`to_json`].
pub fn from_json_line(line: &str) -> Result<CheckpointRow, String> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    from_json(&v)
}

/// Parses one checkpoint object written by [`to_json`].
pub fn from_json(v: &serde_json::Value) -> Result<CheckpointRow, String> {
    let text = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .ok_or_else(|| format!("missing text field {k:?}"))
    };
    let int = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_i64())
            .ok_or_else(|| format!("missing integer field {k:?}"))
    };
    let bytes = |k: &str, n: usize| -> Result<Vec<u8>, String> {
        let t = text(k)?;
        let b = unhex(t).ok_or_else(|| format!("{k:?} is not hex"))?;
        if b.len() != n {
            return Err(format!("{k:?} must be {n} bytes"));
        }
        Ok(b)
    };
    let kind = text("type")?;
    if Kind::parse(kind).is_none() {
        return Err(format!("unknown type {kind:?}"));
    }
    Ok(CheckpointRow {
        kind: kind.to_owned(),
        seq: int("seq")?,
        time_90k: Time90k(int("time_90k")?),
        hash: bytes("hash", 32)?,
        public_key: bytes("public_key", 32)?,
        signature: bytes("signature", 64)?,
    })
}

/// Decodes lowercase or uppercase hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_v1_golden() {
        let m = message(Kind::Anchor, 7, -1, &[0xab; 32]);
        assert_eq!(
            hex(&m),
            format!(
                "{}02{}{}{}",
                hex(b"veil-audit-checkpoint-v1"),
                "0000000000000007",
                "ffffffffffffffff",
                "ab".repeat(32)
            )
        );
    }

    #[test]
    fn sign_check_and_reject() {
        let (k, _) = AuditKey::generate();
        let c = k.sign(Kind::Checkpoint, 42, Time90k(9), &[1; 32]);
        check_signature(&c, &k.public_key()).unwrap();
        let mut altered = c.clone();
        altered.seq = 41;
        assert!(matches!(
            check_signature(&altered, &k.public_key()),
            Err(CheckpointError::BadSignature { seq: 41, .. })
        ));
        let mut relabelled = c.clone();
        relabelled.kind = "anchor".into();
        assert!(check_signature(&relabelled, &k.public_key()).is_err());
        let (other, _) = AuditKey::generate();
        let forged = other.sign(Kind::Checkpoint, 42, Time90k(9), &[1; 32]);
        assert!(matches!(
            check_signature(&forged, &k.public_key()),
            Err(CheckpointError::UnknownKey { .. })
        ));
        assert_eq!(from_json(&to_json(&c)).unwrap(), c);
        let pk = k.public_key();
        assert_eq!(parse_public_key(&public_key_pem(&pk)), Some(pk));
        assert_eq!(parse_public_key(&hex(&pk)), Some(pk));
        assert_eq!(parse_public_key("nonsense"), None);
    }

    #[test]
    fn syslog_sink_sends_an_rfc5424_log_audit_message() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("log");
        let server = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
        server
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let (k, _) = AuditKey::generate();
        let c = k.sign(
            Kind::Checkpoint,
            7,
            Time90k(1_795_000_000 * 90_000),
            &[3; 32],
        );
        Sink::Syslog(socket).write(&c).unwrap();
        let mut buf = [0u8; 2048];
        let n = server.recv(&mut buf).unwrap();
        let msg = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(msg.starts_with("<110>1 2026-"), "{msg}");
        assert!(msg.contains(" veil "), "{msg}");
        let json = &msg[msg.find('{').unwrap()..];
        assert_eq!(from_json_line(json).unwrap(), c);
        // No listener: a clear error, not a hang.
        let gone = dir.path().join("nobody");
        assert!(Sink::Syslog(gone).write(&c).is_err());
    }

    #[test]
    fn key_file_round_trip_and_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        let a = AuditKey::load_or_create(&path).unwrap();
        let b = AuditKey::load_or_create(&path).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = AuditKey::load_or_create(&path).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }
}
