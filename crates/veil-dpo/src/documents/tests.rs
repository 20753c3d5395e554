use super::*;
use crate::fixture;

fn all_renderings(s: &Snapshot) -> Vec<(Kind, Format, String)> {
    let mut out = Vec::new();
    for kind in Kind::ALL {
        let d = generate(kind, s, fixture::stamp());
        for format in Format::ALL {
            out.push((kind, format, d.render(format)));
        }
    }
    out
}

#[test]
fn snapshots_of_every_document_in_every_format() {
    let s = fixture::snapshot();
    for (kind, format, text) in all_renderings(&s) {
        insta::assert_snapshot!(format!("{}_{}", kind.id(), format.id()), text);
    }
}

#[test]
fn ids_parse_back_and_content_types() {
    for k in Kind::ALL {
        assert_eq!(Kind::parse(k.id()), Some(k));
    }
    for f in Format::ALL {
        assert_eq!(Format::parse(f.id()), Some(f));
    }
    assert_eq!(Kind::parse("minutes"), None);
    assert_eq!(Format::parse("pdf"), None);
    assert_eq!(Format::Html.content_type(), "text/html; charset=utf-8");
    assert_eq!(
        Format::Markdown.content_type(),
        "text/markdown; charset=utf-8"
    );
    assert_eq!(Format::Json.content_type(), "application/json");
}

#[test]
fn every_rendering_states_version_times_and_controller() {
    let s = fixture::snapshot();
    for (kind, format, text) in all_renderings(&s) {
        let at = format!("{kind:?} {format:?}");
        assert!(text.contains("Mercearia Lobo, Lda."), "{at}");
        match format {
            Format::Json => {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(v["version"], 7, "{at}");
                assert_eq!(v["since"], "2026-10-31T10:00:00.000Z", "{at}");
                assert_eq!(v["generated"], "2026-11-02T10:00:00.000Z", "{at}");
                assert_eq!(v["kind"], kind.id(), "{at}");
            }
            _ => assert!(
                text.contains(
                    "Configuration version 7, in force since 2026-10-31 10:00 UTC; \
                     generated 2026-11-02 10:00 UTC."
                ),
                "{at}"
            ),
        }
    }
    let mut later = fixture::stamp();
    later.version = 8;
    let d = generate(Kind::Ropa, &s, later);
    assert!(d
        .render(Format::Markdown)
        .contains("Configuration version 8,"));
}

/// A document has no account in it because the snapshot has none (the
/// server's test of the documents checks its accounts' logins are absent):
/// roles appear with the number of accounts holding them.
#[test]
fn roles_appear_with_their_holder_counts() {
    let s = fixture::snapshot();
    let ropa = generate(Kind::Ropa, &s, fixture::stamp()).render(Format::Markdown);
    assert!(ropa.contains("| operator | Watches live video and recent recordings. | 3 |"));
}

#[test]
fn html_escapes_every_text_and_is_self_contained() {
    let mut s = fixture::snapshot();
    s.cameras[0].name = "<script>alert(1)</script> & \"Door\"".into();
    s.organisation.controller.name = "A<b>".into();
    for kind in Kind::ALL {
        let html = generate(kind, &s, fixture::stamp()).render(Format::Html);
        assert!(!html.contains("<script"), "{kind:?}");
        assert!(!html.contains("A<b>"), "{kind:?}");
        assert!(html.contains("A&lt;b&gt;"), "{kind:?}");
        if kind != Kind::Notice {
            assert!(
                html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Door&quot;"),
                "{kind:?}"
            );
        }
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        assert!(html.contains("@page { size: A4; margin: 18mm }"));
        assert!(!html.contains("src="), "{kind:?}");
        // The one link is the empty icon, so a browser asks for no other.
        assert_eq!(html.matches("href=").count(), 1, "{kind:?}");
        assert!(
            html.contains("<link rel=\"icon\" href=\"data:,\">"),
            "{kind:?}"
        );
        assert!(!html.contains("url("), "{kind:?}");
    }
    assert_eq!(
        render::escape("<a href='x'>&</a>"),
        "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
    );
}

#[test]
fn markdown_escapes_pipes_in_cells() {
    let mut s = fixture::snapshot();
    s.cameras[1].name = "Till | back".into();
    let md = generate(Kind::Policy, &s, fixture::stamp()).render(Format::Markdown);
    assert!(md.contains("| Till \\| back | Shop |"), "{md}");
    assert!(!md.contains("| Till | back"));
}

#[test]
fn notice_has_one_page_per_site_with_cameras() {
    let mut s = fixture::snapshot();
    let d = generate(Kind::Notice, &s, fixture::stamp());
    let sites: Vec<&str> = d.sections[1..].iter().map(|x| x.heading.as_str()).collect();
    assert_eq!(
        sites,
        [
            "Video surveillance: Shop (Rua Augusta 10, Lisboa)",
            "Video surveillance: Depot (Rua do Armazém 2, Loures)"
        ]
    );
    assert!(!d.sections[1].page_break);
    assert!(d.sections[2].page_break);
    let html = d.render(Format::Html);
    assert_eq!(html.matches("<section class=\"page-break\">").count(), 1);
    // The depot's notice states its own camera's purpose, not the shop's.
    let depot = notice_for_site(&s, fixture::stamp(), "depot").unwrap();
    let md = depot.render(Format::Markdown);
    assert!(md.contains("Protection of the goods yard against intrusion at night"));
    assert!(!md.contains("robbery"));
    assert!(md.contains("https://mercearia-lobo.example/cctv"));
    assert!(md.contains("dpo@mercearia-lobo.example"));
    assert!(md.contains("at most 72 hours (3 days)"));
    assert_eq!(depot.sections.len(), 2);
    // A site without cameras gets no page; an unknown site no notice.
    s.organisation.sites.push(crate::model::Site {
        id: "office".into(),
        name: "Office".into(),
        address: String::new(),
    });
    let d = generate(Kind::Notice, &s, fixture::stamp());
    assert_eq!(d.sections.len(), 3);
    assert!(notice_for_site(&s, fixture::stamp(), "office").is_none());
    assert!(notice_for_site(&s, fixture::stamp(), "nowhere").is_none());
}

fn single_private_camera() -> Snapshot {
    let mut s = fixture::snapshot();
    s.cameras.truncate(1);
    let c = &mut s.cameras[0];
    c.area = "private".into();
    c.masks = 0;
    c.purpose.as_mut().unwrap().detail = Detail::Detection;
    s
}

fn answer(sc: &Screening, id: &str) -> bool {
    sc.questions.iter().find(|a| a.id == id).unwrap().answer
}

#[test]
fn screening_not_required_for_a_single_private_camera_with_detection() {
    let s = single_private_camera();
    let sc = dpia_screening(&s);
    assert!(!sc.required, "{:?}", sc.reasons);
    assert!(sc.questions.iter().filter(|a| a.known).all(|a| !a.answer));
    assert!(sc.reasons[0].contains("not required"));
    let unknown: Vec<&str> = sc
        .questions
        .iter()
        .filter(|a| !a.known)
        .map(|a| a.id)
        .collect();
    assert!(unknown.contains(&"vulnerable_persons"));
    assert!(sc
        .questions
        .iter()
        .filter(|a| !a.known)
        .all(|a| a.evidence.starts_with("Not known from configuration")));
    let md = generate(Kind::Dpia, &s, fixture::stamp()).render(Format::Markdown);
    assert!(md.contains("A DPIA is not required by the screening's rules"));
}

#[test]
fn screening_required_when_a_public_facing_camera_records_continuously() {
    let mut s = single_private_camera();
    s.cameras[0].area = "public_facing".into();
    let sc = dpia_screening(&s);
    assert!(sc.required);
    assert!(answer(&sc, "public_areas") && answer(&sc, "systematic_monitoring"));
    assert!(sc.reasons[0].contains("Art. 35(3)(c)"), "{:?}", sc.reasons);
    // On motion it is neither systematic nor decisive; one trigger alone
    // (public area) is not enough.
    s.cameras[0].recording_mode = "motion".into();
    let sc = dpia_screening(&s);
    assert!(!answer(&sc, "systematic_monitoring"));
    assert!(!sc.required, "{:?}", sc.reasons);
}

#[test]
fn screening_required_for_identification_on_a_workplace_camera_audio_or_analytics() {
    let mut s = single_private_camera();
    s.cameras[0].area = "workplace".into();
    s.cameras[0].recording_mode = "motion".into();
    s.cameras[0].purpose.as_mut().unwrap().detail = Detail::Identification;
    let sc = dpia_screening(&s);
    assert!(sc.required);
    assert!(sc
        .reasons
        .iter()
        .any(|r| r.contains("identification level")));

    let mut s = single_private_camera();
    s.cameras[0].audio = Some("Record threats at the counter".into());
    let sc = dpia_screening(&s);
    assert!(sc.required && answer(&sc, "audio"));

    let mut s = single_private_camera();
    s.cameras[0].analytics.push(crate::model::Analytics {
        name: "Loitering".into(),
        criteria: "a person in the yard for 5 minutes at night".into(),
    });
    let sc = dpia_screening(&s);
    assert!(sc.required && answer(&sc, "analytics"));
}

#[test]
fn screening_required_when_two_triggers_hold_and_counts_cameras() {
    let mut s = single_private_camera();
    s.cameras[0].recording_mode = "motion".into();
    s.cameras[0].area = "residential_adjacent".into();
    s.cameras[0].retention_hours = LONG_RETENTION_HOURS + 1;
    let sc = dpia_screening(&s);
    assert!(answer(&sc, "residential") && answer(&sc, "long_retention"));
    assert!(sc.required);
    assert!(sc.reasons[0].contains("WP248"), "{:?}", sc.reasons);

    let mut s = single_private_camera();
    let c = s.cameras[0].clone();
    for i in 0..LARGE_SYSTEM_CAMERAS {
        let mut d = c.clone();
        d.id = 100 + i as i64;
        s.cameras.push(d);
    }
    assert!(answer(&dpia_screening(&s), "camera_count"));
    s.cameras.pop();
    assert!(!answer(&dpia_screening(&s), "camera_count"));
}

#[test]
fn fixture_needs_a_dpia_and_the_draft_leaves_fields_for_the_dpo() {
    let s = fixture::snapshot();
    let sc = dpia_screening(&s);
    assert!(sc.required);
    let d = generate(Kind::Dpia, &s, fixture::stamp());
    let md = d.render(Format::Markdown);
    assert!(md.contains("A DPIA is required, for these reasons:"));
    assert!(md.matches("> **To be completed by the DPO:**").count() >= 5);
    assert!(md.contains("| Does a camera view a publicly accessible or public-facing area? | Yes | Public-facing cameras: \"Entrance\". |"));
}

#[test]
fn ropa_states_transfers_outside_the_eea_with_their_basis() {
    let mut s = fixture::snapshot();
    let md = generate(Kind::Ropa, &s, fixture::stamp()).render(Format::Markdown);
    assert!(md.contains(
        "None. Every storage location and processor declared is in the European Economic Area"
    ));
    s.organisation.storage.backups[0].country = "US".into();
    s.organisation.storage.transfer_basis = "Standard contractual clauses (2021/914)".into();
    s.processors[0].country = "CH".into();
    let md = generate(Kind::Ropa, &s, fixture::stamp()).render(Format::Markdown);
    assert!(md.contains("| backup \"Nightly encrypted copy to the depot's server\" | US | Standard contractual clauses (2021/914) |"), "{md}");
    assert!(md.contains("| processor \"Segurança Alfa, S.A.\" | CH | no transfer basis declared |"));
    assert!(answer(&dpia_screening(&s), "third_countries"));
}

#[test]
fn ropa_derives_subjects_and_data_from_the_cameras() {
    let mut s = fixture::snapshot();
    let md = generate(Kind::Ropa, &s, fixture::stamp()).render(Format::Markdown);
    for want in [
        "- Employees (workplace: \"Till\")",
        "- Passers-by in the public-facing areas (public-facing area: \"Entrance\")",
        "- Neighbours (next to homes (residential-adjacent): \"Yard\")",
        "- Audio: not recorded by any camera",
        "| Yard | 72 hours (3 days) | 24 hours |",
    ] {
        assert!(md.contains(want), "{want}\n{md}");
    }
    assert!(!md.contains("Customers and visitors"));
    s.cameras[0].audio = Some("Threats at the door".into());
    s.cameras[0].purpose = None;
    let md = generate(Kind::Ropa, &s, fixture::stamp()).render(Format::Markdown);
    assert!(md.contains("- Audio recorded by \"Entrance\" (Threats at the door)"));
    assert!(md.contains(
        "Cameras without a documented purpose, which therefore do not record: \"Entrance\"."
    ));
}

#[test]
fn output_is_deterministic() {
    let s = fixture::snapshot();
    assert_eq!(all_renderings(&s), all_renderings(&s.clone()));
}
