//! The breach register's signals (D8): candidates raised from the access
//! record's own entries and a few facts the server checks.
//!
//! Pure: [`detect`] takes entries (in sequence order) and [`Facts`] and
//! returns [`Candidate`]s; the server stores them (a candidate's `key`
//! raises it once) and records each one raised. Entries that belong
//! together (one account's failed logins, one account's playbacks) are
//! grouped into *episodes*: consecutive entries of the same kind and actor
//! less than the signal's window apart. An episode raises when some window
//! within it reaches the threshold; its key is the signal, the actor and the
//! episode's first sequence number, so scanning the same entries again (the
//! server re-reads [`LOOKBACK_MIN`] minutes before the first new entry) raises nothing
//! new. Summaries name pseudonyms only, never names or other personal data.
//! The thresholds are the constants below; `docs/design/dpo-desk.md` says
//! why each was chosen.

use std::collections::BTreeMap;

use veil_base::{Time90k, TIME_UNITS_PER_SEC};
use veil_store::db::AuditRow;

const MINUTE: i64 = 60 * TIME_UNITS_PER_SEC;

/// Failed logins of one account that raise a candidate …
pub const ACCOUNT_LOGIN_FAILURES: usize = 10;
/// … within this many minutes.
pub const ACCOUNT_LOGIN_WINDOW_MIN: i64 = 10;
/// Failed logins of the whole installation (any account, or none) that
/// raise a candidate …
pub const INSTALLATION_LOGIN_FAILURES: usize = 20;
/// … within this many minutes.
pub const INSTALLATION_LOGIN_WINDOW_MIN: i64 = 5;
/// Camera-hours of recorded video one account plays back (the union of the
/// served intervals per camera, so a player's repeated range requests count
/// once) that raise a candidate …
pub const MASS_PLAYBACK_CAMERA_HOURS: i64 = 12;
/// … within this many minutes.
pub const MASS_PLAYBACK_WINDOW_MIN: i64 = 60;
/// Export requests by one account that raise a candidate …
pub const MASS_EXPORTS: usize = 5;
/// … within this many minutes.
pub const MASS_EXPORT_WINDOW_MIN: i64 = 60;
/// Refusals of one account (outside a role's hours, held video, a disabled
/// or expired account) closer together than this are one episode: one
/// candidate, however many attempts.
pub const REFUSAL_EPISODE_MIN: i64 = 60;
/// How far before the first new entry a scan reads again, so that an
/// episode that began before it is seen whole: the longest window above.
pub const LOOKBACK_MIN: i64 = 60;

/// What raised a candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// `veil audit verify` would fail: an entry or a checkpoint is broken.
    AuditVerify,
    /// Many failed logins of one account.
    LoginBurstAccount,
    /// Many failed logins across the installation.
    LoginBurstInstallation,
    /// One account played back a lot of recorded video.
    MassPlayback,
    /// One account requested many exports.
    MassExport,
    /// A role was used outside its hours (the refusal is recorded).
    OutsideHours,
    /// Video under a restriction hold was asked for.
    HeldVideo,
    /// A disabled or expired account's credential was used.
    DisabledAccount,
    /// The data directory, the database or a root key file is open to
    /// group or others.
    Permissions,
}

impl Signal {
    /// Every signal.
    pub const ALL: [Signal; 9] = [
        Signal::AuditVerify,
        Signal::LoginBurstAccount,
        Signal::LoginBurstInstallation,
        Signal::MassPlayback,
        Signal::MassExport,
        Signal::OutsideHours,
        Signal::HeldVideo,
        Signal::DisabledAccount,
        Signal::Permissions,
    ];

    /// The stable id stored with the candidate.
    pub fn id(self) -> &'static str {
        match self {
            Signal::AuditVerify => "audit_verify",
            Signal::LoginBurstAccount => "login_burst_account",
            Signal::LoginBurstInstallation => "login_burst_installation",
            Signal::MassPlayback => "mass_playback",
            Signal::MassExport => "mass_export",
            Signal::OutsideHours => "outside_hours",
            Signal::HeldVideo => "held_video",
            Signal::DisabledAccount => "disabled_account",
            Signal::Permissions => "permissions",
        }
    }
}

/// Facts the server checks beside the entries.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// Verification failed: the first bad sequence number and why.
    pub verify_failure: Option<(i64, String)>,
    /// Paths open to group or others: what (`data directory`, `database`,
    /// `root key file root.key`) and the mode's permission bits.
    pub permission_problems: Vec<(String, u32)>,
}

/// A candidate breach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// What raised it.
    pub signal: Signal,
    /// Raises it once: the same key is never stored twice.
    pub key: String,
    /// One line, pseudonyms only.
    pub summary: String,
    /// The access-record entries that show it, as inclusive sequence
    /// ranges (empty for facts that are not in the record).
    pub evidence: Vec<(i64, i64)>,
}

/// Consecutive sequence numbers merged into inclusive ranges.
pub fn ranges(seqs: &[i64]) -> Vec<(i64, i64)> {
    let mut sorted = seqs.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for s in sorted {
        match out.last_mut() {
            Some((_, b)) if *b + 1 == s => *b = s,
            _ => out.push((s, s)),
        }
    }
    out
}

fn field<'a>(detail: &'a str, name: &str) -> Option<&'a str> {
    detail
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

fn failed_login(r: &AuditRow) -> bool {
    match r.action.as_str() {
        // The password was right and the code comes next: not a failure.
        "login" => r.outcome == "denied" && r.detail != "second_factor=missing",
        "login.locked" => true,
        _ => false,
    }
}

fn refusal(r: &AuditRow) -> Option<Signal> {
    if r.action == "access.denied" {
        return match field(&r.detail, "reason")? {
            "outside_hours" => Some(Signal::OutsideHours),
            "held" => Some(Signal::HeldVideo),
            "account_disabled" | "account_expired" => Some(Signal::DisabledAccount),
            _ => None,
        };
    }
    if r.action == "login"
        && r.outcome == "denied"
        && matches!(r.detail.as_str(), "disabled" | "expired")
    {
        return Some(Signal::DisabledAccount);
    }
    None
}

/// Splits `rows` (in sequence order) into episodes: runs whose
/// consecutive entries are less than `gap` apart.
fn episodes<'a>(rows: &[&'a AuditRow], gap: i64) -> Vec<Vec<&'a AuditRow>> {
    let mut out: Vec<Vec<&AuditRow>> = Vec::new();
    for r in rows {
        match out.last_mut() {
            Some(ep) if r.time_90k.0 - ep.last().map_or(i64::MIN, |l| l.time_90k.0) < gap => {
                ep.push(r)
            }
            _ => out.push(vec![r]),
        }
    }
    out
}

/// The largest `measure` of any window of `window` within `ep`.
fn peak(ep: &[&AuditRow], window: i64, measure: impl Fn(&[&AuditRow]) -> i64) -> i64 {
    let mut best = 0;
    let mut j = 0;
    for i in 0..ep.len() {
        j = j.max(i);
        while j + 1 < ep.len() && ep[j + 1].time_90k.0 - ep[i].time_90k.0 < window {
            j += 1;
        }
        best = best.max(measure(&ep[i..=j]));
    }
    best
}

/// The union of the served playback intervals, per camera, in 90 kHz units.
fn played_90k(rows: &[&AuditRow]) -> i64 {
    let mut by_camera: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for r in rows {
        let (Some(a), Some(b)) = (
            field(&r.detail, "start").and_then(Time90k::parse_rfc3339),
            field(&r.detail, "end").and_then(Time90k::parse_rfc3339),
        ) else {
            continue;
        };
        by_camera
            .entry(r.resource.as_str())
            .or_default()
            .push((a.0, b.0.max(a.0)));
    }
    let mut total = 0;
    for (_, mut v) in by_camera {
        v.sort_unstable();
        let mut cur: Option<(i64, i64)> = None;
        for (a, b) in v {
            cur = match cur {
                Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
                Some((ca, cb)) => {
                    total += cb - ca;
                    Some((a, b))
                }
                None => Some((a, b)),
            };
        }
        if let Some((a, b)) = cur {
            total += b - a;
        }
    }
    total
}

fn seqs(ep: &[&AuditRow]) -> Vec<(i64, i64)> {
    ranges(&ep.iter().map(|r| r.seq).collect::<Vec<_>>())
}

/// Groups `rows` by actor (sorted, so the output is stable).
fn by_actor<'a>(rows: impl Iterator<Item = &'a AuditRow>) -> BTreeMap<&'a str, Vec<&'a AuditRow>> {
    let mut m: BTreeMap<&str, Vec<&AuditRow>> = BTreeMap::new();
    for r in rows {
        m.entry(r.actor.as_str()).or_default().push(r);
    }
    m
}

/// The candidates that `entries` (in sequence order) and `facts` show.
pub fn detect(entries: &[AuditRow], facts: &Facts) -> Vec<Candidate> {
    let mut out = Vec::new();
    if let Some((seq, why)) = &facts.verify_failure {
        out.push(Candidate {
            signal: Signal::AuditVerify,
            key: format!("audit_verify:{seq}"),
            summary: format!("access-record verification fails at entry {seq}: {why}"),
            evidence: if *seq > 0 { vec![(*seq, *seq)] } else { vec![] },
        });
    }
    for (what, mode) in &facts.permission_problems {
        out.push(Candidate {
            signal: Signal::Permissions,
            key: format!("permissions:{what}:{mode:o}"),
            summary: format!("the {what} has permissions {mode:o}: group or others may read it"),
            evidence: vec![],
        });
    }

    // Failed logins, per account (known accounts only: `anonymous` is every
    // unknown name at once) and installation-wide.
    let failures: Vec<&AuditRow> = entries.iter().filter(|r| failed_login(r)).collect();
    for (actor, rows) in by_actor(failures.iter().copied()) {
        if actor == "anonymous" {
            continue;
        }
        let window = ACCOUNT_LOGIN_WINDOW_MIN * MINUTE;
        for ep in episodes(&rows, window) {
            let n = peak(&ep, window, |w| w.len() as i64);
            if n >= ACCOUNT_LOGIN_FAILURES as i64 {
                out.push(Candidate {
                    signal: Signal::LoginBurstAccount,
                    key: format!("login_burst_account:{actor}:{}", ep[0].seq),
                    summary: format!(
                        "{} failed logins of account {actor} ({n} within {ACCOUNT_LOGIN_WINDOW_MIN} minutes)",
                        ep.len()
                    ),
                    evidence: seqs(&ep),
                });
            }
        }
    }
    let window = INSTALLATION_LOGIN_WINDOW_MIN * MINUTE;
    for ep in episodes(&failures, window) {
        let n = peak(&ep, window, |w| w.len() as i64);
        if n >= INSTALLATION_LOGIN_FAILURES as i64 {
            let accounts = by_actor(ep.iter().copied()).len();
            out.push(Candidate {
                signal: Signal::LoginBurstInstallation,
                key: format!("login_burst_installation:{}", ep[0].seq),
                summary: format!(
                    "{} failed logins across the installation ({n} within {INSTALLATION_LOGIN_WINDOW_MIN} minutes, {accounts} account names or unknown)",
                    ep.len()
                ),
                evidence: seqs(&ep),
            });
        }
    }

    // Mass playback: the union of what one account was served.
    let playbacks = entries
        .iter()
        .filter(|r| r.action == "playback" && r.outcome == "ok");
    let window = MASS_PLAYBACK_WINDOW_MIN * MINUTE;
    let threshold = MASS_PLAYBACK_CAMERA_HOURS * 3600 * TIME_UNITS_PER_SEC;
    for (actor, rows) in by_actor(playbacks) {
        for ep in episodes(&rows, window) {
            let played = peak(&ep, window, played_90k);
            if played >= threshold {
                let cameras = by_camera_count(&ep);
                out.push(Candidate {
                    signal: Signal::MassPlayback,
                    key: format!("mass_playback:{actor}:{}", ep[0].seq),
                    summary: format!(
                        "account {actor} played back {:.1} camera-hours of recordings from {cameras} cameras within {MASS_PLAYBACK_WINDOW_MIN} minutes",
                        played as f64 / (3600 * TIME_UNITS_PER_SEC) as f64
                    ),
                    evidence: seqs(&ep),
                });
            }
        }
    }

    // Mass export.
    let exports = entries
        .iter()
        .filter(|r| r.action == "export.request" && r.outcome == "ok");
    let window = MASS_EXPORT_WINDOW_MIN * MINUTE;
    for (actor, rows) in by_actor(exports) {
        for ep in episodes(&rows, window) {
            let n = peak(&ep, window, |w| w.len() as i64);
            if n >= MASS_EXPORTS as i64 {
                out.push(Candidate {
                    signal: Signal::MassExport,
                    key: format!("mass_export:{actor}:{}", ep[0].seq),
                    summary: format!(
                        "account {actor} requested {} exports ({n} within {MASS_EXPORT_WINDOW_MIN} minutes)",
                        ep.len()
                    ),
                    evidence: seqs(&ep),
                });
            }
        }
    }

    // Refusals: one candidate per episode of each account.
    let mut refusals: BTreeMap<(Signal, &str), Vec<&AuditRow>> = BTreeMap::new();
    for r in entries {
        if let Some(sig) = refusal(r) {
            refusals.entry((sig, r.actor.as_str())).or_default().push(r);
        }
    }
    for ((sig, actor), rows) in refusals {
        for ep in episodes(&rows, REFUSAL_EPISODE_MIN * MINUTE) {
            let what = match sig {
                Signal::OutsideHours => "used a role outside its hours",
                Signal::HeldVideo => "asked for video under a restriction hold",
                _ => "is disabled or expired and its credential was used",
            };
            let n = ep.len();
            out.push(Candidate {
                signal: sig,
                key: format!("{}:{actor}:{}", sig.id(), ep[0].seq),
                summary: format!(
                    "account {actor} {what} ({n} refused request{})",
                    if n == 1 { "" } else { "s" }
                ),
                evidence: seqs(&ep),
            });
        }
    }
    out
}

fn by_camera_count(ep: &[&AuditRow]) -> usize {
    let mut c: Vec<&str> = ep.iter().map(|r| r.resource.as_str()).collect();
    c.sort_unstable();
    c.dedup();
    c.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000 * TIME_UNITS_PER_SEC;

    fn row(
        seq: i64,
        secs: i64,
        actor: &str,
        action: &str,
        outcome: &str,
        detail: &str,
    ) -> AuditRow {
        AuditRow {
            seq,
            time_90k: Time90k(T0 + secs * TIME_UNITS_PER_SEC),
            actor: actor.into(),
            action: action.into(),
            resource: "session".into(),
            outcome: outcome.into(),
            detail: detail.into(),
            client: String::new(),
            justification: String::new(),
            prev_hash: vec![],
            hash: vec![],
        }
    }

    fn signals(c: &[Candidate]) -> Vec<Signal> {
        c.iter().map(|c| c.signal).collect()
    }

    #[test]
    fn ranges_merge_consecutive_numbers() {
        assert_eq!(
            ranges(&[5, 3, 4, 9, 11, 10, 20]),
            vec![(3, 5), (9, 11), (20, 20)]
        );
        assert!(ranges(&[]).is_empty());
    }

    #[test]
    fn ten_failures_of_one_account_in_ten_minutes_raise_once() {
        let mut rows: Vec<AuditRow> = (0..9)
            .map(|i| row(i + 1, i * 60, "u-a", "login", "denied", ""))
            .collect();
        assert!(detect(&rows, &Facts::default()).is_empty(), "9 is below");
        rows.push(row(
            10,
            9 * 60 + 30,
            "u-a",
            "login.locked",
            "denied",
            "wait_s=60",
        ));
        let c = detect(&rows, &Facts::default());
        assert_eq!(signals(&c), vec![Signal::LoginBurstAccount]);
        assert_eq!(c[0].key, "login_burst_account:u-a:1");
        assert_eq!(c[0].evidence, vec![(1, 10)]);
        assert!(!c[0].summary.contains("anonymous"));
        // Spread over more than the window: nothing.
        let slow: Vec<AuditRow> = (0..12)
            .map(|i| row(i + 1, i * 120, "u-a", "login", "denied", ""))
            .collect();
        assert!(detect(&slow, &Facts::default()).is_empty());
    }

    #[test]
    fn second_factor_prompts_are_not_failures() {
        let rows: Vec<AuditRow> = (0..15)
            .map(|i| row(i + 1, i, "u-a", "login", "denied", "second_factor=missing"))
            .collect();
        assert!(detect(&rows, &Facts::default()).is_empty());
    }

    #[test]
    fn twenty_failures_across_the_installation_in_a_minute() {
        let rows: Vec<AuditRow> = (0..20)
            .map(|i| row(i + 1, i * 3, "anonymous", "login", "denied", ""))
            .collect();
        let c = detect(&rows, &Facts::default());
        assert_eq!(signals(&c), vec![Signal::LoginBurstInstallation]);
        assert_eq!(c[0].evidence, vec![(1, 20)]);
        assert!(detect(&rows[..19], &Facts::default()).is_empty());
    }

    fn playback(
        seq: i64,
        secs: i64,
        actor: &str,
        camera: i64,
        from_h: i64,
        hours: i64,
    ) -> AuditRow {
        let a = Time90k(T0 - (from_h * 3600) * TIME_UNITS_PER_SEC);
        let b = Time90k(a.0 + hours * 3600 * TIME_UNITS_PER_SEC);
        let mut r = row(
            seq,
            secs,
            actor,
            "playback",
            "ok",
            &format!(
                "rendition=main start={} end={}",
                a.to_rfc3339(),
                b.to_rfc3339()
            ),
        );
        r.resource = format!("camera:{camera}");
        r
    }

    #[test]
    fn mass_playback_counts_the_union_per_camera() {
        // The same 4 hours of one camera requested 20 times: 4 camera-hours.
        let same: Vec<AuditRow> = (0..20)
            .map(|i| playback(i + 1, i * 10, "u-b", 1, 48, 4))
            .collect();
        assert!(detect(&same, &Facts::default()).is_empty());
        // 4 hours of each of 3 cameras, within 20 minutes: 12 camera-hours.
        let many: Vec<AuditRow> = (0..3)
            .map(|i| playback(i + 1, i * 600, "u-b", i + 1, 48, 4))
            .collect();
        let c = detect(&many, &Facts::default());
        assert_eq!(signals(&c), vec![Signal::MassPlayback]);
        assert_eq!(c[0].evidence, vec![(1, 3)]);
        assert!(c[0].summary.contains("3 cameras"), "{}", c[0].summary);
    }

    #[test]
    fn five_exports_in_an_hour() {
        let rows: Vec<AuditRow> = (0..5)
            .map(|i| row(i * 2 + 1, i * 600, "u-c", "export.request", "ok", ""))
            .collect();
        let c = detect(&rows, &Facts::default());
        assert_eq!(signals(&c), vec![Signal::MassExport]);
        assert_eq!(c[0].evidence, vec![(1, 1), (3, 3), (5, 5), (7, 7), (9, 9)]);
        assert!(detect(&rows[..4], &Facts::default()).is_empty());
    }

    #[test]
    fn each_refusal_episode_raises_once() {
        let rows = vec![
            row(
                1,
                0,
                "u-d",
                "access.denied",
                "denied",
                "reason=outside_hours permission=live_view",
            ),
            row(
                2,
                60,
                "u-d",
                "access.denied",
                "denied",
                "reason=outside_hours permission=live_view",
            ),
            row(
                3,
                3 * 3600,
                "u-d",
                "access.denied",
                "denied",
                "reason=outside_hours permission=playback",
            ),
            row(
                4,
                10,
                "u-e",
                "access.denied",
                "denied",
                "reason=held holds=3",
            ),
            row(
                5,
                20,
                "u-f",
                "access.denied",
                "denied",
                "reason=account_disabled credential=token",
            ),
            row(6, 30, "u-g", "login", "denied", "disabled"),
            row(
                7,
                40,
                "u-h",
                "access.denied",
                "denied",
                "reason=something_else",
            ),
        ];
        let c = detect(&rows, &Facts::default());
        type Got<'a> = Vec<(Signal, &'a str, Vec<(i64, i64)>)>;
        let got: Got = c
            .iter()
            .map(|c| (c.signal, c.key.as_str(), c.evidence.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Signal::OutsideHours, "outside_hours:u-d:1", vec![(1, 2)]),
                (Signal::OutsideHours, "outside_hours:u-d:3", vec![(3, 3)]),
                (Signal::HeldVideo, "held_video:u-e:4", vec![(4, 4)]),
                (
                    Signal::DisabledAccount,
                    "disabled_account:u-f:5",
                    vec![(5, 5)]
                ),
                (
                    Signal::DisabledAccount,
                    "disabled_account:u-g:6",
                    vec![(6, 6)]
                ),
            ]
        );
    }

    #[test]
    fn facts_raise_with_stable_keys() {
        let f = Facts {
            verify_failure: Some((42, "hash mismatch".into())),
            permission_problems: vec![("data directory".into(), 0o750)],
        };
        let c = detect(&[], &f);
        assert_eq!(signals(&c), vec![Signal::AuditVerify, Signal::Permissions]);
        assert_eq!(c[0].key, "audit_verify:42");
        assert_eq!(c[0].evidence, vec![(42, 42)]);
        assert_eq!(c[1].key, "permissions:data directory:750");
        assert_eq!(detect(&[], &f), c, "the same facts, the same keys");
    }

    #[test]
    fn a_rescan_from_the_lookback_gives_the_same_keys() {
        let rows: Vec<AuditRow> = (0..12)
            .map(|i| row(i + 100, i * 30, "u-a", "login", "denied", ""))
            .collect();
        let first = detect(&rows[..10], &Facts::default());
        let again = detect(&rows, &Facts::default());
        assert_eq!(first[0].key, again[0].key);
    }
}
