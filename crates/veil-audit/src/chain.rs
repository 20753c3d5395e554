//! The hash chain over access-record entries, pure: canonical encoding,
//! linking, and verification. No I/O, no clock.
//!
//! Encoding, version 1 (all integers big-endian, every text field UTF-8 and
//! prefixed by its length as u32):
//! `0x01 || seq u64 || time_90k i64 || actor || action || resource || outcome ||
//!  justification || detail || client`.
//! `hash = SHA-256(b"veil-audit-v1" || prev_hash (32) || encoding)`; the first
//! entry's `prev_hash` is 32 zero bytes ([`GENESIS`]).

use ring::digest::{Context, SHA256};

/// Version byte of the canonical encoding.
pub const ENCODING_VERSION: u8 = 1;
/// Domain-separation prefix of every hash.
pub const DOMAIN: &[u8] = b"veil-audit-v1";
/// The `prev_hash` of the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// One entry as it is hashed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// When (90 kHz units since the epoch).
    pub time_90k: i64,
    /// Pseudonymous actor id.
    pub actor: String,
    /// Action id.
    pub action: String,
    /// Resource, e.g. `camera:1`.
    pub resource: String,
    /// `ok` or `denied`.
    pub outcome: String,
    /// Why, where the action requires a justification (else empty).
    pub justification: String,
    /// Extra facts.
    pub detail: String,
    /// Client address as configured.
    pub client: String,
}

/// The canonical bytes of `e` (version 1).
pub fn encode(e: &Entry) -> Vec<u8> {
    let fields = [
        &e.actor,
        &e.action,
        &e.resource,
        &e.outcome,
        &e.justification,
        &e.detail,
        &e.client,
    ];
    let mut out = Vec::with_capacity(17 + fields.iter().map(|f| 4 + f.len()).sum::<usize>());
    out.push(ENCODING_VERSION);
    out.extend_from_slice(&e.seq.to_be_bytes());
    out.extend_from_slice(&e.time_90k.to_be_bytes());
    for f in fields {
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend_from_slice(f.as_bytes());
    }
    out
}

/// The hash of `e` linked after `prev`.
pub fn link(prev: &[u8; 32], e: &Entry) -> [u8; 32] {
    let mut c = Context::new(&SHA256);
    c.update(DOMAIN);
    c.update(prev);
    c.update(&encode(e));
    c.finish().as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// Where and why a chain does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the access record is broken at sequence {seq}: {reason}")]
pub struct Broken {
    /// The first sequence number that fails.
    pub seq: u64,
    /// What is wrong.
    pub reason: String,
}

/// Verifies stored entries `(entry, prev_hash, hash)` in order, starting after
/// `(start_seq - 1, start_prev)`: sequence numbers must follow without gaps, each
/// stored `prev_hash` must be the previous hash, and each stored hash must be
/// the recomputed one. Returns the last hash.
pub fn verify<'a>(
    start_seq: u64,
    start_prev: [u8; 32],
    entries: impl IntoIterator<Item = (&'a Entry, &'a [u8], &'a [u8])>,
) -> Result<[u8; 32], Broken> {
    let mut prev = start_prev;
    for (expect_seq, (e, stored_prev, stored_hash)) in (start_seq..).zip(entries) {
        if e.seq != expect_seq {
            return Err(Broken {
                seq: expect_seq.min(e.seq),
                reason: format!(
                    "expected sequence {expect_seq}, found {} (entries missing or reordered)",
                    e.seq
                ),
            });
        }
        if stored_prev != prev {
            return Err(Broken {
                seq: e.seq,
                reason: "its previous-hash does not match the entry before it".into(),
            });
        }
        let h = link(&prev, e);
        if stored_hash != h {
            return Err(Broken {
                seq: e.seq,
                reason: "its content does not match its hash (edited)".into(),
            });
        }
        prev = h;
    }
    Ok(prev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(seq: u64) -> Entry {
        Entry {
            seq,
            time_90k: 1_795_000_000 * 90_000 + seq as i64,
            actor: "u-0123456789abcdef".into(),
            action: "playback".into(),
            resource: "camera:1".into(),
            outcome: "ok".into(),
            justification: String::new(),
            detail: "rendition=main".into(),
            client: "127.0.0.1".into(),
        }
    }

    #[test]
    fn encoding_v1_golden() {
        let e = entry(1);
        assert_eq!(
            hex::encode(encode(&e)),
            concat!(
                "01",
                "0000000000000001",
                "000092edca5d0c01",
                "00000012",
                "752d30313233343536373839616263646566",
                "00000008",
                "706c61796261636b",
                "00000008",
                "63616d6572613a31",
                "00000002",
                "6f6b",
                "00000000",
                "0000000e",
                "72656e646974696f6e3d6d61696e",
                "00000009",
                "3132372e302e302e31",
            )
        );
        // Computed independently (Python's hashlib over the bytes above).
        assert_eq!(
            hex::encode(link(&GENESIS, &e)),
            "520532cfdced69ca51808963bc1170b5b425e077adb61c3483c800c571efb114"
        );
    }

    fn chain(n: u64) -> Vec<(Entry, Vec<u8>, Vec<u8>)> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|s| {
                let e = entry(s);
                let h = link(&prev, &e);
                let row = (e, prev.to_vec(), h.to_vec());
                prev = h;
                row
            })
            .collect()
    }

    fn run(rows: &[(Entry, Vec<u8>, Vec<u8>)]) -> Result<[u8; 32], Broken> {
        verify(
            1,
            GENESIS,
            rows.iter().map(|(e, p, h)| (e, p.as_slice(), h.as_slice())),
        )
    }

    #[test]
    fn detects_edit_delete_swap() {
        let good = chain(10);
        assert_eq!(run(&good).unwrap().to_vec(), good[9].2);
        let mut edited = good.clone();
        edited[4].0.outcome = "denied".into();
        assert_eq!(run(&edited).unwrap_err().seq, 5);
        let mut deleted = good.clone();
        deleted.remove(6);
        assert_eq!(run(&deleted).unwrap_err().seq, 7);
        let mut swapped = good.clone();
        swapped.swap(2, 3);
        assert_eq!(run(&swapped).unwrap_err().seq, 3);
        // Re-hashing an edited entry breaks its successor's link.
        let mut rehashed = good.clone();
        rehashed[4].0.actor = "u-someone-else".into();
        rehashed[4].2 = link(&good[3].2.clone().try_into().unwrap(), &rehashed[4].0).to_vec();
        assert_eq!(run(&rehashed).unwrap_err().seq, 6);
    }

    proptest! {
        #[test]
        fn any_single_byte_edit_is_detected(i in 0usize..8, field in 0usize..4, byte in any::<u8>()) {
            let mut rows = chain(8);
            let e = &mut rows[i].0;
            let target = match field { 0 => &mut e.actor, 1 => &mut e.action, 2 => &mut e.resource, _ => &mut e.detail };
            let before = target.clone();
            target.push(char::from(byte));
            prop_assume!(*target != before);
            prop_assert_eq!(run(&rows).unwrap_err().seq, i as u64 + 1);
        }
    }
}
