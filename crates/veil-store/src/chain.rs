//! The recording integrity chain (pure): every stored segment of a (camera,
//! rendition) is a link of a SHA-256 hash chain, and every deletion of
//! segment rows appends a removal link saying which segments left and why.
//! The chain's heads are written into the access record at its checkpoints
//! (so they are signed); `veil audit verify` recomputes the links and checks
//! them against the rows and the objects. The byte layout of a link's hash
//! is in `docs/audit-format.md` ("Recording integrity chain"), so a third
//! party can check it without Veil.

use serde::{Deserialize, Serialize};
use veil_base::{CameraId, SegmentId, Time90k};

/// The `prev_hash` of a chain's first link.
pub const GENESIS: [u8; 32] = [0; 32];

/// The domain separation prefix of a link's hash.
pub const DOMAIN: &[u8] = b"veil-recording-link-v1";

/// What a link says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// A segment was stored.
    Segment,
    /// Segments left the chain (their rows were deleted).
    Removal,
}

impl LinkKind {
    /// The byte in the hash and the value in the database.
    pub fn code(self) -> u8 {
        match self {
            LinkKind::Segment => 1,
            LinkKind::Removal => 2,
        }
    }

    /// The kind stored as `code`.
    pub fn from_code(code: i64) -> Option<LinkKind> {
        match code {
            1 => Some(LinkKind::Segment),
            2 => Some(LinkKind::Removal),
            _ => None,
        }
    }
}

/// One link of a (camera, rendition) chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainLink {
    /// The camera.
    pub camera: CameraId,
    /// The rendition.
    pub rendition: String,
    /// 1, 2, … within the chain.
    pub seq: i64,
    /// Segment or removal.
    pub kind: LinkKind,
    /// The segment stored (`None` for a removal).
    pub segment: Option<SegmentId>,
    /// A segment's start; the start of the earliest segment removed.
    pub start_90k: Time90k,
    /// A segment's end (start + duration); the end of the latest removed.
    pub end_90k: Time90k,
    /// SHA-256 of the sealed object (zero for a removal).
    pub object_sha256: [u8; 32],
    /// Empty for a segment; for a removal `reason=… segments=…`.
    pub detail: String,
    /// The previous link's hash ([`GENESIS`] for the first).
    pub prev_hash: [u8; 32],
    /// [`link_hash`] of this link.
    pub hash: [u8; 32],
}

/// The hash of a link, from every field but `hash`.
pub fn link_hash(l: &ChainLink) -> [u8; 32] {
    let mut c = ring::digest::Context::new(&ring::digest::SHA256);
    c.update(DOMAIN);
    c.update(&(l.camera.0 as u64).to_be_bytes());
    c.update(&(l.rendition.len() as u32).to_be_bytes());
    c.update(l.rendition.as_bytes());
    c.update(&(l.seq as u64).to_be_bytes());
    c.update(&[l.kind.code()]);
    c.update(&l.segment.map_or(0, |s| s.0).to_be_bytes());
    c.update(&l.start_90k.0.to_be_bytes());
    c.update(&l.end_90k.0.to_be_bytes());
    c.update(&l.object_sha256);
    c.update(&(l.detail.len() as u32).to_be_bytes());
    c.update(l.detail.as_bytes());
    c.update(&l.prev_hash);
    c.finish().as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// SHA-256 of an object's bytes.
pub fn object_sha256(bytes: &[u8]) -> [u8; 32] {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes")
}

/// Checks a run of links of one chain: consecutive sequence numbers, each
/// `prev_hash` the previous link's hash (the first link's only when it is
/// seq 1: then [`GENESIS`]), each hash recomputed. The message names the
/// camera, rendition and seq that fail.
pub fn check_links(links: &[ChainLink]) -> Result<(), String> {
    let mut prev: Option<&ChainLink> = None;
    for l in links {
        let name = format!(
            "camera {} rendition {} link {}",
            l.camera.0, l.rendition, l.seq
        );
        match prev {
            Some(p) => {
                if p.camera != l.camera || p.rendition != l.rendition {
                    return Err(format!("{name}: not of the same chain as link {}", p.seq));
                }
                if l.seq != p.seq + 1 {
                    return Err(format!(
                        "{name}: follows link {} (links {} to {} are missing)",
                        p.seq,
                        p.seq + 1,
                        l.seq - 1
                    ));
                }
                if l.prev_hash != p.hash {
                    return Err(format!(
                        "{name}: its previous hash is not link {}'s hash",
                        p.seq
                    ));
                }
            }
            None => {
                if l.seq < 1 {
                    return Err(format!("{name}: sequence numbers start at 1"));
                }
                if l.seq == 1 && l.prev_hash != GENESIS {
                    return Err(format!(
                        "{name}: the first link's previous hash is not zero"
                    ));
                }
            }
        }
        if link_hash(l) != l.hash {
            return Err(format!("{name}: its hash does not match its contents"));
        }
        prev = Some(l);
    }
    Ok(())
}

/// The `detail` of a removal link: `reason=<word> segments=<ranges>`.
pub fn removal_detail(reason: &str, segments: &[SegmentId]) -> String {
    format!("reason={reason} segments={}", format_ranges(segments))
}

/// The `detail` of a removal link with the caller's own `key=value` parts
/// between the reason and the segments (an erasure's `request=12`):
/// `reason=<word> <extra> segments=<ranges>`. `extra` must pass
/// [`check_extra_detail`]; empty gives [`removal_detail`].
pub fn removal_detail_with(reason: &str, extra: &str, segments: &[SegmentId]) -> String {
    if extra.is_empty() {
        return removal_detail(reason, segments);
    }
    format!(
        "reason={reason} {extra} segments={}",
        format_ranges(segments)
    )
}

/// Checks the caller's parts of a removal's detail: space-separated
/// `key=value` tokens, the key of lowercase letters, digits and `_` (not
/// `reason` or `segments`), the value non-empty, printable ASCII without
/// spaces. Empty is allowed. The message says what is wrong.
pub fn check_extra_detail(extra: &str) -> Result<(), String> {
    if extra.is_empty() {
        return Ok(());
    }
    if extra.len() > 512 {
        return Err("at most 512 characters".into());
    }
    for part in extra.split(' ') {
        let Some((k, v)) = part.split_once('=') else {
            return Err(format!("{part:?} is not key=value"));
        };
        let key_ok = !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !key_ok || k == "reason" || k == "segments" {
            return Err(format!("{k:?} is not a usable key"));
        }
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "the value of {k} must be printable ASCII without spaces"
            ));
        }
    }
    Ok(())
}

/// Parses a removal link's detail into its reason and segment ids (other
/// `key=value` parts, such as an erasure's `request=12`, are allowed and
/// not returned).
pub fn parse_removal_detail(detail: &str) -> Result<(String, Vec<SegmentId>), String> {
    let mut reason = None;
    let mut segments = None;
    for part in detail.split(' ') {
        match part.split_once('=') {
            Some(("reason", r)) if !r.is_empty() => reason = Some(r.to_string()),
            Some(("segments", s)) => segments = Some(parse_ranges(s)?),
            Some((k, v)) if check_extra_detail(&format!("{k}={v}")).is_ok() => {}
            _ => return Err(format!("unexpected part {part:?} in a removal's detail")),
        }
    }
    match (reason, segments) {
        (Some(r), Some(s)) => Ok((r, s)),
        _ => Err("a removal's detail needs reason= and segments=".into()),
    }
}

/// Segment ids as compact ranges, ascending: `12,13,20-25` (runs of three
/// or more as `a-b`).
pub fn format_ranges(ids: &[SegmentId]) -> String {
    let mut v: Vec<i64> = ids.iter().map(|s| s.0).collect();
    v.sort_unstable();
    v.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        let mut push = |s: String| {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(&s);
        };
        if j >= i + 2 {
            push(format!("{}-{}", v[i], v[j]));
        } else {
            for x in &v[i..=j] {
                push(x.to_string());
            }
        }
        i = j + 1;
    }
    out
}

/// Parses [`format_ranges`]' output (an empty string is no id).
pub fn parse_ranges(s: &str) -> Result<Vec<SegmentId>, String> {
    let mut out = Vec::new();
    if s.is_empty() {
        return Ok(out);
    }
    let num = |t: &str| {
        t.parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{t:?} is not a segment id"))
    };
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if b < a || b - a > 100_000_000 {
                    return Err(format!("{part:?} is not a range of segment ids"));
                }
                out.extend((a..=b).map(SegmentId));
            }
            None => out.push(SegmentId(num(part)?)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<ChainLink> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let mut l = ChainLink {
                    camera: CameraId(3),
                    rendition: "main".into(),
                    seq,
                    kind: LinkKind::Segment,
                    segment: Some(SegmentId(100 + seq)),
                    start_90k: Time90k(seq * 900_000),
                    end_90k: Time90k((seq + 1) * 900_000),
                    object_sha256: object_sha256(&seq.to_be_bytes()),
                    detail: String::new(),
                    prev_hash: prev,
                    hash: [0; 32],
                };
                l.hash = link_hash(&l);
                prev = l.hash;
                l
            })
            .collect()
    }

    #[test]
    fn the_hash_is_the_documented_layout() {
        let l = ChainLink {
            camera: CameraId(1),
            rendition: "main".into(),
            seq: 1,
            kind: LinkKind::Removal,
            segment: None,
            start_90k: Time90k(2),
            end_90k: Time90k(3),
            object_sha256: [0; 32],
            detail: "reason=retention segments=4".into(),
            prev_hash: GENESIS,
            hash: [0; 32],
        };
        let mut b = b"veil-recording-link-v1".to_vec();
        b.extend(1u64.to_be_bytes());
        b.extend(4u32.to_be_bytes());
        b.extend(b"main");
        b.extend(1u64.to_be_bytes());
        b.push(2);
        b.extend(0i64.to_be_bytes());
        b.extend(2i64.to_be_bytes());
        b.extend(3i64.to_be_bytes());
        b.extend([0u8; 32]);
        b.extend(27u32.to_be_bytes());
        b.extend(b"reason=retention segments=4");
        b.extend([0u8; 32]);
        assert_eq!(link_hash(&l), object_sha256(&b));
    }

    #[test]
    fn an_intact_chain_checks_and_each_change_is_named() {
        let links = chain(5);
        check_links(&links).unwrap();
        check_links(&links[2..]).unwrap();
        type Change = fn(&mut ChainLink);
        let changes: [(&str, Change); 7] = [
            ("segment", |l| l.segment = Some(SegmentId(1))),
            ("start", |l| l.start_90k.0 += 1),
            ("end", |l| l.end_90k.0 -= 1),
            ("object", |l| l.object_sha256[0] ^= 1),
            ("detail", |l| l.detail.push('x')),
            ("kind", |l| l.kind = LinkKind::Removal),
            ("rendition", |l| l.rendition = "protected".into()),
        ];
        for (what, change) in changes {
            let mut bad = links.clone();
            change(&mut bad[2]);
            let e = check_links(&bad).unwrap_err();
            assert!(e.contains("link 3"), "{what}: {e}");
        }
        let mut bad = links.clone();
        bad[3].prev_hash[0] ^= 1;
        bad[3].hash = link_hash(&bad[3]);
        let e = check_links(&bad).unwrap_err();
        assert!(e.contains("link 4") && e.contains("previous hash"), "{e}");
        let mut missing = links.clone();
        missing.remove(2);
        let e = check_links(&missing).unwrap_err();
        assert!(e.contains("link 4") && e.contains("links 3 to 3"), "{e}");
        let mut first = chain(1);
        first[0].prev_hash = [1; 32];
        first[0].hash = link_hash(&first[0]);
        assert!(check_links(&first).unwrap_err().contains("link 1"));
    }

    #[test]
    fn ranges_round_trip() {
        let ids: Vec<SegmentId> = [25, 12, 13, 20, 21, 22, 23, 24, 7]
            .into_iter()
            .map(SegmentId)
            .collect();
        let s = format_ranges(&ids);
        assert_eq!(s, "7,12,13,20-25");
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(parse_ranges(&s).unwrap(), sorted);
        assert_eq!(format_ranges(&[]), "");
        assert!(parse_ranges("").unwrap().is_empty());
        for bad in ["x", "3-1", "1,,2", "-4", "0"] {
            assert!(parse_ranges(bad).is_err(), "{bad}");
        }
        let d = removal_detail("retention", &ids);
        assert_eq!(d, "reason=retention segments=7,12,13,20-25");
        assert_eq!(
            parse_removal_detail(&d).unwrap(),
            ("retention".to_string(), sorted)
        );
        assert!(parse_removal_detail("reason=x").is_err());
        let d = removal_detail_with("erasure", "request=12", &ids);
        assert_eq!(d, "reason=erasure request=12 segments=7,12,13,20-25");
        assert_eq!(
            parse_removal_detail(&d).unwrap(),
            (
                "erasure".to_string(),
                parse_ranges("7,12,13,20-25").unwrap()
            )
        );
        assert_eq!(
            removal_detail_with("erasure", "", &ids),
            removal_detail("erasure", &ids)
        );
        for bad in [
            "request",
            "Request=1",
            "reason=x",
            "segments=1",
            "a=",
            "a=b  c=d",
            "a=\u{7}",
        ] {
            assert!(check_extra_detail(bad).is_err(), "{bad}");
        }
        check_extra_detail("request=12 interval=3").unwrap();
        assert!(parse_removal_detail("reason=x bad segments=1").is_err());
    }
}
