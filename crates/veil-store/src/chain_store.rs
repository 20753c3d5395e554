//! The recording integrity chain in the store: reading links for exports,
//! chaining segments stored before the chain existed, and checking every
//! chain against the rows and the objects (`veil audit verify`).

use std::collections::HashMap;
use std::path::Path;

use veil_base::{CameraId, SegmentId, Time90k};

use crate::chain::{self, ChainLink, LinkKind};
use crate::db::UnlinkedSegment;
use crate::{Db, Error, Store};

/// Rows chained per transaction at start.
const LINK_BATCH: usize = 256;
/// Rows and links read per page by verification.
const VERIFY_PAGE: i64 = 4096;

impl Store {
    /// Links `from_seq..=to_seq` (inclusive) of the chain of `camera` and
    /// `rendition`, in seq order.
    pub fn chain_links(
        &self,
        camera: CameraId,
        rendition: &str,
        from_seq: i64,
        to_seq: i64,
    ) -> Result<Vec<ChainLink>, Error> {
        self.db.chain_links(camera, rendition, from_seq, to_seq)
    }

    /// A segment's link, if it has one (every segment stored since the
    /// chain exists, and older ones once chained at start).
    pub fn segment_link(&self, segment: SegmentId) -> Result<Option<ChainLink>, Error> {
        self.db.segment_link(segment)
    }

    /// The last link of every chain.
    pub fn chain_heads(&self) -> Result<Vec<ChainLink>, Error> {
        self.db.chain_heads()
    }

    /// Chains segments stored before the recording chain existed: in time
    /// order, in batches of a few hundred rows (each one transaction), each
    /// object read and hashed. A row whose object cannot be read is left
    /// for `veil check`, as before. Run by [`Store::recover`], before
    /// recording starts. Returns how many rows were chained.
    pub async fn chain_unlinked_segments(&self) -> Result<usize, Error> {
        let mut after = (Time90k(i64::MIN), SegmentId(0));
        let (mut chained, mut skipped) = (0, 0);
        loop {
            let db = self.db.clone();
            let page = blocking(move || db.unlinked_segments(after, LINK_BATCH)).await?;
            let Some(last) = page.last() else { break };
            after = (last.start_90k, last.id);
            if chained == 0 && skipped == 0 {
                tracing::info!(
                    "chaining segments stored before the recording integrity chain existed"
                );
            }
            let mut batch: Vec<(UnlinkedSegment, [u8; 32])> = Vec::with_capacity(page.len());
            for s in page {
                match self.objects.get(&s.object_key).await {
                    Ok(o) => {
                        let sha = chain::object_sha256(&o);
                        batch.push((s, sha));
                    }
                    Err(Error::NotFound(_)) | Err(Error::Corrupt(_)) => skipped += 1,
                    Err(e) => return Err(e),
                }
            }
            let db = self.db.clone();
            chained += blocking(move || db.link_segments(&batch)).await?;
        }
        if chained > 0 || skipped > 0 {
            tracing::info!(
                chained,
                skipped,
                "chained the segments stored before the recording integrity chain; \
                 those whose object could not be read are left to `veil check`"
            );
        }
        Ok(chained)
    }
}

/// What [`verify_chains`] checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainReport {
    /// Chains (camera, rendition) checked.
    pub chains: usize,
    /// Links recomputed.
    pub links: u64,
    /// Segment rows compared with their links.
    pub segments: u64,
    /// Objects read and hashed.
    pub objects: u64,
    /// Rows not (yet) in a chain: stored before it and not chained, because
    /// their object could not be read (see `veil check`).
    pub unchained: u64,
    /// Rows marked `missing` or `corrupt` whose object is absent (`veil
    /// check` reports them).
    pub unreadable: u64,
    /// Removal links by reason (`retention`, `quota`, `decommission`,
    /// `erasure`): how many links, how many segments they removed.
    pub removals: std::collections::BTreeMap<String, (u64, u64)>,
    /// Every erasure's removal link, as `veil audit verify` shows it: camera,
    /// rendition, link, the time it covers and its whole detail (which names
    /// the request and the segments).
    pub erasures: Vec<String>,
}

/// Reads an object of a local object directory without opening it as a
/// store (which would create it): `None` if absent.
pub fn read_local_object(dir: &Path, key: &str) -> Result<Option<Vec<u8>>, Error> {
    crate::objects::validate_key(key)?;
    match std::fs::read(dir.join(key)) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Reads an object by key: `None` when absent.
pub type ReadObject<'a> = dyn FnMut(&str) -> Result<Option<Vec<u8>>, Error> + 'a;

fn name(camera: CameraId, rendition: &str, seq: i64) -> String {
    format!("camera {} rendition {rendition} link {seq}", camera.0)
}

/// Checks every recording chain: each chain's links recompute and are
/// consecutive from 1 to its head; every segment row has its segment link,
/// with the same object hash and times, unless it is not chained at all;
/// every segment a link stores has its row unless a later removal link
/// lists it; each object's SHA-256 (read through `read`, `None` when
/// absent) is its link's. Rows and links written while it runs (after the
/// heads it read first) are left alone. The error names the camera,
/// rendition, link seq and segment id.
pub fn verify_chains(db: &Db, read: &mut ReadObject<'_>) -> Result<ChainReport, String> {
    let e = |e: Error| format!("cannot read the recording chains: {e}");
    let mut report = ChainReport::default();
    let heads = db.chain_heads().map_err(e)?;
    let head_seq: HashMap<(CameraId, String), i64> = heads
        .iter()
        .map(|h| ((h.camera, h.rendition.clone()), h.seq))
        .collect();
    // Segments each chain still holds: (camera, rendition, seq) by id.
    let mut live: HashMap<SegmentId, ChainLink> = HashMap::new();
    for h in &heads {
        report.chains += 1;
        let mut from = 1;
        let mut prev: Option<ChainLink> = None;
        while from <= h.seq {
            let to = (from + VERIFY_PAGE - 1).min(h.seq);
            let mut page = db
                .chain_links(h.camera, &h.rendition, from, to)
                .map_err(e)?;
            if let Some(p) = prev.take() {
                page.insert(0, p);
            }
            let first = page.first().map(|l| l.seq);
            if first != Some(from) && first != Some(from - 1) {
                return Err(format!(
                    "{}: missing from the chain",
                    name(h.camera, &h.rendition, from)
                ));
            }
            chain::check_links(&page)?;
            let last = page.last().cloned().expect("not empty");
            if last.seq != to {
                return Err(format!(
                    "{}: missing from the chain",
                    name(h.camera, &h.rendition, last.seq + 1)
                ));
            }
            for l in &page {
                if Some(l.seq) == first && from > 1 {
                    continue; // carried over from the previous page
                }
                report.links += 1;
                match l.kind {
                    LinkKind::Segment => {
                        let id = l.segment.ok_or_else(|| {
                            format!(
                                "{}: a segment link without a segment",
                                name(l.camera, &l.rendition, l.seq)
                            )
                        })?;
                        live.insert(id, l.clone());
                    }
                    LinkKind::Removal => {
                        let (reason, ids) = chain::parse_removal_detail(&l.detail)
                            .map_err(|m| format!("{}: {m}", name(l.camera, &l.rendition, l.seq)))?;
                        let count = report.removals.entry(reason.clone()).or_default();
                        count.0 += 1;
                        count.1 += ids.len() as u64;
                        if reason == "erasure" {
                            report.erasures.push(format!(
                                "{}: {} to {}: {}",
                                name(l.camera, &l.rendition, l.seq),
                                l.start_90k.to_rfc3339(),
                                l.end_90k.to_rfc3339(),
                                l.detail
                            ));
                        }
                        for id in ids {
                            live.remove(&id);
                        }
                    }
                }
            }
            prev = Some(last);
            from = to + 1;
        }
    }
    let mut after = SegmentId(0);
    loop {
        let rows = db
            .chained_segments(after, VERIFY_PAGE as usize)
            .map_err(e)?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for r in rows {
            report.segments += 1;
            let Some(link) = live.remove(&r.id) else {
                match db.segment_link(r.id).map_err(e)? {
                    // Written after the heads were read.
                    Some(l)
                        if head_seq
                            .get(&(l.camera, l.rendition.clone()))
                            .is_none_or(|h| l.seq > *h) =>
                    {
                        continue
                    }
                    Some(l) => {
                        return Err(format!(
                            "{}: segment {} has a row although a removal link lists it",
                            name(l.camera, &l.rendition, l.seq),
                            r.id.0
                        ))
                    }
                    None if r.object_sha256.is_none() => {
                        report.unchained += 1;
                        continue;
                    }
                    None => {
                        return Err(format!(
                            "camera {} rendition {}: segment {} is in no link of the chain",
                            r.camera.0, r.rendition, r.id.0
                        ))
                    }
                }
            };
            let at = name(link.camera, &link.rendition, link.seq);
            if (link.camera, link.rendition.as_str()) != (r.camera, r.rendition.as_str()) {
                return Err(format!(
                    "{at}: segment {}'s row is of camera {} rendition {}",
                    r.id.0, r.camera.0, r.rendition
                ));
            }
            if link.start_90k != r.start_90k || link.end_90k != r.end_90k {
                return Err(format!(
                    "{at}: segment {}'s row has other times than its link",
                    r.id.0
                ));
            }
            if r.object_sha256 != Some(link.object_sha256) {
                return Err(format!(
                    "{at}: segment {}'s row has another object hash than its link",
                    r.id.0
                ));
            }
            match read(&r.object_key).map_err(e)? {
                Some(o) => {
                    report.objects += 1;
                    if chain::object_sha256(&o) != link.object_sha256 {
                        return Err(format!(
                            "{at}: segment {}'s object does not match its link's SHA-256",
                            r.id.0
                        ));
                    }
                }
                None if r.state != "ok" => report.unreadable += 1,
                // Deleted (with a removal link) since the page was read.
                None if !db.segment_exists(r.id).map_err(e)? => {}
                None => {
                    return Err(format!("{at}: segment {}'s object is missing", r.id.0));
                }
            }
        }
    }
    if !live.is_empty() {
        // Rows deleted since the links were read have a removal link after
        // the heads read first; any other is gone without one.
        let mut removed_since = std::collections::HashSet::new();
        for h in &heads {
            for l in db
                .chain_links(h.camera, &h.rendition, h.seq + 1, i64::MAX)
                .map_err(e)?
            {
                if let Ok((_, ids)) = chain::parse_removal_detail(&l.detail) {
                    removed_since.extend(ids);
                }
            }
        }
        let mut left: Vec<(&SegmentId, &ChainLink)> = live
            .iter()
            .filter(|(id, _)| !removed_since.contains(*id))
            .collect();
        left.sort_by_key(|(id, _)| **id);
        if let Some((id, l)) = left.first() {
            return Err(format!(
                "{}: segment {}'s row is gone and no removal link lists it",
                name(l.camera, &l.rendition, l.seq),
                id.0
            ));
        }
    }
    Ok(report)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?
}
