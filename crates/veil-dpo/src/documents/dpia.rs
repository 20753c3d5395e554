//! The DPIA screening (the guidance's trigger questions answered from the
//! configuration) and a DPIA draft pre-filled with the measures in force
//! (D7; seed 000 "Appendix: Data Protection Impact Assessment", "Inherent
//! risks with using VMS"; seed 001 on masks, analytics, security and
//! auditability).

use serde::Serialize;

use super::ropa::{processors_table, roles_table, third_country_transfers};
use super::*;
use crate::model::{permission as perm, LegalBasis};

/// How the documents cite the privacy guide for video management systems.
const GUIDE: &str = "Milestone Systems, XProtect VMS GDPR privacy guide";
/// How the documents cite the regulator's opinion on a city's cameras.
const CNPD: &str = "CNPD, Opinion 2022/18";

/// More cameras than this makes the camera-count question answer yes.
/// Seed 000 ("Number of cameras") treats the number of cameras as an
/// indicator of a system's size and risk without giving a figure; twenty
/// is this system's choice, and the DPO may weigh it otherwise.
pub const LARGE_SYSTEM_CAMERAS: usize = 20;

/// Video kept longer than this (30 days) makes the long-retention question
/// answer yes (the lint asks a justification above it; seed 001 §32 names
/// a 30-day window).
pub const LONG_RETENTION_HOURS: u32 = 30 * 24;

/// One trigger question, answered from the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// Stable id (`public_areas`, `systematic_monitoring`, …).
    pub id: &'static str,
    /// The question.
    pub question: String,
    /// The answer (false also when not known).
    pub answer: bool,
    /// Whether the configuration answers it at all; when not, the DPO does.
    pub known: bool,
    /// What in the configuration gives the answer.
    pub evidence: String,
}

/// The screening: the answers and the conclusion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Screening {
    /// Each trigger question, in a fixed order.
    pub questions: Vec<Answer>,
    /// Whether a DPIA is required.
    pub required: bool,
    /// Why it is, or why not.
    pub reasons: Vec<String>,
}

fn list_or(cams: &[&Camera], none: &str) -> String {
    if cams.is_empty() {
        none.to_string()
    } else {
        join_and(&names(cams.iter().copied()))
    }
}

/// Answers the trigger questions from `snapshot` and concludes.
///
/// A DPIA is required when any decisive trigger holds — a public-facing
/// area recorded continuously (systematic monitoring of a publicly
/// accessible area, GDPR Art. 35(3)(c)), analytics, sound recording, or a
/// workplace camera meant to identify people — or when two or more
/// triggers hold (Article 29 Working Party, WP248 rev.01: processing
/// meeting two criteria requires a DPIA in most cases).
pub fn dpia_screening(snapshot: &Snapshot) -> Screening {
    let s = snapshot;
    let cams = |f: &dyn Fn(&Camera) -> bool| -> Vec<&Camera> {
        s.cameras.iter().filter(|c| f(c)).collect()
    };
    let mut q = Vec::new();
    let mut add = |id, question: &str, answer: bool, evidence: String| {
        q.push(Answer {
            id,
            question: question.to_string(),
            answer,
            known: true,
            evidence,
        })
    };

    let public = cams(&|c| c.area == "public_facing");
    add(
        "public_areas",
        "Does a camera view a publicly accessible or public-facing area?",
        !public.is_empty(),
        format!("Public-facing cameras: {}.", list_or(&public, "none")),
    );
    let systematic = cams(&|c| {
        (c.area == "public_facing" || c.area == "workplace")
            && records(c)
            && c.recording_mode == "continuous"
    });
    add(
        "systematic_monitoring",
        "Are workplace or public-facing areas recorded continuously (systematic monitoring)?",
        !systematic.is_empty(),
        format!(
            "Workplace or public-facing cameras recording continuously: {}.",
            list_or(&systematic, "none")
        ),
    );
    let analytics: Vec<String> = s
        .cameras
        .iter()
        .flat_map(|c| {
            c.analytics
                .iter()
                .map(move |a| format!("\"{}\" on \"{}\"", a.name, c.name))
        })
        .collect();
    add(
        "analytics",
        "Is video analysed automatically (analytics, intelligent video surveillance)?",
        !analytics.is_empty(),
        if analytics.is_empty() {
            "No analytics rule is configured.".into()
        } else {
            format!("Analytics rules: {}.", join_and(&analytics))
        },
    );
    add(
        "camera_count",
        &format!("Does the system have more than {LARGE_SYSTEM_CAMERAS} cameras?"),
        s.cameras.len() > LARGE_SYSTEM_CAMERAS,
        format!(
            "{} camera{}. The threshold of {LARGE_SYSTEM_CAMERAS} is this system's choice: the guidance ({GUIDE}, \"Number of cameras\") treats the number of cameras as an indicator of size and risk without giving a figure.",
            s.cameras.len(),
            if s.cameras.len() == 1 { "" } else { "s" }
        ),
    );
    let audio = cams(&|c| c.audio.is_some());
    add(
        "audio",
        "Is sound recorded?",
        !audio.is_empty(),
        format!("Cameras recording sound: {}.", list_or(&audio, "none")),
    );
    let ident = cams(&|c| {
        c.purpose
            .as_ref()
            .is_some_and(|p| p.detail == Detail::Identification)
    });
    add(
        "identification",
        "Is any camera meant to show who people are (identification)?",
        !ident.is_empty(),
        format!(
            "Cameras at the identification level of detail: {}.",
            list_or(&ident, "none")
        ),
    );
    let residential = cams(&|c| c.area == "residential_adjacent");
    add(
        "residential",
        "Does a camera view homes or their surroundings (residential-adjacent)?",
        !residential.is_empty(),
        if residential.is_empty() {
            "Residential-adjacent cameras: none.".into()
        } else {
            format!(
                "Residential-adjacent cameras: {}.",
                join_and(
                    &residential
                        .iter()
                        .map(|c| format!("\"{}\" (privacy masks: {})", c.name, masks(c)))
                        .collect::<Vec<_>>()
                )
            )
        },
    );
    let long = cams(&|c| c.retention_hours > LONG_RETENTION_HOURS);
    add(
        "long_retention",
        "Is video kept longer than 30 days?",
        !long.is_empty(),
        format!(
            "Cameras keeping video longer than {}: {}.",
            hours(LONG_RETENTION_HOURS),
            list_or(&long, "none")
        ),
    );
    let employees = cams(&|c| c.area == "workplace");
    add(
        "employees",
        "Are employees monitored (cameras in workplace areas)?",
        !employees.is_empty(),
        format!("Workplace cameras: {}.", list_or(&employees, "none")),
    );
    let abroad = third_country_transfers(s);
    add(
        "third_countries",
        "Is video stored or processed outside the European Economic Area?",
        !abroad.is_empty(),
        if abroad.is_empty() {
            "Every storage location and processor declared is in the EEA.".into()
        } else {
            format!(
                "Outside the EEA: {}.",
                abroad
                    .iter()
                    .map(|r| format!("{} ({})", r[0], r[1]))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        },
    );
    let mut unknown = |id, question: &str, evidence: &str| {
        q.push(Answer {
            id,
            question: question.to_string(),
            answer: false,
            known: false,
            evidence: format!("Not known from configuration: {evidence}"),
        })
    };
    unknown(
        "vulnerable_persons",
        "Are vulnerable persons filmed (children, patients, elderly people)?",
        "the DPO answers from what the cameras see.",
    );
    unknown(
        "heightened_privacy",
        "Does a camera view areas with heightened expectations of privacy, or reveal special categories of data?",
        "the DPO answers from what the cameras see.",
    );
    unknown(
        "non_security_purposes",
        "Is video used for purposes other than security (including investigations)?",
        "the purposes are free text; the DPO judges them (see the necessity and proportionality section).",
    );
    unknown(
        "interconnected",
        "Is the system interconnected with other systems?",
        "the DPO answers.",
    );

    let mut reasons = Vec::new();
    let public_continuous: Vec<&Camera> = systematic
        .iter()
        .copied()
        .filter(|c| c.area == "public_facing")
        .collect();
    if !public_continuous.is_empty() {
        reasons.push(format!(
            "A public-facing area is recorded continuously by {}: systematic monitoring of a publicly accessible area (GDPR Art. 35(3)(c)).",
            join_and(&names(public_continuous))
        ));
    }
    if !analytics.is_empty() {
        reasons.push(format!("Video is analysed automatically ({GUIDE}: high-tech or intelligent video surveillance)."));
    }
    if !audio.is_empty() {
        reasons.push(format!(
            "Sound is recorded by {} ({GUIDE}: audio recording).",
            join_and(&names(audio))
        ));
    }
    let ident_work: Vec<&Camera> = ident
        .iter()
        .copied()
        .filter(|c| c.area == "workplace")
        .collect();
    if !ident_work.is_empty() {
        reasons.push(format!(
            "Employees are filmed at the identification level of detail by {} ({GUIDE}: employee monitoring).",
            join_and(&names(ident_work))
        ));
    }
    let yes: Vec<&Answer> = q.iter().filter(|a| a.answer).collect();
    if yes.len() >= 2 {
        reasons.push(format!(
            "{} trigger questions are answered yes ({}); two or more criteria require a DPIA in most cases (Article 29 Working Party, WP248 rev.01).",
            yes.len(),
            yes.iter().map(|a| a.id).collect::<Vec<_>>().join(", ")
        ));
    }
    let required = !reasons.is_empty();
    if !required {
        reasons.push(format!(
            "No decisive trigger holds and {} of the trigger questions {} answered yes; a DPIA is not required by these rules, unless the DPO's answers to the questions not known from configuration change it.",
            yes.len(),
            if yes.len() == 1 { "is" } else { "are" }
        ));
    }
    Screening {
        questions: q,
        required,
        reasons,
    }
}

pub(super) fn sections(s: &Snapshot) -> Vec<Section> {
    let screening = dpia_screening(s);
    vec![
        screening_section(&screening),
        conclusion(&screening),
        description(s),
        necessity(s),
        risks(s),
        outcome(),
    ]
}

fn screening_section(sc: &Screening) -> Section {
    let mut sec = Section::new("Screening: the trigger questions");
    sec.p(format!("Each question of the guidance ({GUIDE}, \"Appendix: Data Protection Impact Assessment\"; GDPR Art. 35(3)) answered from the configuration, with what gives the answer."));
    sec.table(
        &["Question", "Answer", "Evidence"],
        sc.questions
            .iter()
            .map(|a| {
                vec![
                    a.question.clone(),
                    match (a.known, a.answer) {
                        (false, _) => "Not known".into(),
                        (true, true) => "Yes".into(),
                        (true, false) => "No".into(),
                    },
                    a.evidence.clone(),
                ]
            })
            .collect(),
    );
    sec
}

fn conclusion(sc: &Screening) -> Section {
    let mut sec = Section::new("Conclusion of the screening");
    sec.p(if sc.required {
        "A DPIA is required, for these reasons:"
    } else {
        "A DPIA is not required by the screening's rules:"
    });
    sec.list(sc.reasons.clone());
    sec.p("Rules: a DPIA is required when a public-facing area is recorded continuously, when analytics run, when sound is recorded, when a workplace camera is meant to identify people, or when two or more trigger questions are answered yes.");
    sec.complete(
        "the answers marked \"Not known\", and whether the DPO agrees with the conclusion.",
    );
    sec
}

fn description(s: &Snapshot) -> Section {
    let o = &s.organisation;
    let mut sec = Section::new("Draft 1. Systematic description of the processing (Art. 35(7)(a))");
    sec.fields(vec![
        ("Controller", or_not_set(&o.controller.name)),
        ("Data protection officer", dpo_line(s)),
        (
            "Sites",
            if o.sites.is_empty() {
                "none declared".into()
            } else {
                o.sites
                    .iter()
                    .map(|x| x.name.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        ),
        ("Number of cameras", s.cameras.len().to_string()),
    ]);
    sec.heading("Cameras");
    if s.cameras.is_empty() {
        sec.p("No camera is configured.");
    } else {
        sec.table(
            &[
                "Camera",
                "Site",
                "Area",
                "Recording",
                "Kept for",
                "Privacy masks",
                "Sound",
            ],
            s.cameras
                .iter()
                .map(|c| {
                    vec![
                        c.name.clone(),
                        site_of(s, c),
                        area(&c.area),
                        recording_status(c),
                        hours(c.retention_hours),
                        masks(c),
                        if c.audio.is_some() { "yes" } else { "no" }.into(),
                    ]
                })
                .collect(),
        );
    }
    sec.heading("Recipients");
    roles_table(&mut sec, s);
    processors_table(&mut sec, s);
    sec.heading("Legitimate interests pursued");
    let notes: Vec<String> = s
        .cameras
        .iter()
        .filter_map(|c| {
            let p = c.purpose.as_ref()?;
            (p.legal_basis == LegalBasis::LegitimateInterests)
                .then(|| format!("\"{}\": {}", c.name, p.balancing_note))
        })
        .collect();
    if notes.is_empty() {
        sec.p("No camera's processing is based on legitimate interests.");
    } else {
        sec.list(notes);
    }
    sec.complete("the nature, scope and context of the processing not shown by the configuration: the surroundings of each camera, who passes there and when, and how the system came to be installed.");
    sec
}

fn necessity(s: &Snapshot) -> Section {
    let mut sec = Section::new("Draft 2. Necessity and proportionality (Art. 35(7)(b))");
    let rows: Vec<Vec<String>> = s
        .cameras
        .iter()
        .filter_map(|c| {
            let p = c.purpose.as_ref()?;
            Some(vec![
                c.name.clone(),
                p.purposes.join("; "),
                p.legal_basis.describe(),
                detail(p.detail).into(),
                format!(
                    "{}: {}",
                    hours(c.retention_hours),
                    p.retention_justification
                ),
            ])
        })
        .collect();
    if rows.is_empty() {
        sec.p("No camera has a documented purpose; no camera records.");
    } else {
        sec.table(
            &[
                "Camera",
                "Purposes",
                "Legal basis",
                "Level of detail",
                "Retention and why",
            ],
            rows,
        );
    }
    sec.complete("why each camera, its view and its level of detail are necessary for its purposes, and why less intrusive means (locks, lighting, guards, fewer cameras or less detail) would not do.");
    sec.complete("how data subjects are informed (the on-the-spot notice and where the policy is published) and how their rights are handled.");
    sec
}

fn roles_with(s: &Snapshot, p: &str) -> String {
    let r: Vec<String> = s
        .roles
        .iter()
        .filter(|r| r.grants(p))
        .map(|r| {
            format!(
                "\"{}\" ({} account{})",
                r.name,
                r.holders,
                if r.holders == 1 { "" } else { "s" }
            )
        })
        .collect();
    if r.is_empty() {
        "no role".into()
    } else {
        join_and(&r)
    }
}

fn risks(s: &Snapshot) -> Section {
    let sec_cfg = &s.security;
    let four_eyes = |p: &str| sec_cfg.four_eyes.iter().any(|x| x == p);
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |risk: &str, source: &str, measures: Vec<String>| {
        rows.push(vec![risk.into(), source.into(), measures.join(" ")]);
    };

    let workplace: Vec<&Camera> = s.cameras.iter().filter(|c| c.area == "workplace").collect();
    let windows: Vec<String> = s
        .roles
        .iter()
        .filter_map(|r| {
            r.playback_window_hours
                .map(|h| format!("\"{}\" {}", r.name, hours(h)))
        })
        .collect();
    row(
        "Employees' hours, performance or conduct monitored through the video, alarms or the access record.",
        &format!("{GUIDE}, \"Inherent risks with using VMS\""),
        vec![
            if workplace.is_empty() {
                "No camera is in a workplace area.".into()
            } else {
                format!("Workplace cameras: {}, each limited to its documented purposes.", join_and(&names(workplace)))
            },
            format!("Recorded video is watched by {}.", roles_with(s, "playback")),
            if windows.is_empty() {
                "No playback window limits a role.".into()
            } else {
                format!("Playback windows: {}.", windows.join("; "))
            },
            "Every viewing is entered in the access record.".into(),
        ],
    );
    row(
        "Recordings of people shown to others, shared or published (e.g. on social media), or video exported or handed over uncritically to whoever asks.",
        &format!("{GUIDE}, \"Inherent risks with using VMS\"; {CNPD} §37-38"),
        vec![
            format!("Export by {} only.", roles_with(s, perm::EXPORT)),
            if four_eyes(perm::EXPORT) {
                "Each export needs a second person's approval.".into()
            } else {
                "Exports need no second person's approval.".into()
            },
            "Exports are encrypted and signed packages.".into(),
            format!("Export without encryption: {}.", roles_with(s, perm::EXPORT_UNENCRYPTED)),
            "Every export and disclosure is entered in the register of transfers and disclosures.".into(),
        ],
    );
    let ptz: Vec<&Camera> = s.cameras.iter().filter(|c| c.ptz_control).collect();
    row(
        "PTZ cameras zoomed in on people for close-ups without their knowledge.",
        &format!("{GUIDE}, \"Inherent risks with using VMS\""),
        if ptz.is_empty() {
            vec!["No camera has PTZ control enabled.".into()]
        } else {
            vec![
                format!("PTZ control enabled on {}.", join_and(&names(ptz))),
                format!("PTZ moved by {}.", roles_with(s, "ptz.control")),
            ]
        },
    );
    let residential: Vec<String> = s
        .cameras
        .iter()
        .filter(|c| c.area == "residential_adjacent")
        .map(|c| format!("\"{}\" (privacy masks: {})", c.name, masks(c)))
        .collect();
    row(
        "Homes filmed: the windows and doors of buildings next to the cameras, and who enters them.",
        &format!("{CNPD} §14-18"),
        vec![if residential.is_empty() {
            "No camera is residential-adjacent.".into()
        } else {
            format!("Residential-adjacent cameras: {}.", join_and(&residential))
        }],
    );
    let analytics: Vec<String> = s
        .cameras
        .iter()
        .flat_map(|c| {
            c.analytics.iter().map(move |a| {
                format!(
                    "\"{}\" on \"{}\": {}",
                    a.name,
                    c.name,
                    if a.criteria.trim().is_empty() {
                        "criteria not documented"
                    } else {
                        &a.criteria
                    }
                )
            })
        })
        .collect();
    row(
        "Analytics applied without documented criteria, or processing biometric data.",
        &format!("{CNPD} §19-28"),
        vec![if analytics.is_empty() {
            "No analytics rule runs.".into()
        } else {
            format!(
                "Analytics rules and their criteria: {}.",
                analytics.join("; ")
            )
        }],
    );
    let creds_ok = s
        .cameras
        .iter()
        .filter(|c| c.credentials.set && !c.credentials.factory_default && !c.credentials.reused)
        .count();
    let mut security = security_measures(s);
    security.truncate(5);
    security.push(format!(
        "{creds_ok} of {} cameras have a password that is neither a factory default nor shared with another camera.",
        s.cameras.len()
    ));
    row(
        "Unauthorised access to live or recorded video, or a data breach.",
        &format!("{CNPD} §29-38"),
        security,
    );
    let longest = s
        .cameras
        .iter()
        .map(|c| c.retention_hours)
        .max()
        .unwrap_or(0);
    row(
        "Video kept longer than its purposes need.",
        &format!("GDPR Art. 5(1)(e); {GUIDE}, \"Retention period for typical security purposes\""),
        vec![
            format!("The longest retention of a camera is {}.", hours(longest)),
            "Video is erased automatically when its time is up (its keys are destroyed).".into(),
        ],
    );
    let backups = &s.organisation.storage.backups;
    row(
        "Loss of recordings needed as evidence.",
        &format!("{CNPD} §31-32"),
        vec![if backups.is_empty() {
            "No backup is declared.".into()
        } else {
            format!(
                "{} backup{} declared, {} off site.",
                backups.len(),
                if backups.len() == 1 { "" } else { "s" },
                backups.iter().filter(|b| b.off_site).count()
            )
        }],
    );
    let maintenance: u32 = s.processors.iter().map(|p| p.active_accounts).sum();
    row(
        "Access by a processor's maintenance staff.",
        &format!("{CNPD} §39"),
        vec![
            format!(
                "{} processor{} registered with a processing agreement.",
                s.processors.len(),
                if s.processors.len() == 1 { "" } else { "s" }
            ),
            format!(
                "Maintenance accounts are approved and time-limited; {maintenance} enabled now."
            ),
        ],
    );
    row(
        "Misuse not detected, or not provable afterwards.",
        &format!("{CNPD} §40"),
        vec![format!(
            "The access record is a hash chain with signed checkpoints{}, kept {}.",
            if sec_cfg.audit_checkpoint_copy {
                " copied outside the database"
            } else {
                ""
            },
            days(sec_cfg.audit_retention_days)
        )],
    );

    let mut sec = Section::new(
        "Draft 3. Risks to the rights and freedoms of data subjects and the measures addressing them (Art. 35(7)(c) and (d))",
    );
    sec.p("The typical risks of video surveillance named by the guidance, and the measures against each that are configured now.");
    sec.table(&["Risk", "Source", "Measures configured"], rows);
    sec.complete("the likelihood and severity of each risk, the further measures planned, and the residual risk after the measures.");
    sec
}

fn outcome() -> Section {
    let mut sec = Section::new("Draft 4. Outcome");
    sec.complete("the advice of the data protection officer (Art. 35(2)).");
    sec.complete("the views of data subjects or their representatives, where sought (Art. 35(9)).");
    sec.complete("whether a high residual risk remains, so that the supervisory authority must be consulted before processing (Art. 36).");
    sec.complete("the controller's decision, its date, and when this assessment is next reviewed.");
    sec
}
