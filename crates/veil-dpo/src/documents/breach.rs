//! A personal data breach: its assessment (what the DPO records in the
//! breach register, D8), the 72-hour clock, and the notification to the
//! supervisory authority with the items of GDPR Art. 33(3)(a)–(d).

use serde::{Deserialize, Serialize};
use veil_base::{Time90k, TIME_UNITS_PER_SEC};

use super::{contact, human_time, or_not_set, Document, Kind, Section};
use crate::model::Organisation;

/// Hours from detection to the authority's notification (Art. 33(1)).
pub const NOTIFY_WITHIN_HOURS: i64 = 72;
/// The longest free text of an assessment, in characters.
pub const MAX_TEXT: usize = 4000;
/// The most categories of people.
pub const MAX_CATEGORIES: usize = 20;
/// The longest category, in characters.
pub const MAX_CATEGORY: usize = 100;

/// What the DPO records about a breach. Every field may stay empty while
/// the facts are gathered; the notification marks what is missing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    /// What happened.
    #[serde(default)]
    pub description: String,
    /// What data is affected (e.g. "recordings of the car park cameras").
    #[serde(default)]
    pub data_affected: String,
    /// The cameras whose recordings are affected (ids).
    #[serde(default)]
    pub cameras: Vec<i64>,
    /// About how many hours of recordings (camera-hours) are affected.
    #[serde(default)]
    pub hours_affected: Option<u32>,
    /// Categories of people affected (e.g. "employees", "customers").
    #[serde(default)]
    pub categories: Vec<String>,
    /// About how many people are affected.
    #[serde(default)]
    pub approx_people: Option<u64>,
    /// About how many records (recordings, entries) are affected.
    #[serde(default)]
    pub approx_records: Option<u64>,
    /// Likely consequences for the people.
    #[serde(default)]
    pub consequences: String,
    /// Measures taken to address it and mitigate its effects.
    #[serde(default)]
    pub measures_taken: String,
    /// Measures proposed.
    #[serde(default)]
    pub measures_proposed: String,
}

fn check_text(name: &str, s: &str) -> Result<(), String> {
    let n = s.chars().count();
    if n > MAX_TEXT {
        return Err(format!("{name}: at most {MAX_TEXT} characters, got {n}"));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(format!("{name}: control characters other than line breaks"));
    }
    Ok(())
}

impl Assessment {
    /// Checks the fields (not whether the cameras exist: the caller knows
    /// them); the error names the field.
    pub fn check(&self) -> Result<(), String> {
        check_text("description", &self.description)?;
        check_text("data_affected", &self.data_affected)?;
        check_text("consequences", &self.consequences)?;
        check_text("measures_taken", &self.measures_taken)?;
        check_text("measures_proposed", &self.measures_proposed)?;
        if self.categories.len() > MAX_CATEGORIES {
            return Err(format!("categories: at most {MAX_CATEGORIES}"));
        }
        for c in &self.categories {
            let n = c.trim().chars().count();
            if n == 0 || n > MAX_CATEGORY {
                return Err(format!(
                    "categories: each 1 to {MAX_CATEGORY} characters, got {n}"
                ));
            }
            if c.chars().any(char::is_control) {
                return Err("categories: control characters".into());
            }
        }
        if self.hours_affected.is_some_and(|h| h > 1_000_000) {
            return Err("hours_affected: at most 1000000".into());
        }
        if self.approx_people.is_some_and(|n| n > 10_000_000_000) {
            return Err("approx_people: at most 10000000000".into());
        }
        if self.approx_records.is_some_and(|n| n > 1_000_000_000_000) {
            return Err("approx_records: at most 1000000000000".into());
        }
        let mut cams = self.cameras.clone();
        cams.sort_unstable();
        cams.dedup();
        if cams.len() != self.cameras.len() {
            return Err("cameras: a camera is listed twice".into());
        }
        Ok(())
    }

    /// The names of the fields that differ from `other` (for the access
    /// record: names only, never the texts).
    pub fn changed_fields(&self, other: &Assessment) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut f = |name, differs: bool| {
            if differs {
                out.push(name)
            }
        };
        f("description", self.description != other.description);
        f("data_affected", self.data_affected != other.data_affected);
        f("cameras", self.cameras != other.cameras);
        f(
            "hours_affected",
            self.hours_affected != other.hours_affected,
        );
        f("categories", self.categories != other.categories);
        f("approx_people", self.approx_people != other.approx_people);
        f(
            "approx_records",
            self.approx_records != other.approx_records,
        );
        f("consequences", self.consequences != other.consequences);
        f(
            "measures_taken",
            self.measures_taken != other.measures_taken,
        );
        f(
            "measures_proposed",
            self.measures_proposed != other.measures_proposed,
        );
        out
    }
}

/// Where a breach stands against the 72 hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    /// Detection + 72 hours.
    pub deadline: Time90k,
    /// Whole hours from now to the deadline, rounded down (negative when
    /// it has passed).
    pub hours_left: i64,
    /// Notified after the deadline, or not notified and past it (while a
    /// notification of the authority is still to be decided or made).
    pub late: bool,
    /// The clock still runs: the authority is neither notified nor decided
    /// against.
    pub running: bool,
}

/// The 72-hour clock of a breach detected at `detected`.
pub fn deadline(
    detected: Time90k,
    notify_authority: Option<bool>,
    notified: Option<Time90k>,
    now: Time90k,
) -> Deadline {
    let deadline = Time90k(detected.0 + NOTIFY_WITHIN_HOURS * 3600 * TIME_UNITS_PER_SEC);
    let hours_left = (deadline.0 - now.0).div_euclid(3600 * TIME_UNITS_PER_SEC);
    let running = notified.is_none() && notify_authority != Some(false);
    let late = match notified {
        Some(n) => n > deadline,
        None => running && now > deadline,
    };
    Deadline {
        deadline,
        hours_left,
        late,
        running,
    }
}

/// The facts of one breach the notification states.
#[derive(Clone, Debug)]
pub struct BreachFacts<'a> {
    /// The register's id.
    pub id: i64,
    /// When it was detected.
    pub detected: Time90k,
    /// The assessment.
    pub assessment: &'a Assessment,
    /// The affected cameras' names, in the assessment's order.
    pub camera_names: Vec<String>,
    /// When the authority was notified, if it was.
    pub notified: Option<Time90k>,
    /// The reasons for a notification after 72 hours.
    pub late_reason: Option<&'a str>,
}

fn text_or_complete(sec: &mut Section, label: &str, text: &str) {
    if text.trim().is_empty() {
        sec.complete(label.to_string());
    } else {
        sec.heading(label.to_string());
        sec.p(text.trim().to_string());
    }
}

fn count(n: Option<u64>) -> String {
    n.map_or_else(|| "not known yet".to_string(), |n| format!("about {n}"))
}

/// The notification of breach `b` to the supervisory authority, with the
/// items of Art. 33(3): (a) nature, categories and approximate numbers of
/// people and records; (b) the DPO's name and contact; (c) likely
/// consequences; (d) measures taken or proposed. Generated at `now`.
pub fn notification(b: &BreachFacts, org: &Organisation, now: Time90k) -> Document {
    let a = b.assessment;
    let d = deadline(b.detected, Some(true), b.notified, now);
    let mut about = Section::new("About this notification");
    about.fields(vec![
        ("Controller", or_not_set(&org.controller.name)),
        ("Controller's contact", contact(&org.controller)),
        ("Supervisory authority", or_not_set(&org.authority.name)),
        ("Breach (register entry)", b.id.to_string()),
        ("Detected", human_time(b.detected)),
        ("Notification due by", human_time(d.deadline)),
        ("Generated", human_time(now)),
    ]);

    let mut nature = Section::new("(a) Nature of the breach");
    text_or_complete(&mut nature, "What happened", &a.description);
    text_or_complete(&mut nature, "Data affected", &a.data_affected);
    nature.fields(vec![
        (
            "Cameras affected",
            if b.camera_names.is_empty() {
                "none named yet".to_string()
            } else {
                b.camera_names.join(", ")
            },
        ),
        (
            "Hours of recordings affected",
            a.hours_affected
                .map_or_else(|| "not known yet".to_string(), |h| format!("about {h}")),
        ),
        (
            "Categories of people concerned",
            if a.categories.is_empty() {
                "not known yet".to_string()
            } else {
                a.categories.join(", ")
            },
        ),
        (
            "Approximate number of people concerned",
            count(a.approx_people),
        ),
        (
            "Approximate number of records concerned",
            count(a.approx_records),
        ),
    ]);

    let mut dpo = Section::new("(b) Data protection officer");
    dpo.fields(vec![
        ("Name", or_not_set(&org.dpo.name)),
        ("Contact", contact(&org.dpo)),
    ]);

    let mut consequences = Section::new("(c) Likely consequences");
    text_or_complete(&mut consequences, "Likely consequences", &a.consequences);

    let mut measures = Section::new("(d) Measures taken or proposed");
    text_or_complete(&mut measures, "Measures taken", &a.measures_taken);
    text_or_complete(&mut measures, "Measures proposed", &a.measures_proposed);

    let mut sections = vec![about, nature, dpo, consequences, measures];
    if d.late || b.late_reason.is_some() {
        let mut late = Section::new("Reasons for the delay (Art. 33(1))");
        text_or_complete(&mut late, "Reasons", b.late_reason.unwrap_or(""));
        sections.push(late);
    }
    Document {
        kind: Kind::Breach,
        title: Kind::Breach.title().to_string(),
        version: 0,
        since: b.detected.to_rfc3339(),
        generated: now.to_rfc3339(),
        controller: org.controller.name.clone(),
        sections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::Format;

    const H: i64 = 3600 * TIME_UNITS_PER_SEC;

    #[test]
    fn the_clock_runs_72_hours_from_detection() {
        let t0 = Time90k(1_800_000_000 * TIME_UNITS_PER_SEC);
        let d = deadline(t0, None, None, Time90k(t0.0 + 10 * H));
        assert_eq!(d.hours_left, 62);
        assert!(d.running && !d.late);
        let d = deadline(t0, None, None, Time90k(t0.0 + 73 * H));
        assert_eq!(d.hours_left, -1);
        assert!(d.late);
        // Notified in time stays in time; notified late stays late.
        let d = deadline(
            t0,
            Some(true),
            Some(Time90k(t0.0 + 70 * H)),
            Time90k(t0.0 + 100 * H),
        );
        assert!(!d.late && !d.running);
        let d = deadline(
            t0,
            Some(true),
            Some(Time90k(t0.0 + 80 * H)),
            Time90k(t0.0 + 100 * H),
        );
        assert!(d.late);
        // Decided not to notify: the clock stops.
        let d = deadline(t0, Some(false), None, Time90k(t0.0 + 100 * H));
        assert!(!d.late && !d.running);
    }

    #[test]
    fn the_notification_states_the_items_of_article_33_3() {
        let mut org = Organisation::default();
        org.controller.name = "Loja <Exemplo>".into();
        org.dpo.name = "DPO office".into();
        org.dpo.email = "dpo@example.org".into();
        let a = Assessment {
            description: "A laptop with an export was stolen.".into(),
            data_affected: "Recordings of the shop floor".into(),
            cameras: vec![1],
            hours_affected: Some(3),
            categories: vec!["customers".into(), "employees".into()],
            approx_people: Some(40),
            approx_records: Some(2),
            consequences: "Customers may be identified.".into(),
            measures_taken: "The package key was revoked.".into(),
            measures_proposed: String::new(),
        };
        assert!(a.check().is_ok());
        let t0 = Time90k(1_800_000_000 * TIME_UNITS_PER_SEC);
        let f = BreachFacts {
            id: 7,
            detected: t0,
            assessment: &a,
            camera_names: vec!["Shop floor".into()],
            notified: None,
            late_reason: None,
        };
        let doc = notification(&f, &org, Time90k(t0.0 + H));
        let md = doc.render(Format::Markdown);
        for want in [
            "(a) Nature of the breach",
            "A laptop with an export was stolen.",
            "customers, employees",
            "about 40",
            "(b) Data protection officer",
            "dpo@example.org",
            "(c) Likely consequences",
            "Customers may be identified.",
            "(d) Measures taken or proposed",
            "The package key was revoked.",
            "To be completed by the DPO:** Measures proposed",
            "Shop floor",
        ] {
            assert!(md.contains(want), "{want:?} missing from\n{md}");
        }
        assert!(!md.contains("Reasons for the delay"));
        let html = doc.render(Format::Html);
        assert!(html.contains("Loja &lt;Exemplo&gt;"));
        assert!(!html.contains("<Exemplo>"));
    }

    #[test]
    fn bad_fields_are_named() {
        let long = Assessment {
            consequences: "x".repeat(MAX_TEXT + 1),
            ..Default::default()
        };
        assert!(long.check().unwrap_err().starts_with("consequences:"));
        let empty = Assessment {
            categories: vec![" ".into()],
            ..Default::default()
        };
        assert!(empty.check().unwrap_err().starts_with("categories:"));
        let twice = Assessment {
            cameras: vec![1, 1],
            ..Default::default()
        };
        assert!(twice.check().unwrap_err().starts_with("cameras:"));
    }
}
