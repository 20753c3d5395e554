//! The offline export: JSON Lines that a third party verifies with no
//! database (`veil audit verify --file`, or the standard-tools procedure in
//! `docs/audit-format.md`).
//!
//! Line 1 is a header (`"type": "header"`) naming the public key; then one
//! line per entry (`"type": "entry"`) in sequence order; then the anchor the
//! range starts from, if any (`"type": "anchor"`), and the checkpoints inside
//! the range (`"type": "checkpoint"`). The range is extended to the first
//! checkpoint at or after its end, so every exported entry is covered by a
//! signature.

use std::io::Write;

use veil_store::db::{AuditRow, CheckpointRow};
use veil_store::Db;

use crate::chain;
use crate::checkpoint::{self, fingerprint, unhex};

/// Format name in the header.
pub const FORMAT: &str = "veil-audit-export";
/// Format version in the header.
pub const VERSION: i64 = 1;

/// What an export holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Entries written.
    pub entries: u64,
    /// First sequence number.
    pub first_seq: i64,
    /// Last sequence number.
    pub last_seq: i64,
    /// Checkpoints and anchors written.
    pub checkpoints: u64,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn entry_json(r: &AuditRow) -> serde_json::Value {
    serde_json::json!({
        "type": "entry",
        "seq": r.seq,
        "time_90k": r.time_90k.0,
        "time": r.time_90k.to_rfc3339(),
        "actor": r.actor,
        "action": r.action,
        "resource": r.resource,
        "outcome": r.outcome,
        "justification": r.justification,
        "detail": r.detail,
        "client": r.client,
        "prev_hash": hex(&r.prev_hash),
        "hash": hex(&r.hash),
    })
}

/// Writes entries `from..=to` (clamped to what exists, `to` extended to the
/// next checkpoint) as an export signed by `public_key`.
pub fn write(
    db: &Db,
    public_key: &[u8; 32],
    from: Option<i64>,
    to: Option<i64>,
    out: &mut impl Write,
) -> Result<Summary, String> {
    let read = |e: veil_store::Error| e.to_string();
    let io = |e: std::io::Error| e.to_string();
    let anchor = db.latest_audit_anchor().map_err(read)?;
    let floor = anchor.as_ref().map(|a| a.seq + 1).unwrap_or(1);
    let from = from.unwrap_or(floor).max(floor);
    let tail = db.audit_tail().map_err(read)?.map(|t| t.0).unwrap_or(0);
    let asked_to = to.unwrap_or(tail).min(tail);
    let to = db
        .audit_checkpoints(asked_to, i64::MAX)
        .map_err(read)?
        .into_iter()
        .find(|c| c.kind == "checkpoint")
        .map(|c| c.seq)
        .unwrap_or(asked_to);
    let first = db.audit_range(from, from, 1).map_err(read)?;
    let start_prev = first
        .first()
        .map(|r| r.prev_hash.clone())
        .unwrap_or_else(|| chain::GENESIS.to_vec());
    let header = serde_json::json!({
        "type": "header",
        "format": FORMAT,
        "version": VERSION,
        "encoding": chain::ENCODING_VERSION,
        "public_key": hex(public_key),
        "public_key_fingerprint": fingerprint(public_key),
        "first_seq": from,
        "last_seq": to,
        "start_prev_hash": hex(&start_prev),
    });
    writeln!(out, "{header}").map_err(io)?;
    let mut s = Summary {
        first_seq: from,
        last_seq: to,
        ..Default::default()
    };
    let mut next = from;
    while next <= to {
        let rows = db.audit_range(next, to, 10_000).map_err(read)?;
        let Some(last) = rows.last() else { break };
        next = last.seq + 1;
        for r in &rows {
            writeln!(out, "{}", entry_json(r)).map_err(io)?;
            s.entries += 1;
        }
    }
    let mut signed: Vec<CheckpointRow> = anchor.filter(|a| a.seq + 1 == from).into_iter().collect();
    signed.extend(
        db.audit_checkpoints(from, to)
            .map_err(read)?
            .into_iter()
            .filter(|c| c.kind == "checkpoint"),
    );
    for c in &signed {
        writeln!(out, "{}", checkpoint::to_json(c)).map_err(io)?;
        s.checkpoints += 1;
    }
    out.flush().map_err(io)?;
    Ok(s)
}

/// An export read back.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The key named in the header.
    pub public_key: [u8; 32],
    /// The first entry's sequence number.
    pub first_seq: i64,
    /// The previous-hash of the first entry.
    pub start_prev_hash: [u8; 32],
    /// Entries in file order.
    pub entries: Vec<AuditRow>,
    /// The anchor the range starts from, if any.
    pub anchor: Option<CheckpointRow>,
    /// Checkpoints.
    pub checkpoints: Vec<CheckpointRow>,
}

/// Parses an export; errors give the 1-based line and what is wrong.
pub fn parse(text: &str) -> Result<Parsed, (usize, String)> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, head) = lines.next().ok_or((1, "the file is empty".to_string()))?;
    let head: serde_json::Value =
        serde_json::from_str(head).map_err(|e| (1, format!("not JSON: {e}")))?;
    if head["type"] != "header" || head["format"] != FORMAT {
        return Err((1, format!("not a {FORMAT} header")));
    }
    if head["version"] != VERSION {
        return Err((
            1,
            format!(
                "unsupported version {} (this build reads {VERSION})",
                head["version"]
            ),
        ));
    }
    let key32 = |v: &serde_json::Value, what: &str| -> Result<[u8; 32], String> {
        v.as_str()
            .and_then(unhex)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("{what} must be 64 hex digits"))
    };
    let public_key = key32(&head["public_key"], "public_key").map_err(|e| (1, e))?;
    let start_prev_hash = key32(&head["start_prev_hash"], "start_prev_hash").map_err(|e| (1, e))?;
    let first_seq = head["first_seq"]
        .as_i64()
        .ok_or((1, "first_seq must be an integer".to_string()))?;
    let mut p = Parsed {
        public_key,
        first_seq,
        start_prev_hash,
        entries: Vec::new(),
        anchor: None,
        checkpoints: Vec::new(),
    };
    for (i, line) in lines {
        let n = i + 1;
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| (n, format!("not JSON: {e}")))?;
        match v["type"].as_str() {
            Some("entry") => p.entries.push(parse_entry(&v).map_err(|e| (n, e))?),
            Some("checkpoint") => p
                .checkpoints
                .push(checkpoint::from_json(&v).map_err(|e| (n, e))?),
            Some("anchor") => p.anchor = Some(checkpoint::from_json(&v).map_err(|e| (n, e))?),
            other => return Err((n, format!("unknown line type {other:?}"))),
        }
    }
    Ok(p)
}

fn parse_entry(v: &serde_json::Value) -> Result<AuditRow, String> {
    let text = |k: &str| {
        v[k].as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("entry field {k:?} must be text"))
    };
    let int = |k: &str| {
        v[k].as_i64()
            .ok_or_else(|| format!("entry field {k:?} must be an integer"))
    };
    let bytes = |k: &str| unhex(&text(k)?).ok_or_else(|| format!("entry field {k:?} must be hex"));
    Ok(AuditRow {
        seq: int("seq")?,
        time_90k: veil_base::Time90k(int("time_90k")?),
        actor: text("actor")?,
        action: text("action")?,
        resource: text("resource")?,
        outcome: text("outcome")?,
        detail: text("detail")?,
        client: text("client")?,
        justification: text("justification")?,
        prev_hash: bytes("prev_hash")?,
        hash: bytes("hash")?,
    })
}
