//! The on-the-spot notice, first layer, one page per site (D6; seed 000
//! "Appendix: On-the-spot notice").

use super::*;
use crate::model::{LegalBasis, Site};

pub(super) fn sections(s: &Snapshot) -> Vec<Section> {
    let mut out: Vec<Section> = s
        .organisation
        .sites
        .iter()
        .filter_map(|site| site_section(s, site))
        .collect();
    for sec in out.iter_mut().skip(1) {
        sec.page_break = true;
    }
    out
}

/// The notice for one site: `None` when the site does not exist or has no
/// camera.
pub fn notice_for_site(snapshot: &Snapshot, stamp: Stamp, site_id: &str) -> Option<Document> {
    let site = snapshot.organisation.site(site_id)?;
    let sec = site_section(snapshot, site)?;
    Some(document(Kind::Notice, snapshot, stamp, vec![sec]))
}

fn site_section(s: &Snapshot, site: &Site) -> Option<Section> {
    let cams: Vec<&Camera> = s
        .cameras
        .iter()
        .filter(|c| c.purpose.as_ref().is_some_and(|p| p.site == site.id))
        .collect();
    if cams.is_empty() {
        return None;
    }
    let o = &s.organisation;
    let heading = if site.address.trim().is_empty() {
        format!("Video surveillance: {}", site.name)
    } else {
        format!("Video surveillance: {} ({})", site.name, site.address)
    };
    let mut sec = Section::new(heading);
    let mut purposes: Vec<String> = Vec::new();
    let mut bases: Vec<LegalBasis> = Vec::new();
    for c in &cams {
        let p = c.purpose.as_ref().expect("filtered on purpose");
        for x in &p.purposes {
            if !purposes.contains(x) {
                purposes.push(x.clone());
            }
        }
        if !bases.contains(&p.legal_basis) {
            bases.push(p.legal_basis);
        }
    }
    bases.sort_by_key(|b| b.letter());
    let recorded: Vec<&Camera> = cams.iter().copied().filter(|c| records(c)).collect();
    let recording = if recorded.is_empty() {
        "Images are watched live and are not recorded.".to_string()
    } else if recorded.len() == cams.len() {
        "Images are recorded.".to_string()
    } else {
        format!(
            "Images are recorded by {}; the other cameras are watched live only.",
            join_and(&names(recorded.iter().copied()))
        )
    };
    let audio: Vec<&Camera> = cams.iter().copied().filter(|c| c.audio.is_some()).collect();
    let mut areas: Vec<String> = Vec::new();
    for c in &cams {
        let a = area(&c.area);
        if !areas.contains(&a) {
            areas.push(a);
        }
    }
    let retention = cams.iter().map(|c| c.retention_hours).max().unwrap_or(0);
    let mut rows = vec![
        (
            "Controller",
            format!(
                "{} ({})",
                or_not_set(&o.controller.name),
                contact(&o.controller)
            ),
        ),
        ("Purposes", purposes.join("; ")),
        (
            "Legal basis",
            bases
                .iter()
                .map(|b| b.describe())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        ("Recording", recording),
    ];
    if !audio.is_empty() {
        rows.push((
            "Sound",
            format!("Sound is recorded by {}.", join_and(&names(audio))),
        ));
    }
    rows.push((
        "Areas watched",
        format!(
            "{} camera{}: {}",
            cams.len(),
            if cams.len() == 1 { "" } else { "s" },
            areas.join("; ")
        ),
    ));
    rows.push((
        "Kept for",
        format!(
            "at most {}, then erased automatically (longer only for a reported incident under an evidence lock)",
            hours(retention)
        ),
    ));
    rows.push(("Data protection officer", dpo_line(s)));
    rows.push((
        "Your rights",
        if bases
            .iter()
            .any(|b| matches!(b, LegalBasis::LegitimateInterests | LegalBasis::PublicTask))
        {
            "You may ask for access to the video of you, its erasure or restriction, and object to it; you may also complain to the supervisory authority.".into()
        } else {
            "You may ask for access to the video of you, its erasure or restriction; you may also complain to the supervisory authority.".into()
        },
    ));
    rows.push(("Full information", or_not_set(&o.information_at)));
    sec.fields(rows);
    Some(sec)
}
