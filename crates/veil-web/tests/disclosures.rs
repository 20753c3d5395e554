//! The register of transfers and disclosures through the API: showings and
//! tellings entered with exactly one access-record entry each, bad requests
//! refused naming the field (and entering nothing), playback needed on every
//! camera, the filters, the CSV (parsed back, formulas neutralised), a
//! copy's confirmed destruction (once), reading recorded with its filter,
//! and the page.

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_base::Time90k;
use veil_store::db::{DisclosureKind, NewDisclosure, Requester};

use common::*;

const REASON: &str = "Theft from a parked car, police case 2026-117";
const GRANT: &str = "Criminal investigation by the competent authority";

fn shown(s: &Server) -> Value {
    json!({
        "kind": "shown",
        "cameras": [s.camera.0],
        "start": t(0.0),
        "end": t(20.0),
        "requester": {"name": "Ana Silva", "title": "Inspector", "organisation": "PSP Porto",
                      "country": "PT"},
        "reason": REASON,
        "grant_reason": GRANT,
        "content": "The door camera, a person leaving with a bag",
    })
}

async fn post(
    c: &reqwest::Client,
    s: &Server,
    csrf: &str,
    path: &str,
    body: Value,
) -> reqwest::Response {
    post_json(c, csrf, format!("{}{path}", s.base), body).await
}

fn count(s: &Server, action: &str) -> usize {
    audit_entries(s)
        .iter()
        .filter(|e| e.action == action)
        .count()
}

/// A copy entered the way an export enters it.
fn copy(s: &Server, organisation: &str) -> i64 {
    s.store
        .db
        .insert_disclosure(&NewDisclosure {
            kind: DisclosureKind::Copy,
            created: Time90k(veil_base::Clock::now(&s.clock).0),
            recorded_by: None,
            start: Time90k::parse_rfc3339(&t(4.0)).unwrap(),
            end: Time90k::parse_rfc3339(&t(8.0)).unwrap(),
            cameras: vec![s.camera],
            intervals: vec![],
            requester: Requester {
                name: "Bob Jones".into(),
                title: "Claims handler".into(),
                organisation: organisation.into(),
                country: "DE".into(),
            },
            authorised_by: "u-test".into(),
            content: "=HYPERLINK(\"http://x\")".into(),
            request_reason: REASON.into(),
            grant_reason: GRANT.into(),
            legal_basis: None,
            safeguards: None,
            export_id: None,
            package_id: Some("pkg-1".into()),
            package_sha256: Some("ab".repeat(32)),
            expires: None,
            audit_seq: 1,
        })
        .unwrap()
}

/// Parses RFC 4180 CSV (quoted cells, doubled quotes, CRLF).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(
        cell.is_empty() && row.is_empty(),
        "no CRLF after the last row"
    );
    rows
}

#[tokio::test]
async fn showings_and_tellings_are_entered_once_and_bad_ones_refused() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let good = shown(&s);
    let with = |path: &[&str], v: Value| {
        let mut b = good.clone();
        let mut at = &mut b;
        for p in &path[..path.len() - 1] {
            at = &mut at[*p];
        }
        at[path[path.len() - 1]] = v;
        b
    };
    let without = |k: &str| {
        let mut b = good.clone();
        b.as_object_mut().unwrap().remove(k);
        b
    };
    let us = json!({"name": "John Doe", "title": "Agent", "organisation": "FBI", "country": "US"});
    for (body, field) in [
        (with(&["kind"], json!("copy")), "kind"),
        (with(&["kind"], json!("subject_access")), "kind"),
        (with(&["kind"], json!("gossip")), "kind"),
        (
            with(&["requester", "country"], json!("XX")),
            "requester.country",
        ),
        (
            with(&["requester", "country"], json!("Portugal")),
            "requester.country",
        ),
        (with(&["requester", "name"], json!(" ")), "requester.name"),
        (
            with(&["requester", "organisation"], json!("x".repeat(201))),
            "requester.organisation",
        ),
        (with(&["requester"], us.clone()), "legal_basis"),
        (
            {
                let mut b = with(&["requester"], us.clone());
                b["legal_basis"] = json!("Art. 49 derogation");
                b
            },
            "safeguards",
        ),
        (with(&["reason"], json!("short")), "reason"),
        (without("grant_reason"), "grant_reason"),
        (with(&["grant_reason"], json!("ok")), "grant_reason"),
        (without("content"), "content"),
        (with(&["cameras"], json!([])), "cameras"),
        (with(&["cameras"], json!([999])), "cameras"),
        (
            with(&["cameras"], json!([s.camera.0, s.camera.0])),
            "cameras",
        ),
        (with(&["start"], json!("yesterday")), "start"),
        (with(&["end"], json!(t(0.0))), "end"),
    ] {
        let r = post(&admin, &s, &csrf, "/api/v1/disclosures", body.clone()).await;
        let (status, _, message) = refusal(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(message.contains(field), "{field}: {message}");
    }
    assert_eq!(
        count(&s, "disclosure.record"),
        0,
        "nothing recorded for refusals"
    );
    assert!(s
        .store
        .db
        .disclosures(&veil_store::db::DisclosureFilter {
            limit: 10,
            ..Default::default()
        })
        .unwrap()
        .is_empty());

    // A showing, and a telling to a recipient outside the EEA with its
    // legal basis and safeguards.
    let r = post(&admin, &s, &csrf, "/api/v1/disclosures", good.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let a = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    assert_eq!(count(&s, "disclosure.record"), 1);
    let mut verbal = with(&["requester"], us);
    verbal["kind"] = json!("verbal");
    verbal["legal_basis"] = json!("Art. 49 derogation");
    verbal["safeguards"] = json!("Only the description was told; no copy left");
    let r = post(&admin, &s, &csrf, "/api/v1/disclosures", verbal).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let b = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let entries: Vec<_> = audit_entries(&s)
        .into_iter()
        .filter(|e| e.action == "disclosure.record")
        .collect();
    assert_eq!(entries.len(), 2, "exactly one entry each");
    assert_eq!(entries[0].actor, "u-test");
    assert!(
        entries[0].detail.contains("kind=shown"),
        "{}",
        entries[0].detail
    );
    assert!(
        entries[1].detail.contains("outside_eea=true"),
        "{}",
        entries[1].detail
    );
    assert!(
        !entries
            .iter()
            .any(|e| e.detail.contains("Ana Silva") || e.detail.contains("John Doe")),
        "no requester's name in the record's details"
    );

    let row = s.store.db.disclosure(a).unwrap().unwrap();
    assert_eq!(row.entry.kind, DisclosureKind::Shown);
    assert_eq!(row.entry.authorised_by, "u-test");
    assert_eq!(row.entry.audit_seq, entries[0].seq);
    assert_eq!(row.entry.cameras, vec![s.camera]);
    assert_eq!(row.entry.requester.country, "PT");
    assert_eq!(row.entry.grant_reason, GRANT);
    let row = s.store.db.disclosure(b).unwrap().unwrap();
    assert_eq!(row.entry.kind, DisclosureKind::Verbal);
    assert_eq!(row.entry.legal_basis.as_deref(), Some("Art. 49 derogation"));
    assert_eq!(row.entry.audit_seq, entries[1].seq);
}

#[tokio::test]
async fn playback_is_needed_on_every_camera_and_reading_on_the_register() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let other = add_camera(&s, "Yard");
    create_role(
        &s,
        &admin,
        &csrf,
        "door-viewer",
        &[("playback", Some(&[s.camera.0]))],
    )
    .await;
    let (viewer, viewer_csrf) = new_user(&s, &admin, &csrf, "dora.viewer", &["door-viewer"]).await;
    let mut body = shown(&s);
    body["cameras"] = json!([s.camera.0, other.0]);
    let (status, code, _) =
        refusal(post(&viewer, &s, &viewer_csrf, "/api/v1/disclosures", body).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    // An unknown camera is refused as one not allowed, not named.
    let mut body = shown(&s);
    body["cameras"] = json!([4242]);
    let (status, _, _) =
        refusal(post(&viewer, &s, &viewer_csrf, "/api/v1/disclosures", body).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = post(&viewer, &s, &viewer_csrf, "/api/v1/disclosures", shown(&s)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(count(&s, "disclosure.record"), 1);
    // The auditor reads but cannot enter (no playback); the viewer and the
    // administrator cannot read.
    let (auditor, auditor_csrf) = login_as(&s, "ines.audit").await;
    let (status, _, _) = refusal(
        post(
            &auditor,
            &s,
            &auditor_csrf,
            "/api/v1/disclosures",
            shown(&s),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for c in [&viewer, &admin] {
        assert_eq!(
            status_of(c, &s, "/api/v1/disclosures").await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status_of(c, &s, "/api/v1/disclosures.csv").await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status_of(c, &s, "/disclosures").await,
            StatusCode::FORBIDDEN
        );
    }
    let list: Value = get_json(&auditor, &s, "/api/v1/disclosures").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["can_confirm_destruction"], false);
}

#[tokio::test]
async fn filters_csv_and_reading_recorded() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let yard = add_camera(&s, "Yard");
    let a = post(&admin, &s, &csrf, "/api/v1/disclosures", shown(&s))
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let mut body = shown(&s);
    body["kind"] = json!("verbal");
    body["cameras"] = json!([yard.0]);
    body["start"] = json!(t(30.0));
    body["end"] = json!(t(40.0));
    body["requester"]["organisation"] = json!("Allianz Versicherung");
    body["requester"]["country"] = json!("de");
    body["content"] = json!("-1+1 cars seen");
    let b = post(&admin, &s, &csrf, "/api/v1/disclosures", body)
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let c = copy(&s, "Insurer @Home");

    let (auditor, _) = login_as(&s, "ines.audit").await;
    let ids = |v: Value| -> Vec<i64> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect()
    };
    let reads_before = count(&s, "disclosure.read");
    let all: Value = get_json(&auditor, &s, "/api/v1/disclosures").await;
    assert_eq!(ids(all.clone()), vec![c, b, a], "newest first");
    let first = &all["items"][2];
    assert_eq!(first["kind"], "shown");
    assert_eq!(first["status"], "created");
    assert_eq!(first["requester"]["name"], "Ana Silva");
    assert_eq!(first["reason"], REASON);
    assert_eq!(first["grant_reason"], GRANT);
    assert_eq!(first["authorised_by"], "u-test");
    assert_eq!(first["recorded_by"], "u-test");
    assert_eq!(first["outside_eea"], false);
    assert_eq!(first["cameras"], json!([s.camera.0]));
    assert_eq!(all["items"][1]["requester"]["country"], "DE");
    assert_eq!(all["items"][0]["package_id"], "pkg-1");
    for (query, want) in [
        (format!("camera={}", yard.0), vec![b]),
        (format!("camera={}", s.camera.0), vec![c, a]),
        ("kind=verbal".to_owned(), vec![b]),
        ("kind=copy".to_owned(), vec![c]),
        ("country=pt".to_owned(), vec![a]),
        ("organisation=VERSICHERUNG".to_owned(), vec![b]),
        (format!("from={}", t(25.0)), vec![b]),
        (format!("to={}", t(5.0)), vec![c, a]),
        (format!("from={}&to={}", t(8.0), t(30.0)), vec![a]),
        ("limit=1".to_owned(), vec![c]),
    ] {
        let v: Value = get_json(&auditor, &s, &format!("/api/v1/disclosures?{query}")).await;
        assert_eq!(ids(v), want, "{query}");
    }
    for (query, field) in [
        ("kind=copies", "kind"),
        ("country=ZZ", "country"),
        ("camera=door", "camera"),
        ("from=soon", "from"),
        ("limit=0", "limit"),
        ("sort=name", "sort"),
        (&*format!("from={}&to={}", t(8.0), t(4.0)), "to"),
    ] {
        let (status, _, message) =
            refusal(get(&auditor, &s, &format!("/api/v1/disclosures?{query}")).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(message.contains(field), "{field}: {message}");
    }
    let reads: Vec<_> = audit_entries(&s)
        .into_iter()
        .filter(|e| e.action == "disclosure.read")
        .collect();
    assert_eq!(
        reads.len() - reads_before,
        11,
        "each answered read recorded once"
    );
    assert!(
        reads.iter().any(|e| e.detail.contains("kind=verbal")),
        "the filter is recorded"
    );
    assert!(
        !reads.iter().any(|e| e.detail.contains("Ana Silva")),
        "not the results"
    );

    // The CSV: a header row, every entry, formula-like cells neutralised.
    let r = get(&auditor, &s, "/api/v1/disclosures.csv").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let rows = parse_csv(&r.text().await.unwrap());
    assert_eq!(rows.len(), 4);
    let col = |name: &str| {
        rows[0]
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(rows[0][0], "id");
    assert!(rows.iter().all(|r| r.len() == rows[0].len()));
    assert_eq!(rows[1][col("id")], c.to_string());
    assert_eq!(rows[1][col("content")], "'=HYPERLINK(\"http://x\")");
    assert_eq!(
        rows[1][col("requester_organisation")],
        "Insurer @Home",
        "an @ inside is kept"
    );
    assert_eq!(rows[1][col("package_sha256")], "ab".repeat(32));
    assert_eq!(rows[2][col("content")], "'-1+1 cars seen");
    assert_eq!(rows[2][col("kind")], "verbal");
    assert_eq!(rows[3][col("requester_name")], "Ana Silva");
    assert_eq!(rows[3][col("grant_reason")], GRANT);
    let r = get(&auditor, &s, "/api/v1/disclosures.csv?kind=shown").await;
    assert_eq!(parse_csv(&r.text().await.unwrap()).len(), 2);
}

#[tokio::test]
async fn a_copys_destruction_is_confirmed_once() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let shown_id = post(&admin, &s, &csrf, "/api/v1/disclosures", shown(&s))
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let c = copy(&s, "Insurer");
    let (dpo, dpo_csrf) = new_user(&s, &admin, &csrf, "fatima.dpo", &["dpo"]).await;
    let path = |id: i64| format!("/api/v1/disclosures/{id}/destruction");
    let note = json!({"note": "Letter of the insurer, 3 December"});

    // Neither the auditor nor the administrator may.
    let (auditor, auditor_csrf) = login_as(&s, "ines.audit").await;
    for (cl, cs) in [(&auditor, &auditor_csrf), (&admin, &csrf)] {
        let (status, _, _) = refusal(post(cl, &s, cs, &path(c), note.clone()).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let list: Value = get_json(&dpo, &s, "/api/v1/disclosures").await;
    assert_eq!(list["items"][0]["id"], c);
    assert_eq!(list["items"][0]["can_confirm_destruction"], true);
    assert_eq!(
        list["items"][1]["can_confirm_destruction"], false,
        "a showing"
    );

    let (status, _, message) =
        refusal(post(&dpo, &s, &dpo_csrf, &path(c), json!({"note": "  "})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("note"), "{message}");
    let (status, _, _) =
        refusal(post(&dpo, &s, &dpo_csrf, &path(shown_id), note.clone()).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "a showing has no copy");
    let (status, _, _) = refusal(post(&dpo, &s, &dpo_csrf, &path(9999), note.clone()).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(count(&s, "disclosure.destruction"), 0);

    let r = post(&dpo, &s, &dpo_csrf, &path(c), note.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "destruction_confirmed");
    assert_eq!(v["destruction_note"], "Letter of the insurer, 3 December");
    assert!(v["destruction_confirmed"].is_string());
    assert!(v["destruction_confirmed_by"]
        .as_str()
        .unwrap()
        .starts_with("u-"));
    let e: Vec<_> = audit_entries(&s)
        .into_iter()
        .filter(|e| e.action == "disclosure.destruction")
        .collect();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].resource, format!("disclosure:{c}"));

    let (status, code, _) = refusal(post(&dpo, &s, &dpo_csrf, &path(c), note).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::CONFLICT, "conflict"));
    assert_eq!(count(&s, "disclosure.destruction"), 1);
    let row = s.store.db.disclosure(c).unwrap().unwrap();
    assert_eq!(row.status(), "destruction_confirmed");
}

#[tokio::test]
async fn the_page_shows_the_register() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let (dpo, _) = new_user(&s, &admin, &csrf, "fatima.dpo", &["dpo"]).await;
    let r = get(&dpo, &s, "/disclosures").await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"id="disclosure-table""#), "{html}");
    assert!(html.contains(r#"class="table-scroll""#));
    assert!(html.contains("/api/v1/disclosures.csv"));
    assert!(html.contains("disclosures.js"));
    assert!(
        html.contains(r#"href="/disclosures""#),
        "the navigation links it"
    );
    assert!(
        !html.contains(r#"id="disclosure-form""#),
        "the DPO has no playback: no form"
    );
    let (auditor, _) = login_as(&s, "ines.audit").await;
    assert_eq!(
        status_of(&auditor, &s, "/disclosures").await,
        StatusCode::OK
    );
    let r = get(&auditor, &s, "/static/disclosures.js").await;
    assert_eq!(r.status(), StatusCode::OK);
    // The administrator cannot read the register, so the navigation does
    // not offer it.
    let html = get(&admin, &s, "/cameras").await.text().await.unwrap();
    assert!(!html.contains(r#"href="/disclosures""#));
}
