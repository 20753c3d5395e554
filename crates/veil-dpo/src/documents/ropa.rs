//! The record of processing activities, GDPR Art. 30(1) items (a)–(g)
//! (D5; seed 000 "Records of Processing Activities").

use super::*;
use crate::country;
use crate::model::LegalBasis;

pub(super) fn sections(s: &Snapshot) -> Vec<Section> {
    vec![
        controller(s),
        purposes(s),
        categories(s),
        recipients(s),
        transfers(s),
        erasure(s),
        security(s),
    ]
}

fn controller(s: &Snapshot) -> Section {
    let o = &s.organisation;
    let mut sec = Section::new(
        "(a) Name and contact details of the controller, joint controller, representative and data protection officer",
    );
    sec.fields(vec![
        ("Controller", or_not_set(&o.controller.name)),
        ("Controller's contact details", contact(&o.controller)),
        (
            "Joint controller",
            "none recorded in the configuration".into(),
        ),
        (
            "Controller's representative (Art. 27)",
            "none recorded in the configuration".into(),
        ),
        ("Data protection officer", dpo_line(s)),
    ]);
    sec
}

/// (b): per camera, with its site, legal basis and balancing note.
fn purposes(s: &Snapshot) -> Section {
    let mut sec = Section::new("(b) Purposes of the processing");
    let rows: Vec<Vec<String>> = s
        .cameras
        .iter()
        .filter_map(|c| {
            let p = c.purpose.as_ref()?;
            Some(vec![
                c.name.clone(),
                site_of(s, c),
                p.purposes.join("; "),
                p.legal_basis.describe(),
                if p.legal_basis == LegalBasis::LegitimateInterests {
                    p.balancing_note.clone()
                } else {
                    "not applicable".into()
                },
            ])
        })
        .collect();
    if rows.is_empty() {
        sec.p("No camera has a documented purpose; no camera records.");
    } else {
        sec.table(
            &[
                "Camera",
                "Site",
                "Purposes",
                "Legal basis",
                "Balancing of interests (Art. 6(1)(f))",
            ],
            rows,
        );
    }
    let without: Vec<&Camera> = s.cameras.iter().filter(|c| c.purpose.is_none()).collect();
    if !without.is_empty() {
        sec.p(format!(
            "Cameras without a documented purpose, which therefore do not record: {}.",
            join_and(&names(without))
        ));
    }
    sec
}

/// The categories of data subjects the area kinds imply, with the cameras
/// behind each, in a fixed order.
pub(super) fn subjects(s: &Snapshot) -> Vec<String> {
    const KINDS: [(&str, &str); 4] = [
        ("private", "Customers and visitors"),
        ("workplace", "Employees"),
        ("public_facing", "Passers-by in the public-facing areas"),
        ("residential_adjacent", "Neighbours"),
    ];
    let mut out = Vec::new();
    for (kind, who) in KINDS {
        let cams: Vec<&Camera> = s.cameras.iter().filter(|c| c.area == kind).collect();
        if !cams.is_empty() {
            out.push(format!(
                "{who} ({}: {})",
                area(kind),
                join_and(&names(cams))
            ));
        }
    }
    let other: Vec<&Camera> = s
        .cameras
        .iter()
        .filter(|c| !KINDS.iter().any(|(k, _)| *k == c.area))
        .collect();
    if !other.is_empty() {
        out.push(format!(
            "Persons in the areas of {} (area kind not one of the known kinds)",
            join_and(&names(other))
        ));
    }
    out
}

/// The categories of personal data: video, audio and metadata where on.
pub(super) fn data_categories(s: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    if !s.cameras.is_empty() {
        out.push(format!(
            "Video images of the persons in view ({} camera{})",
            s.cameras.len(),
            if s.cameras.len() == 1 { "" } else { "s" }
        ));
    }
    let audio: Vec<String> = s
        .cameras
        .iter()
        .filter_map(|c| {
            c.audio.as_ref().map(|p| {
                if p.trim().is_empty() {
                    format!("\"{}\" (no purpose documented)", c.name)
                } else {
                    format!("\"{}\" ({p})", c.name)
                }
            })
        })
        .collect();
    if audio.is_empty() {
        out.push("Audio: not recorded by any camera".into());
    } else {
        out.push(format!("Audio recorded by {}", join_and(&audio)));
    }
    let meta: Vec<String> = s
        .cameras
        .iter()
        .filter_map(|c| c.metadata.as_ref().map(|p| format!("\"{}\" ({p})", c.name)))
        .collect();
    if meta.is_empty() {
        out.push("ONVIF metadata: not recorded by any camera".into());
    } else {
        out.push(format!("ONVIF metadata recorded by {}", join_and(&meta)));
    }
    out
}

fn categories(s: &Snapshot) -> Section {
    let mut sec = Section::new(
        "(c) Description of the categories of data subjects and of the categories of personal data",
    );
    sec.heading("Categories of data subjects");
    let subjects = subjects(s);
    if subjects.is_empty() {
        sec.p("None: no camera is configured.");
    } else {
        sec.list(subjects);
    }
    sec.heading("Categories of personal data");
    sec.list(data_categories(s));
    sec
}

/// The roles table: name, accounts, what they may do, limits.
pub(super) fn roles_table(sec: &mut Section, s: &Snapshot) {
    if s.roles.is_empty() {
        sec.p("No role is defined.");
        return;
    }
    let rows = s
        .roles
        .iter()
        .map(|r| {
            let may: Vec<String> = r.permissions.iter().map(|p| permission(p)).collect();
            let mut limits = vec![if r.all_cameras {
                "all cameras".to_string()
            } else {
                "some cameras only".to_string()
            }];
            if let Some(h) = r.playback_window_hours {
                limits.push(format!("playback of the last {} only", hours(h)));
            }
            if r.limited_hours {
                limits.push("only in set weekly hours".into());
            }
            limits.push(if r.require_second_factor {
                "second factor required".into()
            } else {
                "no second factor required".into()
            });
            vec![
                r.name.clone(),
                r.description.clone(),
                r.holders.to_string(),
                if may.is_empty() {
                    "nothing".into()
                } else {
                    may.join("; ")
                },
                limits.join("; "),
            ]
        })
        .collect();
    sec.table(
        &["Role", "What it is for", "Accounts", "May", "Limits"],
        rows,
    );
}

fn processor_kind(k: &str) -> String {
    k.replace('_', " ")
}

pub(super) fn processors_table(sec: &mut Section, s: &Snapshot) {
    if s.processors.is_empty() {
        sec.p("No processor is registered.");
        return;
    }
    let rows = s
        .processors
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                processor_kind(&p.kind),
                p.scope.clone(),
                p.country.clone(),
                p.agreement_date.clone(),
            ]
        })
        .collect();
    sec.table(
        &[
            "Processor",
            "Kind",
            "Scope",
            "Country",
            "Agreement (Art. 28) of",
        ],
        rows,
    );
}

fn recipients(s: &Snapshot) -> Section {
    let mut sec = Section::new(
        "(d) Categories of recipients to whom the personal data have been or will be disclosed",
    );
    sec.heading("Within the controller, by role");
    sec.p("Staff see video only through the roles they hold; the number of enabled accounts holding each role is given.");
    roles_table(&mut sec, s);
    sec.heading("Processors");
    processors_table(&mut sec, s);
    sec.heading("Authorities and other third parties");
    sec.p("Police, courts and other authorities entitled by law, and data subjects exercising their right of access, on request and case by case. Every copy handed over, showing or telling is entered in the register of transfers and disclosures with its recipient and legal basis.");
    sec
}

/// Storage locations and processors outside the EEA, with their basis.
pub(super) fn third_country_transfers(s: &Snapshot) -> Vec<Vec<String>> {
    let basis = |b: &str| {
        if b.trim().is_empty() {
            "no transfer basis declared".to_string()
        } else {
            b.to_string()
        }
    };
    let mut rows: Vec<Vec<String>> = s
        .organisation
        .outside_eea()
        .into_iter()
        .map(|(what, c)| vec![what, c, basis(&s.organisation.storage.transfer_basis)])
        .collect();
    for p in &s.processors {
        if !p.country.is_empty() && !country::in_eea(&p.country) {
            rows.push(vec![
                format!("processor \"{}\"", p.name),
                p.country.clone(),
                basis(&p.transfer_basis),
            ]);
        }
    }
    rows
}

fn transfers(s: &Snapshot) -> Section {
    let mut sec = Section::new(
        "(e) Transfers of personal data to a third country or an international organisation",
    );
    let rows = third_country_transfers(s);
    if rows.is_empty() {
        let st = &s.organisation.storage;
        let mut places = vec![format!("data directory: {}", or_not_set(&st.data_country))];
        if !st.object_store_country.is_empty() {
            places.push(format!("object store: {}", st.object_store_country));
        }
        for b in &st.backups {
            places.push(format!("backup \"{}\": {}", b.description, b.country));
        }
        for p in &s.processors {
            places.push(format!("processor \"{}\": {}", p.name, p.country));
        }
        sec.p(format!(
            "None. Every storage location and processor declared is in the European Economic Area ({}).",
            places.join("; ")
        ));
    } else {
        sec.table(
            &["What", "Country", "Transfer basis (GDPR chapter V)"],
            rows,
        );
    }
    sec
}

/// Per camera: how long video and unmasked originals are kept.
pub(super) fn retention_table(sec: &mut Section, s: &Snapshot) {
    let rows: Vec<Vec<String>> = s
        .cameras
        .iter()
        .map(|c| {
            let why = if !c.retention_rule_justification.trim().is_empty() {
                c.retention_rule_justification.clone()
            } else if let Some(p) = &c.purpose {
                p.retention_justification.clone()
            } else {
                "none documented".into()
            };
            vec![
                c.name.clone(),
                hours(c.retention_hours),
                match (c.liftable_masks, c.original_retention_hours) {
                    (0, _) => "not kept (no liftable mask)".into(),
                    (_, Some(h)) => hours(h),
                    (_, None) => format!("{} (default)", hours(s.retention.original_hours)),
                },
                why,
            ]
        })
        .collect();
    if rows.is_empty() {
        sec.p("No camera is configured.");
    } else {
        sec.table(
            &[
                "Camera",
                "Video kept for",
                "Unmasked originals kept for",
                "Why",
            ],
            rows,
        );
    }
}

fn erasure(s: &Snapshot) -> Section {
    let mut sec =
        Section::new("(f) Envisaged time limits for erasure of the different categories of data");
    retention_table(&mut sec, s);
    sec.list(retention_notes(s));
    sec
}

pub(super) fn retention_notes(s: &Snapshot) -> Vec<String> {
    let r = &s.retention;
    let mut out = vec![format!(
        "Default for cameras without their own rule: {}{}.",
        hours(r.hours),
        if r.justification.trim().is_empty() {
            String::new()
        } else {
            format!(" ({})", r.justification)
        }
    )];
    out.push("Video is erased automatically when its time is up: its keys are destroyed. Recordings under an evidence lock or a restriction hold are kept until it is released.".into());
    out.push(format!(
        "Access-record entries (who viewed, exported or changed what) are kept {}.",
        days(s.security.audit_retention_days)
    ));
    out
}

fn security(s: &Snapshot) -> Section {
    let mut sec = Section::new(
        "(g) General description of the technical and organisational security measures (Art. 32(1))",
    );
    sec.list(security_measures(s));
    sec
}
