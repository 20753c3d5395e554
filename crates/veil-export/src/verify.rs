//! `veil export verify`: decrypts a package, checks the manifest's
//! signature, every file's hash, the recording-chain links and the signed
//! access-record checkpoint that anchors them, and that each video holds
//! every recorded segment of its span. One streaming pass; the first
//! failure is named.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};

use ring::digest::{Context, SHA256};
use ssh_key::PublicKey;
use veil_base::Time90k;
use veil_store::chain::{check_links, ChainLink, LinkKind};

use crate::key;
use crate::manifest::{hash32, Manifest, FORMAT, FORMAT_VERSION};
use crate::package::{names, top_dir};

/// How to open an encrypted package.
pub enum Decrypt {
    /// The passphrase it was encrypted to.
    Passphrase(age::secrecy::SecretString),
    /// Identities (age or SSH private keys) of its recipients.
    Identities(Vec<Box<dyn age::Identity + Send + Sync>>),
    /// Nothing: the package must be unencrypted.
    None,
}

/// Why a package does not verify: the first check that failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Failure(pub String);

fn fail<T>(msg: impl Into<String>) -> Result<T, Failure> {
    Err(Failure(msg.into()))
}

/// What a verified package holds.
#[derive(Debug)]
pub struct Report {
    /// The package id.
    pub package_id: String,
    /// The installation that made it.
    pub system_id: String,
    /// When.
    pub created: String,
    /// `protected` or `original`.
    pub rendition: String,
    /// Whether it was encrypted.
    pub encrypted: bool,
    /// The signing key's fingerprint.
    pub signer: String,
    /// Whether the signing key was given by the caller (`--public-key`)
    /// rather than taken from the package.
    pub key_pinned: bool,
    /// Files checked, with their sizes.
    pub files: Vec<(String, u64)>,
    /// Video files, frames and gaps.
    pub videos: Vec<VideoLine>,
    /// Chains checked: camera, rendition, links, anchoring checkpoint seq.
    pub chains: Vec<(i64, String, usize, i64)>,
    /// Excluded intervals.
    pub excluded: Vec<(String, String)>,
}

/// One video in the report.
#[derive(Debug)]
pub struct VideoLine {
    /// Path.
    pub path: String,
    /// Camera.
    pub camera: i64,
    /// First frame.
    pub start: String,
    /// End.
    pub end: String,
    /// Frames.
    pub frames: u64,
    /// Segments.
    pub segments: usize,
    /// Gaps and their reasons.
    pub gaps: Vec<(String, String, String)>,
    /// Redaction boxes painted into it (0: a byte copy of the stored
    /// segments).
    pub redaction_boxes: usize,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "package {} from {}", self.package_id, self.system_id)?;
        writeln!(f, "created {}, rendition {}", self.created, self.rendition)?;
        writeln!(
            f,
            "encrypted: {}",
            if self.encrypted { "yes (age)" } else { "no" }
        )?;
        writeln!(
            f,
            "signature: good, key {} ({})",
            self.signer,
            if self.key_pinned {
                "the key you gave"
            } else {
                "the key inside the package: compare its fingerprint with the sender's"
            }
        )?;
        writeln!(f, "files: {} with matching SHA-256", self.files.len())?;
        for v in &self.videos {
            writeln!(
                f,
                "  {}: camera {}, {} to {}, {} frames from {} segments",
                v.path, v.camera, v.start, v.end, v.frames, v.segments
            )?;
            if v.redaction_boxes > 0 {
                writeln!(
                    f,
                    "    redacted: {} box(es) painted in and re-encoded; the segments listed \
                     are its source, its own SHA-256 and size are what was checked",
                    v.redaction_boxes
                )?;
            }
            for (a, b, why) in &v.gaps {
                writeln!(f, "    gap {a} to {b}: {why}")?;
            }
        }
        for (a, b) in &self.excluded {
            writeln!(f, "excluded: {a} to {b}")?;
        }
        for (camera, rendition, links, seq) in &self.chains {
            writeln!(
                f,
                "recording chain camera {camera} {rendition}: {links} links intact, \
                 anchored in the access record at entry {seq} (signed checkpoint)"
            )?;
        }
        writeln!(f, "result: the package verifies")
    }
}

/// A file's hash and size.
struct Seen {
    sha256: String,
    bytes: u64,
    /// The contents of small fixed files.
    body: Option<Vec<u8>>,
}

struct HashSink {
    c: Context,
    n: u64,
}

impl Write for HashSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.c.update(b);
        self.n += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The largest fixed file read into memory (the manifest of a long export
/// is a few megabytes).
const MAX_SMALL: u64 = 64 << 20;

/// Verifies the package read from `input`. `pinned` is the export key the
/// caller trusts; without it the package's own key is used (and the report
/// says so).
pub fn verify(
    input: impl Read,
    decrypt: Decrypt,
    pinned: Option<PublicKey>,
) -> Result<Report, Failure> {
    let mut input = BufReader::with_capacity(1 << 16, input);
    let head = input
        .fill_buf()
        .map_err(|e| Failure(format!("cannot read the package: {e}")))?;
    if head.starts_with(b"-----BEGIN AGE") {
        return fail("the package is ASCII-armored: remove the armor with `age -d` first");
    }
    let encrypted = head.starts_with(b"age-encryption.org/");
    let seen = if encrypted {
        let d = age::Decryptor::new_buffered(input)
            .map_err(|e| Failure(format!("not a readable age file: {e}")))?;
        let stream = match decrypt {
            Decrypt::None => {
                return fail(
                    "the package is encrypted: give --identity FILE or --passphrase-file FILE",
                )
            }
            Decrypt::Passphrase(p) => {
                let id = age::scrypt::Identity::new(p);
                d.decrypt(std::iter::once(&id as &dyn age::Identity))
            }
            Decrypt::Identities(ids) => d.decrypt(ids.iter().map(|i| i.as_ref() as _)),
        }
        .map_err(|e| Failure(format!("cannot decrypt the package: {e}")))?;
        read_tar(stream)?
    } else {
        read_tar(input)?
    };
    check(seen, encrypted, pinned)
}

fn read_tar(r: impl Read) -> Result<(String, BTreeMap<String, Seen>), Failure> {
    let mut archive = tar::Archive::new(r);
    let mut top: Option<String> = None;
    let mut out = BTreeMap::new();
    let entries = archive
        .entries()
        .map_err(|e| Failure(format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Failure(format!("the archive is damaged: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| Failure(format!("an archive path is not readable: {e}")))?
            .to_string_lossy()
            .into_owned();
        let kind = entry.header().entry_type();
        let path = path.trim_end_matches('/').to_owned();
        let (dir, name) = path.split_once('/').unwrap_or((path.as_str(), ""));
        if kind == tar::EntryType::Directory {
            // Folders (a re-packed package has them) hold nothing to check.
            match &top {
                None => top = Some(dir.to_owned()),
                Some(t) if t != dir => {
                    return fail(format!("{path}: outside the package's folder"))
                }
                Some(_) => {}
            }
            continue;
        }
        if kind != tar::EntryType::Regular {
            return fail(format!("{path}: not a regular file"));
        }
        if name.is_empty() {
            return fail(format!("{path}: outside the package's folder"));
        }
        match &top {
            None => top = Some(dir.to_owned()),
            Some(t) if t != dir => return fail(format!("{path}: outside the package's folder")),
            Some(_) => {}
        }
        if name
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return fail(format!("{path}: not a plain relative path"));
        }
        let fixed = [
            names::MANIFEST,
            names::SIGNATURE,
            names::ALLOWED_SIGNERS,
            names::PUBLIC_KEY,
            names::SUMS,
            names::README,
        ]
        .contains(&name);
        let size = entry.header().size().unwrap_or(u64::MAX);
        let mut sink = HashSink {
            c: Context::new(&SHA256),
            n: 0,
        };
        let body = if fixed && size <= MAX_SMALL {
            let mut b = Vec::with_capacity(size as usize);
            entry
                .read_to_end(&mut b)
                .map_err(|e| Failure(format!("{name}: cannot be read: {e}")))?;
            sink.write_all(&b).expect("hashing cannot fail");
            Some(b)
        } else {
            std::io::copy(&mut entry, &mut sink)
                .map_err(|e| Failure(format!("{name}: cannot be read: {e}")))?;
            None
        };
        let seen = Seen {
            sha256: hex::encode(sink.c.finish().as_ref()),
            bytes: sink.n,
            body,
        };
        if out.insert(name.to_owned(), seen).is_some() {
            return fail(format!("{name}: appears twice in the archive"));
        }
    }
    let top = top.ok_or_else(|| Failure("the archive is empty".into()))?;
    Ok((top, out))
}

fn body<'a>(seen: &'a BTreeMap<String, Seen>, name: &str) -> Result<&'a [u8], Failure> {
    seen.get(name)
        .and_then(|s| s.body.as_deref())
        .ok_or_else(|| Failure(format!("{name} is missing from the package")))
}

fn check(
    (top, seen): (String, BTreeMap<String, Seen>),
    encrypted: bool,
    pinned: Option<PublicKey>,
) -> Result<Report, Failure> {
    // 1. The signature, before anything in the manifest is believed.
    let manifest_bytes = body(&seen, names::MANIFEST)?;
    let signature = std::str::from_utf8(body(&seen, names::SIGNATURE)?)
        .map_err(|_| Failure(format!("{} is not text", names::SIGNATURE)))?;
    let key_pinned = pinned.is_some();
    let public = match pinned {
        Some(k) => k,
        None => {
            let text = std::str::from_utf8(body(&seen, names::ALLOWED_SIGNERS)?)
                .map_err(|_| Failure(format!("{} is not text", names::ALLOWED_SIGNERS)))?;
            key::parse_public_key(text)
                .map_err(|e| Failure(format!("{}: {e}", names::ALLOWED_SIGNERS)))?
        }
    };
    key::verify(&public, manifest_bytes, signature).map_err(|e| {
        Failure(format!(
            "{}: {} ({} or {} was changed, or signed by another key)",
            names::MANIFEST,
            e.0,
            names::MANIFEST,
            names::SIGNATURE
        ))
    })?;
    let m: Manifest = serde_json::from_slice(manifest_bytes).map_err(|e| {
        Failure(format!(
            "{}: not a Veil export manifest: {e}",
            names::MANIFEST
        ))
    })?;
    if m.format != FORMAT || m.format_version != FORMAT_VERSION {
        return fail(format!(
            "{}: format {} version {}, this build reads {FORMAT} version {FORMAT_VERSION}",
            names::MANIFEST,
            m.format,
            m.format_version
        ));
    }
    if top != top_dir(&m.package_id) {
        return fail(format!(
            "the package's folder {top} does not match its manifest's id {}",
            m.package_id
        ));
    }
    let named = key::parse_public_key(&m.export_public_key)
        .map_err(|e| Failure(format!("{}: export_public_key: {e}", names::MANIFEST)))?;
    if named.key_data() != public.key_data() {
        return fail(format!(
            "{}: the manifest names another export key than the one that signed it",
            names::MANIFEST
        ));
    }

    // 2. Every file's hash and size; nothing unlisted.
    let mut files = Vec::new();
    let listed: HashMap<&str, _> = m.files.iter().map(|f| (f.path.as_str(), f)).collect();
    for f in &m.files {
        let s = seen
            .get(&f.path)
            .ok_or_else(|| Failure(format!("{}: listed in the manifest but missing", f.path)))?;
        if s.sha256 != f.sha256 || s.bytes != f.bytes {
            return fail(format!(
                "{}: changed (SHA-256 {} and {} bytes, the manifest says {} and {} bytes)",
                f.path, s.sha256, s.bytes, f.sha256, f.bytes
            ));
        }
        files.push((f.path.clone(), f.bytes));
    }
    for name in seen.keys() {
        let fixed = [names::MANIFEST, names::SIGNATURE, names::SUMS].contains(&name.as_str());
        if !fixed && !listed.contains_key(name.as_str()) {
            return fail(format!("{name}: in the package but not in the manifest"));
        }
    }
    check_sums(&seen)?;

    // 3. The recording chains and their anchors.
    let audit_key = hash32(&m.audit_public_key)
        .ok_or_else(|| Failure(format!("{}: bad audit_public_key", names::MANIFEST)))?;
    let mut chains = Vec::new();
    let mut links: BTreeMap<(i64, String), Vec<ChainLink>> = BTreeMap::new();
    for c in &m.chains {
        let ls = c
            .links
            .iter()
            .map(|l| l.to_link(c.camera, &c.rendition))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Failure)?;
        let what = format!("recording chain of camera {} ({})", c.camera, c.rendition);
        check_links(&ls).map_err(|e| Failure(format!("{what}: {e}")))?;
        let head = ls
            .last()
            .ok_or_else(|| Failure(format!("{what}: no links")))?;
        let e = &c.anchor.entry;
        if e.action != "recording.chain" {
            return fail(format!(
                "{what}: the anchor is a {} entry, not recording.chain",
                e.action
            ));
        }
        if e.recompute().map(hex::encode).as_deref() != Some(e.hash.as_str()) {
            return fail(format!(
                "{what}: access-record entry {} does not hash to the value given",
                e.seq
            ));
        }
        let cp = &c.anchor.checkpoint;
        if cp.seq != e.seq || cp.hash != e.hash {
            return fail(format!(
                "{what}: the checkpoint does not sign access-record entry {}",
                e.seq
            ));
        }
        let row = cp
            .to_row(&audit_key)
            .ok_or_else(|| Failure(format!("{what}: malformed checkpoint")))?;
        veil_audit::checkpoint::check_signature(&row, &audit_key)
            .map_err(|err| Failure(format!("{what}: {err}")))?;
        let heads = veil_audit::parse_chain_heads(&e.detail)
            .map_err(|err| Failure(format!("{what}: the anchor entry: {err}")))?;
        let named = heads
            .iter()
            .find(|(cam, r, _, _)| cam.0 == c.camera && *r == c.rendition)
            .ok_or_else(|| Failure(format!("{what}: the anchor entry does not name this chain")))?;
        if named.2 != head.seq || named.3 != head.hash {
            return fail(format!(
                "{what}: the last link ({}) is not the head signed at entry {} ({})",
                head.seq, e.seq, named.2
            ));
        }
        chains.push((c.camera, c.rendition.clone(), ls.len(), cp.seq));
        links.insert((c.camera, c.rendition.clone()), ls);
    }

    // 4. Each video against its chains: its segments are links, and every
    // segment recorded in its span is in it (or declared unreadable).
    let excluded: Vec<(Time90k, Time90k)> = m
        .excluded
        .iter()
        .map(|s| {
            s.times()
                .ok_or_else(|| Failure("manifest: bad excluded interval".into()))
        })
        .collect::<Result<_, _>>()?;
    let mut videos = Vec::new();
    for f in m.files.iter().filter(|f| f.kind == "video") {
        let v = f
            .video
            .as_ref()
            .ok_or_else(|| Failure(format!("{}: a video without its description", f.path)))?;
        let (start, end) = match (
            Time90k::parse_rfc3339(&v.start),
            Time90k::parse_rfc3339(&v.end),
        ) {
            (Some(a), Some(b)) => (a, b),
            _ => return fail(format!("{}: bad start or end", f.path)),
        };
        for (a, b) in &excluded {
            if *a <= start && start < *b {
                return fail(format!("{}: starts inside an excluded interval", f.path));
            }
        }
        for s in &v.segments {
            let chain = links
                .get(&(v.camera, s.rendition.clone()))
                .ok_or_else(|| Failure(format!("{}: segment {} has no chain", f.path, s.id)))?;
            let l = chain
                .iter()
                .find(|l| l.kind == LinkKind::Segment && l.segment.map(|x| x.0) == Some(s.id))
                .ok_or_else(|| {
                    Failure(format!(
                        "{}: segment {} is not in its recording chain",
                        f.path, s.id
                    ))
                })?;
            if l.start_90k.0 != s.start_90k || l.end_90k.0 != s.end_90k || l.seq != s.seq {
                return fail(format!(
                    "{}: segment {} differs from its chain link {}",
                    f.path, s.id, l.seq
                ));
            }
        }
        for ((cam, _), chain) in &links {
            if *cam != v.camera {
                continue;
            }
            for l in chain.iter().filter(|l| l.kind == LinkKind::Segment) {
                let inside = l.start_90k < end && start < l.end_90k;
                let id = l.segment.map(|x| x.0).unwrap_or(0);
                if inside
                    && !v.segments.iter().any(|s| s.id == id)
                    && !v.segments_missing.contains(&id)
                {
                    return fail(format!(
                        "{}: incomplete: segment {id} (chain link {}) was recorded in its span but is not in it",
                        f.path, l.seq
                    ));
                }
            }
        }
        videos.push(VideoLine {
            path: f.path.clone(),
            camera: v.camera,
            start: v.start.clone(),
            end: v.end.clone(),
            frames: v.frames,
            segments: v.segments.len(),
            gaps: v
                .gaps
                .iter()
                .map(|g| (g.start.clone(), g.end.clone(), g.reason.clone()))
                .collect(),
            redaction_boxes: v.redacted.as_ref().map_or(0, |r| r.boxes.len()),
        });
    }
    Ok(Report {
        package_id: m.package_id.clone(),
        system_id: m.system_id.clone(),
        created: m.created.clone(),
        rendition: m.rendition.clone(),
        encrypted,
        signer: public.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
        key_pinned,
        files,
        videos,
        chains,
        excluded: m
            .excluded
            .iter()
            .map(|s| (s.start.clone(), s.end.clone()))
            .collect(),
    })
}

/// `SHA256SUMS` must agree with what was read (it is a convenience for
/// `sha256sum -c`; the manifest is what is signed).
fn check_sums(seen: &BTreeMap<String, Seen>) -> Result<(), Failure> {
    let text = std::str::from_utf8(body(seen, names::SUMS)?)
        .map_err(|_| Failure(format!("{} is not text", names::SUMS)))?;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let (h, name) = line
            .split_once("  ")
            .ok_or_else(|| Failure(format!("{}: malformed line {line:?}", names::SUMS)))?;
        let s = seen
            .get(name)
            .ok_or_else(|| Failure(format!("{}: names missing file {name}", names::SUMS)))?;
        if s.sha256 != h {
            return fail(format!(
                "{}: its line for {name} does not match {name}",
                names::SUMS
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, body) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            // `set_path` refuses `..`; a hostile archive would not.
            let name: &mut [u8; 100] = &mut h.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            b.append(&h, *body).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn check_err(bytes: &[u8]) -> String {
        verify(bytes, Decrypt::None, None).unwrap_err().0
    }

    #[test]
    fn malformed_packages_are_refused_with_a_reason() {
        use tar::EntryType::{Regular, Symlink};
        assert!(check_err(b"").contains("empty"), "{}", check_err(b""));
        let e = check_err(b"age-encryption.org/v1\n-> X25519 abc\n");
        assert!(e.contains("age") || e.contains("encrypted"), "{e}");
        let e = check_err(b"-----BEGIN AGE ENCRYPTED FILE-----\n");
        assert!(e.contains("armored"), "{e}");
        let e = check_err(&tar_of(&[("p/../../etc/x", Regular, b"x")]));
        assert!(e.contains("not a plain relative path"), "{e}");
        let e = check_err(&tar_of(&[("p/link", Symlink, b"")]));
        assert!(e.contains("not a regular file"), "{e}");
        let e = check_err(&tar_of(&[("p/a", Regular, b"1"), ("q/b", Regular, b"2")]));
        assert!(e.contains("outside the package's folder"), "{e}");
        let e = check_err(&tar_of(&[("p/a", Regular, b"1"), ("p/a", Regular, b"2")]));
        assert!(e.contains("twice"), "{e}");
        let e = check_err(&tar_of(&[("p/README.txt", Regular, b"hi")]));
        assert!(e.contains("manifest.json is missing"), "{e}");
        let e = check_err(&tar_of(&[
            ("p/manifest.json", Regular, b"{}"),
            ("p/manifest.json.sig", Regular, b"not a signature"),
            ("p/allowed_signers", Regular, b"x ssh-ed25519 AAAA"),
        ]));
        assert!(e.contains("allowed_signers"), "{e}");
        // Random bytes and truncations never panic.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in [1usize, 7, 511, 512, 513, 1024, 4096] {
            let mut b = vec![0u8; len];
            for x in &mut b {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *x = seed as u8;
            }
            let _ = check_err(&b);
        }
        let whole = tar_of(&[("p/manifest.json", Regular, b"{\"format\":1}")]);
        for cut in [10, 100, 511, 600] {
            let _ = check_err(&whole[..cut.min(whole.len())]);
        }
    }
}
