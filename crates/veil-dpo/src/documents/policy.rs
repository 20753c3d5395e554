//! The video surveillance policy (D6; seed 000 "Appendix: Video
//! Surveillance Policy", "Data subject rights").

use super::ropa::{processors_table, retention_notes, retention_table, roles_table};
use super::*;
use crate::model::{permission as perm, LegalBasis};

pub(super) fn sections(s: &Snapshot) -> Vec<Section> {
    vec![
        overview(s),
        purposes(s),
        cameras(s),
        retention(s),
        access(s),
        export(s),
        rights(s),
        complaint(s),
        security(s),
    ]
}

fn overview(s: &Snapshot) -> Section {
    let o = &s.organisation;
    let mut sec = Section::new("1. The system and who is responsible");
    let recording = s.cameras.iter().filter(|c| records(c)).count();
    let site_ids: Vec<&str> = o
        .sites
        .iter()
        .filter(|site| {
            s.cameras
                .iter()
                .any(|c| c.purpose.as_ref().is_some_and(|p| p.site == site.id))
        })
        .map(|site| site.id.as_str())
        .collect();
    sec.p(format!(
        "The system has {} camera{} ({} recording) on {} site{}. It is operated by the controller below, who decides why and how the video is processed.",
        s.cameras.len(),
        if s.cameras.len() == 1 { "" } else { "s" },
        recording,
        site_ids.len(),
        if site_ids.len() == 1 { "" } else { "s" },
    ));
    sec.fields(vec![
        ("Controller", or_not_set(&o.controller.name)),
        ("Contact", contact(&o.controller)),
        ("Data protection officer", dpo_line(s)),
        (
            "Sites",
            if o.sites.is_empty() {
                "none declared".into()
            } else {
                o.sites
                    .iter()
                    .map(|site| {
                        if site.address.is_empty() {
                            site.name.clone()
                        } else {
                            format!("{} ({})", site.name, site.address)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        ),
        ("Published at", or_not_set(&o.information_at)),
    ]);
    sec.complete("the national law on video surveillance this policy also follows, the organisation's audit reports and its impact assessment reports (see the DPIA document).");
    sec
}

fn purposes(s: &Snapshot) -> Section {
    let mut sec = Section::new("2. Purposes and legal basis");
    let mut any = false;
    for c in &s.cameras {
        let Some(p) = &c.purpose else { continue };
        any = true;
        sec.heading(format!("{} ({})", c.name, site_of(s, c)));
        sec.list(p.purposes.clone());
        let mut rows = vec![("Legal basis", p.legal_basis.describe())];
        if p.legal_basis == LegalBasis::LegitimateInterests {
            rows.push(("Balancing of interests", p.balancing_note.clone()));
        }
        sec.fields(rows);
    }
    if !any {
        sec.p("No camera has a documented purpose; no camera records.");
    }
    sec
}

fn cameras(s: &Snapshot) -> Section {
    let mut sec = Section::new("3. Cameras and what they cover");
    sec.p(format!("Number of cameras: {}.", s.cameras.len()));
    if !s.cameras.is_empty() {
        let rows = s
            .cameras
            .iter()
            .map(|c| {
                vec![
                    c.name.clone(),
                    site_of(s, c),
                    area(&c.area),
                    c.purpose
                        .as_ref()
                        .map_or_else(|| "not documented".into(), |p| detail(p.detail).to_string()),
                    recording_status(c),
                    masks(c),
                ]
            })
            .collect();
        sec.table(
            &[
                "Camera",
                "Site",
                "Area",
                "Level of detail",
                "Recording",
                "Privacy masks",
            ],
            rows,
        );
    }
    let mut notes = Vec::new();
    let ptz: Vec<&Camera> = s.cameras.iter().filter(|c| c.ptz_control).collect();
    if !ptz.is_empty() {
        notes.push(format!(
            "Pan, tilt and zoom can be controlled on {}.",
            join_and(&names(ptz))
        ));
    }
    let audio: Vec<&Camera> = s.cameras.iter().filter(|c| c.audio.is_some()).collect();
    notes.push(if audio.is_empty() {
        "No camera records sound.".into()
    } else {
        format!("Sound is recorded by {}.", join_and(&names(audio)))
    });
    sec.list(notes);
    sec
}

fn retention(s: &Snapshot) -> Section {
    let mut sec = Section::new("4. How long video is kept, and why");
    retention_table(&mut sec, s);
    sec.list(retention_notes(s));
    sec
}

fn access(s: &Snapshot) -> Section {
    let mut sec = Section::new("5. Who has access");
    sec.p("Access is given by role, on a need-to-know basis; people are not named here. Each role, the number of accounts holding it and what it allows:");
    roles_table(&mut sec, s);
    sec.heading("Processors");
    processors_table(&mut sec, s);
    let maintenance: u32 = s.processors.iter().map(|p| p.active_accounts).sum();
    if !s.processors.is_empty() {
        sec.p(format!(
            "A processor's staff sign in only with an approved, time-limited maintenance account; {} enabled now.",
            match maintenance {
                0 => "none is".to_string(),
                1 => "1 is".to_string(),
                n => format!("{n} are"),
            }
        ));
    }
    sec
}

fn roles_with(s: &Snapshot, p: &str) -> Vec<String> {
    s.roles
        .iter()
        .filter(|r| r.grants(p))
        .map(|r| format!("\"{}\"", r.name))
        .collect()
}

/// `the role "a"`, `the roles "a" and "b"`.
fn the_roles(names: &[String]) -> String {
    format!(
        "the role{} {}",
        if names.len() == 1 { "" } else { "s" },
        join_and(names)
    )
}

fn export(s: &Snapshot) -> Section {
    let mut sec = Section::new("6. Export and disclosure");
    let mut items = Vec::new();
    let exporters = roles_with(s, perm::EXPORT);
    items.push(if exporters.is_empty() {
        "No role may export video.".to_string()
    } else {
        format!(
            "Video is exported only by {} (permission to {}).",
            the_roles(&exporters),
            permission(perm::EXPORT)
        )
    });
    items.push("An export is a package encrypted as a whole and signed, so that its recipient can check that it is complete and unaltered.".into());
    if s.security.four_eyes.iter().any(|p| p == perm::EXPORT) {
        items.push("Each export needs the approval of a second person (four-eyes).".into());
    }
    let unencrypted = roles_with(s, perm::EXPORT_UNENCRYPTED);
    items.push(if unencrypted.is_empty() {
        "No role may export without encryption.".to_string()
    } else {
        format!(
            "Only {} may {}.",
            the_roles(&unencrypted),
            permission(perm::EXPORT_UNENCRYPTED)
        )
    });
    items.push("Every export and every disclosure (a copy handed over, video shown, information told, a subject access) is entered in the register of transfers and disclosures with its recipient and legal basis.".into());
    sec.list(items);
    sec
}

fn rights(s: &Snapshot) -> Section {
    let mut sec = Section::new("7. Your rights and how to exercise them");
    let bases: Vec<LegalBasis> = s
        .cameras
        .iter()
        .filter_map(|c| c.purpose.as_ref().map(|p| p.legal_basis))
        .collect();
    let objection = bases
        .iter()
        .any(|b| matches!(b, LegalBasis::LegitimateInterests | LegalBasis::PublicTask));
    let portability = bases
        .iter()
        .any(|b| matches!(b, LegalBasis::Consent | LegalBasis::Contract));
    let mut items = vec![
        "Access (Art. 15): to know whether video of you is kept and to obtain a copy while it is kept.".to_string(),
        "Erasure (Art. 17): video is erased automatically at the end of its retention; a request to erase it earlier is examined against the purposes above.".into(),
        "Restriction (Art. 18): the recordings concerned can be held so that they are neither used nor erased while a request or a dispute is examined.".into(),
    ];
    items.push(if objection {
        "Objection (Art. 21): you may object, on grounds relating to your situation, to processing based on legitimate interests or a public task.".into()
    } else {
        "Objection (Art. 21): does not apply, as no camera's processing is based on legitimate interests or a public task.".into()
    });
    items.push("Rectification (Art. 16): to have inaccurate personal data corrected or completed, e.g. by a supplementary statement.".into());
    items.push(if portability {
        "Portability (Art. 20): for processing based on consent or a contract, to receive the video of you in a machine-readable format.".into()
    } else {
        "Portability (Art. 20): does not apply, as no camera's processing is based on consent or a contract.".into()
    });
    sec.list(items);
    sec.p(format!(
        "To exercise a right, write to the data protection officer: {}. To find the recordings, give the place, the date and the approximate time. You will receive an answer without undue delay and at the latest within one month (Art. 12(3) GDPR).",
        dpo_line(s)
    ));
    sec
}

fn complaint(s: &Snapshot) -> Section {
    let a = &s.organisation.authority;
    let mut sec = Section::new("8. Complaint to the supervisory authority");
    sec.p(format!(
        "You may lodge a complaint with the supervisory authority (Art. 77 GDPR): {}{}.",
        or_not_set(&a.name),
        if a.contact.trim().is_empty() {
            String::new()
        } else {
            format!(", {}", a.contact)
        }
    ));
    sec
}

fn security(s: &Snapshot) -> Section {
    let mut sec = Section::new("9. How the video is protected");
    sec.list(security_measures(s));
    sec
}
