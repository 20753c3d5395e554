//! The recording integrity chains' heads in the access record: the writer's
//! `recording.chain` entries (`camera:rendition:seq:hexhash` tokens, sorted,
//! space-separated), each signed by the checkpoint at its own seq, and how
//! an export finds the signed entry that anchors the links it includes.

use veil_base::CameraId;
use veil_store::db::{AuditRow, CheckpointRow};
use veil_store::Db;

use crate::Error;

/// Recording.chain entries read per page when looking for an anchor.
const PAGE: usize = 256;

/// A signed statement that a recording chain reached a link: the
/// `recording.chain` entry naming it, the checkpoint with exactly that
/// entry's seq (which signs it), and the chain's head in the entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingAnchor {
    /// The `recording.chain` entry.
    pub entry: AuditRow,
    /// The signed checkpoint at `entry.seq`.
    pub checkpoint: CheckpointRow,
    /// The chain's link seq the entry names.
    pub head_seq: i64,
    /// That link's hash.
    pub head_hash: [u8; 32],
}

/// The detail of a `recording.chain` entry: `camera:rendition:seq:hexhash`
/// tokens, sorted, separated by one space.
pub fn format_chain_heads<'a>(
    heads: impl IntoIterator<Item = (CameraId, &'a str, i64, [u8; 32])>,
) -> String {
    let mut tokens: Vec<String> = heads
        .into_iter()
        .map(|(c, r, seq, h)| format!("{}:{r}:{seq}:{}", c.0, hex(&h)))
        .collect();
    tokens.sort();
    tokens.join(" ")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A chain's head as a `recording.chain` entry names it: camera, rendition,
/// link seq, link hash.
pub type ChainHead = (CameraId, String, i64, [u8; 32]);

/// Parses a `recording.chain` entry's detail.
pub fn parse_chain_heads(detail: &str) -> Result<Vec<ChainHead>, String> {
    detail
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(|t| {
            let bad = || format!("{t:?} is not camera:rendition:seq:hash");
            let mut p = t.split(':');
            let (Some(c), Some(r), Some(s), Some(h), None) =
                (p.next(), p.next(), p.next(), p.next(), p.next())
            else {
                return Err(bad());
            };
            let camera = c.parse::<i64>().map_err(|_| bad())?;
            let seq = s.parse::<i64>().map_err(|_| bad())?;
            if r.is_empty() || seq < 1 || h.len() != 64 {
                return Err(bad());
            }
            let mut hash = [0u8; 32];
            for (i, b) in hash.iter_mut().enumerate() {
                *b = u8::from_str_radix(h.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
                    .map_err(|_| bad())?;
            }
            Ok((CameraId(camera), r.to_string(), seq, hash))
        })
        .collect()
}

/// The earliest `recording.chain` entry whose token for the chain of
/// `camera` and `rendition` names a link at or after `min_seq` and that a
/// checkpoint at exactly its seq signs; `None` when there is none yet (call
/// [`crate::AccessRecord::checkpoint`] first for links written a moment
/// ago).
pub fn recording_anchor(
    db: &Db,
    camera: CameraId,
    rendition: &str,
    min_seq: i64,
) -> Result<Option<RecordingAnchor>, Error> {
    let unavailable = |e: veil_store::Error| Error::Unavailable(e.to_string());
    let mut found = None;
    let mut before = i64::MAX;
    // Newest first: heads only grow, so the first entry naming an earlier
    // link ends the search.
    loop {
        let page = db
            .recording_chain_anchors(before, PAGE)
            .map_err(unavailable)?;
        let Some(last) = page.last() else { break };
        before = last.0.seq;
        for (entry, checkpoint) in page {
            let heads = parse_chain_heads(&entry.detail).map_err(|e| {
                Error::Unavailable(format!("access-record entry {}: {e}", entry.seq))
            })?;
            let Some((_, _, head_seq, head_hash)) = heads
                .into_iter()
                .find(|(c, r, _, _)| *c == camera && r == rendition)
            else {
                continue;
            };
            if head_seq < min_seq {
                return Ok(found);
            }
            found = Some(RecordingAnchor {
                entry,
                checkpoint,
                head_seq,
                head_hash,
            });
        }
    }
    Ok(found)
}

/// Checks each recording chain against the newest signed `recording.chain`
/// entry naming it: the link at the seq the entry names exists and has the
/// hash it names (the chain's links themselves are checked by
/// `veil_store::chain_store::verify_chains`, and the entry by the access
/// record's verification). Returns how many chains an entry names; the
/// error names the camera, rendition, link seq and entry.
pub fn verify_recording_heads(db: &Db) -> Result<usize, String> {
    let e = |e: veil_store::Error| format!("cannot read the recording chains: {e}");
    let mut seen = std::collections::HashSet::new();
    let mut before = i64::MAX;
    loop {
        let page = db.recording_chain_anchors(before, PAGE).map_err(e)?;
        let Some(last) = page.last() else { break };
        before = last.0.seq;
        for (entry, _) in page {
            let heads = parse_chain_heads(&entry.detail)
                .map_err(|m| format!("access-record entry {}: {m}", entry.seq))?;
            for (camera, rendition, seq, hash) in heads {
                if !seen.insert((camera, rendition.clone())) {
                    continue;
                }
                let link = db.chain_links(camera, &rendition, seq, seq).map_err(e)?;
                let at = format!("camera {} rendition {rendition} link {seq}", camera.0);
                match link.first() {
                    None => {
                        return Err(format!(
                        "{at}: named by signed access-record entry {} but missing from the chain",
                        entry.seq
                    ))
                    }
                    Some(l) if l.hash != hash => {
                        return Err(format!(
                            "{at}: its hash is not the one signed access-record entry {} names",
                            entry.seq
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
    }
    Ok(seen.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_round_trip_sorted() {
        let d = format_chain_heads([
            (CameraId(2), "main", 7, [0xab; 32]),
            (CameraId(1), "protected", 12, [1; 32]),
        ]);
        assert_eq!(
            d,
            format!(
                "1:protected:12:{} 2:main:7:{}",
                "01".repeat(32),
                "ab".repeat(32)
            )
        );
        let p = parse_chain_heads(&d).unwrap();
        assert_eq!(p[0], (CameraId(1), "protected".into(), 12, [1; 32]));
        assert_eq!(p[1], (CameraId(2), "main".into(), 7, [0xab; 32]));
        for bad in [
            "1:main:7",
            "x:main:7:00",
            "1::7:00",
            &format!("1:main:0:{}", "00".repeat(32)),
        ] {
            assert!(parse_chain_heads(bad).is_err(), "{bad}");
        }
    }
}
