//! Key indicators of the access record (requirement L4): per user, per camera
//! and per day, over a period `[from, to)`.
//!
//! Pure: entries go in ([`ReportBuilder::add`]), a [`Report`] comes out, and
//! [`to_csv`] / [`to_html`] render it. No SQL, no clock, no I/O; callers page
//! the entries out of the store and resolve pseudonyms to current names.
//! The indicators are described in `docs/design/audit-chain.md` ("Reports").

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize, Serializer};
use veil_base::{escape_html, Time90k, TIME_UNITS_PER_SEC};
use veil_store::db::AuditRow;

use crate::Action;

/// Minutes in a week.
const WEEK_MINUTES: i64 = 7 * 24 * 60;
/// 90 kHz ticks in an hour.
const HOUR_90K: i64 = 3600 * TIME_UNITS_PER_SEC;
/// 90 kHz ticks in a day.
const DAY_90K: i64 = 24 * HOUR_90K;

/// The figures of one row (a user, a camera, a day, or the total).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Indicators {
    /// Live views started (`live_view`, outcome `ok`).
    pub live_views: u64,
    /// Sum of the intervals requested by `playback` entries, in 90 kHz ticks;
    /// rendered as hours.
    #[serde(rename = "playback_hours", serialize_with = "as_hours")]
    pub playback_90k: i64,
    /// Export files produced (`export.create`).
    pub exports: u64,
    /// Privacy masks lifted (`mask.lift`).
    pub mask_lifts: u64,
    /// Recordings deleted by a person (`recording.delete`).
    pub recording_deletions: u64,
    /// Recordings destroyed by retention (`retention.destroy`).
    pub retention_destructions: u64,
    /// Failed logins (`login` denied, plus `login.locked`).
    pub failed_logins: u64,
    /// Four-eyes decisions (`approval.decide`).
    pub approvals: u64,
    /// Accesses (live view, playback, export, lift) outside the actor's shift.
    pub outside_shift: u64,
}

fn as_hours<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(hours(*v))
}

/// 90 kHz ticks as hours.
pub fn hours(ticks_90k: i64) -> f64 {
    ticks_90k as f64 / HOUR_90K as f64
}

impl Indicators {
    /// Adds `o` (saturating: a forged detail with an absurd interval cannot
    /// make the report panic).
    fn add(&mut self, o: &Indicators) {
        self.live_views = self.live_views.saturating_add(o.live_views);
        self.playback_90k = self.playback_90k.saturating_add(o.playback_90k);
        self.exports = self.exports.saturating_add(o.exports);
        self.mask_lifts = self.mask_lifts.saturating_add(o.mask_lifts);
        self.recording_deletions = self
            .recording_deletions
            .saturating_add(o.recording_deletions);
        self.retention_destructions = self
            .retention_destructions
            .saturating_add(o.retention_destructions);
        self.failed_logins = self.failed_logins.saturating_add(o.failed_logins);
        self.approvals = self.approvals.saturating_add(o.approvals);
        self.outside_shift = self.outside_shift.saturating_add(o.outside_shift);
    }
}

/// One weekly working interval, in the shift's local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeeklyInterval {
    /// Start, in minutes after Monday 00:00.
    pub start_minute: u32,
    /// Length in minutes (1 ..= one week); may run past Sunday into Monday.
    pub minutes: u32,
}

impl WeeklyInterval {
    /// Parses `"mon 08:00-16:00"` (day names `mon` … `sun`, any case). An end
    /// at or before the start runs into the next day (`"sun 22:00-06:00"` is
    /// Sunday 22:00 to Monday 06:00).
    pub fn parse(s: &str) -> Result<WeeklyInterval, String> {
        let bad = || format!("{s:?}: expected a day and a time range such as \"mon 08:00-16:00\"");
        let (day, range) = s.trim().split_once(' ').ok_or_else(bad)?;
        let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .position(|d| d.eq_ignore_ascii_case(day.trim()))
            .ok_or_else(bad)? as u32;
        let (a, b) = range.trim().split_once('-').ok_or_else(bad)?;
        let (a, b) = (
            clock_minutes(a).ok_or_else(bad)?,
            clock_minutes(b).ok_or_else(bad)?,
        );
        let minutes = if b > a { b - a } else { b + 24 * 60 - a };
        Ok(WeeklyInterval {
            start_minute: day * 24 * 60 + a,
            minutes,
        })
    }

    fn contains(self, minute_of_week: i64) -> bool {
        (minute_of_week - i64::from(self.start_minute)).rem_euclid(WEEK_MINUTES)
            < i64::from(self.minutes)
    }
}

/// `"HH:MM"` as minutes after midnight (`24:00` allowed as the end of a day).
fn clock_minutes(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let total = h * 60 + m;
    (m < 60 && total <= 24 * 60).then_some(total)
}

/// A person's working time: weekly intervals in a fixed offset from UTC.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shift {
    /// Local time minus UTC, in minutes (e.g. 60 for UTC+01:00).
    pub utc_offset_minutes: i32,
    /// When the person works; outside all of them is "outside the shift".
    pub weekly: Vec<WeeklyInterval>,
}

impl Shift {
    /// Whether `t` falls inside one of the shift's intervals.
    pub fn contains(&self, t: Time90k) -> bool {
        let local_minutes = t.unix_secs().div_euclid(60) + i64::from(self.utc_offset_minutes);
        // 1970-01-01 was a Thursday: shift so that 0 is a Monday 00:00.
        let minute_of_week = (local_minutes + 3 * 24 * 60).rem_euclid(WEEK_MINUTES);
        self.weekly.iter().any(|w| w.contains(minute_of_week))
    }
}

/// The shift file format: `{"u-…": {"utc_offset_minutes": 60, "weekly":
/// ["mon 08:00-16:00", …]}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShiftSpec {
    #[serde(default)]
    utc_offset_minutes: i32,
    weekly: Vec<String>,
}

/// Shifts by pseudonym. A person without an entry is never "outside".
pub type Shifts = HashMap<String, Shift>;

/// Parses shifts from JSON (see [`Shift`]; format in the module's design note).
pub fn parse_shifts(json: &str) -> Result<Shifts, String> {
    let specs: HashMap<String, ShiftSpec> =
        serde_json::from_str(json).map_err(|e| format!("invalid shifts: {e}"))?;
    specs
        .into_iter()
        .map(|(who, spec)| {
            if spec.utc_offset_minutes.abs() > 18 * 60 {
                return Err(format!("{who}: utc_offset_minutes must be within ±1080"));
            }
            let weekly = spec
                .weekly
                .iter()
                .map(|w| WeeklyInterval::parse(w))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{who}: {e}"))?;
            Ok((
                who,
                Shift {
                    utc_offset_minutes: spec.utc_offset_minutes,
                    weekly,
                },
            ))
        })
        .collect()
}

/// A user's row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UserFigures {
    /// The actor as recorded.
    pub pseudonym: String,
    /// The current name, or the pseudonym when erased or unknown.
    pub name: String,
    /// The figures.
    #[serde(flatten)]
    pub indicators: Indicators,
}

/// A camera's row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CameraFigures {
    /// The camera id (from resources `camera:<id>`).
    pub camera: i64,
    /// The figures.
    #[serde(flatten)]
    pub indicators: Indicators,
}

/// A day's row (UTC days).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DayFigures {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// The figures.
    #[serde(flatten)]
    pub indicators: Indicators,
}

/// The key indicators of one period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Start of the period (inclusive), RFC 3339.
    pub from: String,
    /// End of the period (exclusive), RFC 3339.
    pub to: String,
    /// Entries in the period.
    pub entries: u64,
    /// Users with a shift defined (the others are never "outside").
    pub users_with_shift: usize,
    /// All entries together.
    pub total: Indicators,
    /// Per actor, by pseudonym.
    pub users: Vec<UserFigures>,
    /// Per camera, by id.
    pub cameras: Vec<CameraFigures>,
    /// Per UTC day, oldest first.
    pub days: Vec<DayFigures>,
}

/// Accumulates entries of `[from, to)` into a [`Report`].
pub struct ReportBuilder {
    from: Time90k,
    to: Time90k,
    names: HashMap<String, String>,
    shifts: Shifts,
    entries: u64,
    users: BTreeMap<String, Indicators>,
    cameras: BTreeMap<i64, Indicators>,
    days: BTreeMap<i64, Indicators>,
}

impl ReportBuilder {
    /// A report over `[from, to)`; `names` maps pseudonyms to current names
    /// (erased users are simply absent), `shifts` gives working times.
    pub fn new(
        from: Time90k,
        to: Time90k,
        names: HashMap<String, String>,
        shifts: Shifts,
    ) -> ReportBuilder {
        ReportBuilder {
            from,
            to,
            names,
            shifts,
            entries: 0,
            users: BTreeMap::new(),
            cameras: BTreeMap::new(),
            days: BTreeMap::new(),
        }
    }

    /// Counts one entry; entries outside the period are ignored.
    pub fn add(&mut self, e: &AuditRow) {
        if e.time_90k < self.from || e.time_90k >= self.to {
            return;
        }
        self.entries += 1;
        let figures = self.figures_of(e);
        self.users.entry(e.actor.clone()).or_default().add(&figures);
        if let Some(cam) = camera_of(&e.resource) {
            self.cameras.entry(cam).or_default().add(&figures);
        }
        self.days
            .entry(e.time_90k.0.div_euclid(DAY_90K))
            .or_default()
            .add(&figures);
    }

    /// What one entry contributes.
    fn figures_of(&self, e: &AuditRow) -> Indicators {
        let mut f = Indicators::default();
        let ok = e.outcome == "ok";
        let Some(action) = Action::parse(&e.action) else {
            return f;
        };
        let access = ok
            && matches!(
                action,
                Action::LiveView | Action::Playback | Action::ExportCreate | Action::MaskLift
            );
        match action {
            Action::LiveView if ok => f.live_views = 1,
            Action::Playback if ok => f.playback_90k = requested_span_90k(&e.detail),
            Action::ExportCreate if ok => f.exports = 1,
            Action::MaskLift if ok => f.mask_lifts = 1,
            Action::RecordingDelete if ok => f.recording_deletions = 1,
            Action::RetentionDestroy if ok => f.retention_destructions = 1,
            Action::Login if e.outcome == "denied" => f.failed_logins = 1,
            Action::LoginLocked => f.failed_logins = 1,
            Action::ApprovalDecision => f.approvals = 1,
            _ => {}
        }
        if access
            && self
                .shifts
                .get(&e.actor)
                .is_some_and(|s| !s.contains(e.time_90k))
        {
            f.outside_shift = 1;
        }
        f
    }

    /// The finished report.
    pub fn finish(self) -> Report {
        let mut total = Indicators::default();
        for f in self.days.values() {
            total.add(f);
        }
        let names = self.names;
        Report {
            from: self.from.to_rfc3339(),
            to: self.to.to_rfc3339(),
            entries: self.entries,
            users_with_shift: self.shifts.len(),
            total,
            users: self
                .users
                .into_iter()
                .map(|(pseudonym, indicators)| UserFigures {
                    name: names
                        .get(&pseudonym)
                        .cloned()
                        .unwrap_or_else(|| pseudonym.clone()),
                    pseudonym,
                    indicators,
                })
                .collect(),
            cameras: self
                .cameras
                .into_iter()
                .map(|(camera, indicators)| CameraFigures { camera, indicators })
                .collect(),
            days: self
                .days
                .into_iter()
                .map(|(d, indicators)| DayFigures {
                    day: Time90k(d * DAY_90K).to_rfc3339()[..10].to_owned(),
                    indicators,
                })
                .collect(),
        }
    }
}

/// The camera id of a resource `camera:<id>`.
fn camera_of(resource: &str) -> Option<i64> {
    resource.strip_prefix("camera:")?.parse().ok()
}

/// The interval a playback entry's detail (`rendition=… start=… end=…`)
/// names (the interval served), in 90 kHz ticks; 0 when it cannot be read.
fn requested_span_90k(detail: &str) -> i64 {
    let field = |k: &str| {
        detail
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
            .and_then(Time90k::parse_rfc3339)
    };
    match (field("start"), field("end")) {
        (Some(s), Some(e)) if e > s => e.0 - s.0,
        _ => 0,
    }
}

/// Column headers of the figures, in output order.
const FIGURE_COLUMNS: [&str; 9] = [
    "live_views",
    "playback_hours",
    "exports",
    "mask_lifts",
    "recording_deletions",
    "retention_destructions",
    "failed_logins",
    "approvals",
    "outside_shift",
];

/// The figures as text cells, in [`FIGURE_COLUMNS`] order.
fn figure_cells(i: &Indicators) -> [String; 9] {
    [
        i.live_views.to_string(),
        format!("{:.2}", hours(i.playback_90k)),
        i.exports.to_string(),
        i.mask_lifts.to_string(),
        i.recording_deletions.to_string(),
        i.retention_destructions.to_string(),
        i.failed_logins.to_string(),
        i.approvals.to_string(),
        i.outside_shift.to_string(),
    ]
}

/// Every row as `(scope, key, name)` and its figures: total, users, cameras,
/// days.
fn rows(r: &Report) -> Vec<(&'static str, String, String, &Indicators)> {
    let mut out = vec![("total", String::new(), String::new(), &r.total)];
    for u in &r.users {
        out.push(("user", u.pseudonym.clone(), u.name.clone(), &u.indicators));
    }
    for c in &r.cameras {
        out.push(("camera", c.camera.to_string(), String::new(), &c.indicators));
    }
    for d in &r.days {
        out.push(("day", d.day.clone(), String::new(), &d.indicators));
    }
    out
}

/// One CSV cell (RFC 4180): a cell a spreadsheet would read as a formula
/// (starting with `=`, `+`, `-`, `@`, tab or CR) gets a leading `'`; a cell
/// with a comma, quote or line break is quoted, with quotes doubled.
pub fn csv_cell(s: &str) -> String {
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// The report as one CSV table (CRLF line ends, a header row): columns
/// `scope,key,name,` then the figures; scope is `total`, `user`, `camera` or
/// `day`.
pub fn to_csv(r: &Report) -> String {
    let mut out = String::new();
    let header: Vec<&str> = ["scope", "key", "name"]
        .into_iter()
        .chain(FIGURE_COLUMNS)
        .collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for (scope, key, name, figures) in rows(r) {
        let cells: Vec<String> = [scope.to_owned(), key, name]
            .into_iter()
            .chain(figure_cells(figures))
            .map(|c| csv_cell(&c))
            .collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One HTML table of rows whose first column is `first`.
fn html_table(
    out: &mut String,
    caption: &str,
    first: &[&str],
    rows: &[(Vec<String>, &Indicators)],
) {
    let _ = write!(
        out,
        "<table class=\"report\">\n<caption>{caption}</caption>\n<thead><tr>"
    );
    for h in first.iter().chain(FIGURE_COLUMNS.iter()) {
        let _ = write!(
            out,
            "<th scope=\"col\">{}</th>",
            escape_html(&h.replace('_', " "))
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (keys, figures) in rows {
        out.push_str("<tr>");
        for k in keys {
            let _ = write!(out, "<th scope=\"row\">{}</th>", escape_html(k));
        }
        for c in figure_cells(figures) {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// The report as a standalone HTML document (no scripts, no inline styles;
/// every name escaped).
pub fn to_html(r: &Report) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<title>Access record report · Veil</title>\n\
<link rel=\"stylesheet\" href=\"/static/veil.css\">\n</head>\n<body>\n<main>\n",
    );
    let _ = write!(
        out,
        "<h1>Access record report</h1>\n<p>Period: {} to {} (end excluded). Entries: {}. \
Users with a shift defined: {}. Playback in hours requested.</p>\n",
        escape_html(&r.from),
        escape_html(&r.to),
        r.entries,
        r.users_with_shift
    );
    html_table(&mut out, "Total", &[], &[(vec![], &r.total)]);
    let users: Vec<_> = r
        .users
        .iter()
        .map(|u| (vec![u.name.clone(), u.pseudonym.clone()], &u.indicators))
        .collect();
    html_table(&mut out, "Per user", &["name", "pseudonym"], &users);
    let cams: Vec<_> = r
        .cameras
        .iter()
        .map(|c| (vec![c.camera.to_string()], &c.indicators))
        .collect();
    html_table(&mut out, "Per camera", &["camera"], &cams);
    let days: Vec<_> = r
        .days
        .iter()
        .map(|d| (vec![d.day.clone()], &d.indicators))
        .collect();
    html_table(&mut out, "Per day (UTC)", &["day"], &days);
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-23 (a Monday) 00:00:00 UTC.
    const MONDAY: i64 = 1_795_392_000 * TIME_UNITS_PER_SEC;
    const MIN: i64 = 60 * TIME_UNITS_PER_SEC;

    fn at(minutes: i64) -> Time90k {
        Time90k(MONDAY + minutes * MIN)
    }

    fn entry(min: i64, actor: &str, action: &str, resource: &str, outcome: &str) -> AuditRow {
        AuditRow {
            seq: 0,
            time_90k: at(min),
            actor: actor.into(),
            action: action.into(),
            resource: resource.into(),
            outcome: outcome.into(),
            detail: String::new(),
            client: String::new(),
            justification: String::new(),
            prev_hash: vec![],
            hash: vec![],
        }
    }

    fn playback(min: i64, actor: &str, cam: i64, minutes: i64) -> AuditRow {
        let mut e = entry(min, actor, "playback", &format!("camera:{cam}"), "ok");
        e.detail = format!(
            "rendition=main start={} end={}",
            at(-600).to_rfc3339(),
            at(-600 + minutes).to_rfc3339()
        );
        e
    }

    fn build(entries: &[AuditRow], shifts: Shifts) -> Report {
        let names = HashMap::from([("u-alice".to_owned(), "alice".to_owned())]);
        let mut b = ReportBuilder::new(at(0), at(2 * 24 * 60), names, shifts);
        for e in entries {
            b.add(e);
        }
        b.finish()
    }

    #[test]
    fn monday_is_day_zero() {
        assert_eq!(at(0).to_rfc3339(), "2026-11-23T00:00:00.000Z");
    }

    #[test]
    fn known_sequence_gives_exact_figures() {
        let entries = [
            entry(-1, "u-alice", "live_view", "camera:1", "ok"), // before the period
            playback(60, "u-alice", 1, 30),
            playback(70, "u-alice", 2, 30),
            entry(80, "u-alice", "live_view", "camera:1", "ok"),
            entry(81, "u-alice", "live_view.stop", "camera:1", "ok"),
            entry(90, "u-bob", "live_view", "camera:2", "ok"),
            entry(100, "u-bob", "login", "session", "denied"),
            entry(101, "anonymous", "login", "session", "denied"),
            entry(102, "u-bob", "login.locked", "session", "denied"),
            entry(103, "u-bob", "login", "session", "ok"),
            entry(24 * 60 + 5, "u-bob", "export.create", "camera:2", "ok"),
            entry(24 * 60 + 6, "u-bob", "mask.lift", "camera:2", "ok"),
            entry(24 * 60 + 7, "u-bob", "recording.delete", "camera:2", "ok"),
            entry(24 * 60 + 8, "system", "retention.destroy", "camera:1", "ok"),
            entry(
                24 * 60 + 9,
                "u-carol",
                "approval.decide",
                "approval:4",
                "ok",
            ),
            entry(2 * 24 * 60, "u-alice", "live_view", "camera:1", "ok"), // end excluded
        ];
        let r = build(&entries, Shifts::new());
        assert_eq!(r.entries, 14);
        assert_eq!(r.total.live_views, 2);
        assert_eq!(hours(r.total.playback_90k), 1.0);
        assert_eq!(r.total.failed_logins, 3);
        assert_eq!(
            (r.total.exports, r.total.mask_lifts, r.total.approvals),
            (1, 1, 1)
        );
        assert_eq!(
            (r.total.recording_deletions, r.total.retention_destructions),
            (1, 1)
        );
        assert_eq!(r.total.outside_shift, 0);
        let alice = &r.users.iter().find(|u| u.pseudonym == "u-alice").unwrap();
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.indicators.live_views, 1);
        assert_eq!(hours(alice.indicators.playback_90k), 1.0);
        let bob = &r.users.iter().find(|u| u.pseudonym == "u-bob").unwrap();
        assert_eq!(bob.name, "u-bob", "no current name: the pseudonym");
        assert_eq!(bob.indicators.failed_logins, 2);
        let cams: Vec<(i64, u64, f64)> = r
            .cameras
            .iter()
            .map(|c| {
                (
                    c.camera,
                    c.indicators.live_views,
                    hours(c.indicators.playback_90k),
                )
            })
            .collect();
        assert_eq!(cams, [(1, 1, 0.5), (2, 1, 0.5)]);
        let days: Vec<(&str, u64, u64)> = r
            .days
            .iter()
            .map(|d| {
                (
                    d.day.as_str(),
                    d.indicators.live_views,
                    d.indicators.exports,
                )
            })
            .collect();
        assert_eq!(days, [("2026-11-23", 2, 0), ("2026-11-24", 0, 1)]);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["total"]["playback_hours"], 1.0);
        // Users by pseudonym: anonymous, system, u-alice, u-bob, u-carol.
        assert_eq!(json["users"][2]["pseudonym"], "u-alice");
        assert_eq!(json["users"][2]["name"], "alice");
        assert_eq!(json["users"][2]["live_views"], 1);
        assert_eq!(json["users"][2]["playback_hours"], 1.0);
    }

    #[test]
    fn accesses_outside_a_synthetic_shift_are_counted() {
        // Alice works Monday 08:00-16:00 at UTC+01:00 (07:00-15:00 UTC) and
        // Monday 22:00 to Tuesday 02:00 local; Bob has no shift.
        let shifts = parse_shifts(
            r#"{"u-alice": {"utc_offset_minutes": 60,
                            "weekly": ["mon 08:00-16:00", "MON 22:00-02:00"]}}"#,
        )
        .unwrap();
        let entries = [
            entry(7 * 60, "u-alice", "live_view", "camera:1", "ok"), // 08:00 local: in
            entry(6 * 60 + 59, "u-alice", "live_view", "camera:1", "ok"), // 07:59: out
            playback(15 * 60, "u-alice", 1, 10),                     // 16:00 local: out
            entry(22 * 60, "u-alice", "mask.lift", "camera:1", "ok"), // 23:00: in
            entry(25 * 60, "u-alice", "export.create", "camera:1", "ok"), // Tue 02:00: out
            entry(24 * 60 + 30, "u-alice", "login", "session", "denied"), // not an access
            entry(3 * 60, "u-bob", "live_view", "camera:1", "ok"),   // no shift: never out
        ];
        let r = build(&entries, shifts);
        assert_eq!(r.users_with_shift, 1);
        assert_eq!(r.total.outside_shift, 3);
        let out: Vec<(&str, u64)> = r
            .users
            .iter()
            .map(|u| (u.pseudonym.as_str(), u.indicators.outside_shift))
            .collect();
        assert_eq!(out, [("u-alice", 3), ("u-bob", 0)]);
        assert_eq!(r.days[0].indicators.outside_shift, 2);
        assert_eq!(r.days[1].indicators.outside_shift, 1);
    }

    #[test]
    fn shift_intervals_wrap_over_the_week_end() {
        let sunday_night = WeeklyInterval::parse("sun 22:00-06:00").unwrap();
        assert_eq!(sunday_night.minutes, 8 * 60);
        let s = Shift {
            utc_offset_minutes: 0,
            weekly: vec![sunday_night],
        };
        assert!(s.contains(at(5 * 60)), "Monday 05:00");
        assert!(!s.contains(at(6 * 60)), "Monday 06:00 is the end");
        assert!(s.contains(at(-60)), "Sunday 23:00");
        assert!(s.contains(at(7 * 24 * 60 - 60)), "next Sunday 23:00");
        for bad in [
            "monday 08:00-09:00",
            "mon 8-9",
            "mon 25:00-26:00",
            "mon",
            "mon 08:61-09:00",
        ] {
            assert!(WeeklyInterval::parse(bad).is_err(), "{bad}");
        }
        assert!(parse_shifts(r#"{"u-1": {"weekly": ["mon 08:00-09:00"], "x": 1}}"#).is_err());
        assert!(parse_shifts(r#"{"u-1": {"utc_offset_minutes": 5000, "weekly": []}}"#).is_err());
    }

    #[test]
    fn unreadable_playback_detail_counts_no_time() {
        let mut e = entry(10, "u-alice", "playback", "camera:1", "ok");
        e.detail = "rendition=main start=garbage end=".into();
        let r = build(&[e], Shifts::new());
        assert_eq!(r.total.playback_90k, 0);
        assert_eq!(r.entries, 1);
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        for f in ["+1", "-1", "@SUM(A1)", "\tx"] {
            assert_eq!(csv_cell(f), format!("'{f}"));
        }
        let mut names = HashMap::new();
        names.insert("u-x".to_owned(), "=cmd|' /C calc'!A0".to_owned());
        let mut b = ReportBuilder::new(at(0), at(60), names, Shifts::new());
        b.add(&playback(1, "u-x", 3, 30));
        let csv = to_csv(&b.finish());
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "scope,key,name,live_views,playback_hours,exports,mask_lifts,\
recording_deletions,retention_destructions,failed_logins,approvals,outside_shift"
        );
        assert_eq!(lines[1], "total,,,0,0.50,0,0,0,0,0,0,0");
        assert_eq!(
            lines[2],
            "user,u-x,'=cmd|' /C calc'!A0,0,0.50,0,0,0,0,0,0,0"
        );
        assert_eq!(lines[3], "camera,3,,0,0.50,0,0,0,0,0,0,0");
        assert_eq!(lines[4], "day,2026-11-23,,0,0.50,0,0,0,0,0,0,0");
        assert_eq!(lines[5], "");
    }

    #[test]
    fn html_escapes_names_and_has_no_script() {
        let mut names = HashMap::new();
        names.insert("u-x".to_owned(), "<script>alert(1)</script>".to_owned());
        let mut b = ReportBuilder::new(at(0), at(60), names, Shifts::new());
        b.add(&entry(1, "u-x", "live_view", "camera:1", "ok"));
        let html = to_html(&b.finish());
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("<caption>Per user</caption>"));
        assert!(!html.contains("style="));
    }
}
