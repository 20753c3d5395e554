//! The register of transfers and disclosures (E4, E5): one row per export
//! (kind `copy`), per subject-access package and per showing or telling of
//! recordings (`shown`, `verbal`), with the requesting party, who authorised
//! it, why, the legal basis and safeguards of a recipient outside the EEA,
//! and a copy's life: downloaded, expired, destruction confirmed by the
//! recipient (`docs/design/export.md`, "Register of transfers and
//! disclosures"). Table `disclosure`, schema 16.
//!
//! Cameras are stored as a comma-separated list of ids (`"1,4"`), so the
//! camera filter is a portable `LIKE` on `',' || cameras || ','`; intervals
//! as a JSON array of `[camera, start_90k, end_90k]`.

use crate::db::sql::{params, OptionalExtension};
use veil_base::{CameraId, Time90k, UserId};

use super::Db;
use crate::Error;

/// How the recordings reached the third party.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DisclosureKind {
    /// A copy was handed over (an export package).
    Copy,
    /// The recordings were shown on screen.
    Shown,
    /// Their content was told verbally.
    Verbal,
    /// A copy was handed to the data subject (right of access).
    SubjectAccess,
}

impl DisclosureKind {
    /// Every kind, in the order the register lists them.
    pub const ALL: [DisclosureKind; 4] = [
        DisclosureKind::Copy,
        DisclosureKind::Shown,
        DisclosureKind::Verbal,
        DisclosureKind::SubjectAccess,
    ];

    /// The stored and API name: `copy`, `shown`, `verbal`,
    /// `subject_access`.
    pub fn as_str(self) -> &'static str {
        match self {
            DisclosureKind::Copy => "copy",
            DisclosureKind::Shown => "shown",
            DisclosureKind::Verbal => "verbal",
            DisclosureKind::SubjectAccess => "subject_access",
        }
    }

    /// The kind named `s`, if any.
    pub fn parse(s: &str) -> Option<DisclosureKind> {
        DisclosureKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the recipient holds a copy (whose destruction they may
    /// confirm).
    pub fn is_copy(self) -> bool {
        matches!(self, DisclosureKind::Copy | DisclosureKind::SubjectAccess)
    }
}

/// The requesting party.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requester {
    /// Their name.
    pub name: String,
    /// Their title or function.
    pub title: String,
    /// Their organisation.
    pub organisation: String,
    /// The organisation's country: ISO 3166-1 alpha-2, upper case.
    pub country: String,
}

/// An entry to add to the register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDisclosure {
    /// Copy, shown, verbal or subject access.
    pub kind: DisclosureKind,
    /// When it was recorded in the register.
    pub created: Time90k,
    /// Who recorded it (`None` for the system or the command line).
    pub recorded_by: Option<UserId>,
    /// Start of the recordings' time span.
    pub start: Time90k,
    /// End of the recordings' time span (exclusive).
    pub end: Time90k,
    /// The cameras whose recordings were disclosed.
    pub cameras: Vec<CameraId>,
    /// The intervals per camera (empty when the whole span of every camera).
    pub intervals: Vec<(CameraId, Time90k, Time90k)>,
    /// The requesting party.
    pub requester: Requester,
    /// Who authorised it: pseudonyms, comma-separated.
    pub authorised_by: String,
    /// A short description of the content.
    pub content: String,
    /// Why it was requested.
    pub request_reason: String,
    /// Why it was granted.
    pub grant_reason: String,
    /// The legal basis of a transfer outside the EEA.
    pub legal_basis: Option<String>,
    /// The safeguards of a transfer outside the EEA.
    pub safeguards: Option<String>,
    /// Copies: the export (`export_package.id`).
    pub export_id: Option<i64>,
    /// Copies: the package id printed in its manifest.
    pub package_id: Option<String>,
    /// Copies: the SHA-256 of the package (hex).
    pub package_sha256: Option<String>,
    /// Copies: when the stored copy is destroyed.
    pub expires: Option<Time90k>,
    /// The access-record entry that recorded it.
    pub audit_seq: i64,
}

/// A register entry as stored: the entry as it was inserted, and what
/// happened to a copy since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisclosureRow {
    /// Its id.
    pub id: i64,
    /// The entry.
    pub entry: NewDisclosure,
    /// Copies: the first download.
    pub downloaded: Option<Time90k>,
    /// Copies: when the stored copy was destroyed at its expiry.
    pub expired: Option<Time90k>,
    /// Copies: when a user recorded that the recipient confirmed the
    /// destruction of their copy.
    pub destruction_confirmed: Option<Time90k>,
    /// Who recorded that confirmation.
    pub destruction_confirmed_by: Option<UserId>,
    /// The confirmation's note.
    pub destruction_note: Option<String>,
}

impl DisclosureRow {
    /// The furthest stage of the entry's life: `destruction_confirmed`,
    /// else `expired`, else `downloaded`, else `created` (showings and
    /// tellings stay `created`).
    pub fn status(&self) -> &'static str {
        if self.destruction_confirmed.is_some() {
            "destruction_confirmed"
        } else if self.expired.is_some() {
            "expired"
        } else if self.downloaded.is_some() {
            "downloaded"
        } else {
            "created"
        }
    }
}

/// Which entries to list.
#[derive(Clone, Debug, Default)]
pub struct DisclosureFilter {
    /// Entries whose recording span ends after this.
    pub from: Option<Time90k>,
    /// Entries whose recording span starts before this.
    pub to: Option<Time90k>,
    /// Entries covering this camera.
    pub camera: Option<CameraId>,
    /// Entries of this kind.
    pub kind: Option<DisclosureKind>,
    /// Entries whose requester's country is this (upper case).
    pub country: Option<String>,
    /// Entries whose requester's organisation contains this (any case).
    pub organisation: Option<String>,
    /// At most this many (newest first).
    pub limit: usize,
}

const COLUMNS: &str = "id, kind, created_90k, recorded_by, start_90k, end_90k, cameras,
     intervals, requester_name, requester_title, requester_organisation, requester_country,
     authorised_by, content, request_reason, grant_reason, legal_basis, safeguards,
     export_id, package_id, package_sha256, expires_90k, downloaded_90k, expired_90k,
     destruction_confirmed_90k, destruction_confirmed_by, destruction_note, audit_seq";

fn conversion(msg: String) -> crate::db::sql::Error {
    crate::db::sql::Error::FromSqlConversionFailure(
        0,
        crate::db::sql::types::Type::Text,
        msg.into(),
    )
}

fn encode_cameras(cams: &[CameraId]) -> String {
    cams.iter()
        .map(|c| c.0.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn decode_cameras(s: &str) -> crate::db::sql::Result<Vec<CameraId>> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(|x| {
            x.parse()
                .map(CameraId)
                .map_err(|_| conversion(format!("bad camera list {s:?}")))
        })
        .collect()
}

fn encode_intervals(iv: &[(CameraId, Time90k, Time90k)]) -> String {
    let v: Vec<[i64; 3]> = iv.iter().map(|(c, s, e)| [c.0, s.0, e.0]).collect();
    serde_json::to_string(&v).expect("integers serialise")
}

fn decode_intervals(s: &str) -> crate::db::sql::Result<Vec<(CameraId, Time90k, Time90k)>> {
    let v: Vec<[i64; 3]> =
        serde_json::from_str(s).map_err(|e| conversion(format!("bad intervals: {e}")))?;
    Ok(v.into_iter()
        .map(|[c, s, e]| (CameraId(c), Time90k(s), Time90k(e)))
        .collect())
}

fn row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<DisclosureRow> {
    let kind: String = r.get(1)?;
    let t = |i: usize| -> crate::db::sql::Result<Option<Time90k>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(Time90k))
    };
    Ok(DisclosureRow {
        id: r.get(0)?,
        entry: NewDisclosure {
            kind: DisclosureKind::parse(&kind)
                .ok_or_else(|| conversion(format!("unknown disclosure kind {kind:?}")))?,
            created: Time90k(r.get(2)?),
            recorded_by: r.get::<_, Option<i64>>(3)?.map(UserId),
            start: Time90k(r.get(4)?),
            end: Time90k(r.get(5)?),
            cameras: decode_cameras(&r.get::<_, String>(6)?)?,
            intervals: decode_intervals(&r.get::<_, String>(7)?)?,
            requester: Requester {
                name: r.get(8)?,
                title: r.get(9)?,
                organisation: r.get(10)?,
                country: r.get(11)?,
            },
            authorised_by: r.get(12)?,
            content: r.get(13)?,
            request_reason: r.get(14)?,
            grant_reason: r.get(15)?,
            legal_basis: r.get(16)?,
            safeguards: r.get(17)?,
            export_id: r.get(18)?,
            package_id: r.get(19)?,
            package_sha256: r.get(20)?,
            expires: t(21)?,
            audit_seq: r.get(27)?,
        },
        downloaded: t(22)?,
        expired: t(23)?,
        destruction_confirmed: t(24)?,
        destruction_confirmed_by: r.get::<_, Option<i64>>(25)?.map(UserId),
        destruction_note: r.get(26)?,
    })
}

/// `s` with `LIKE`'s wildcards and the escape character escaped (`ESCAPE
/// '\'`).
fn like_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Db {
    /// Adds an entry to the register; its id.
    pub fn insert_disclosure(&self, d: &NewDisclosure) -> Result<i64, Error> {
        if d.cameras.is_empty() {
            return Err(Error::Invalid(
                "a disclosure names at least one camera".into(),
            ));
        }
        self.with(|c| insert_disclosure_in(c, d))
    }

    /// The entries matching `f`, newest first, at most `f.limit`.
    pub fn disclosures(&self, f: &DisclosureFilter) -> Result<Vec<DisclosureRow>, Error> {
        let limit = i64::try_from(f.limit).unwrap_or(i64::MAX);
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM disclosure
                 WHERE (CAST(?1 AS BIGINT) IS NULL OR end_90k > ?1)
                   AND (CAST(?2 AS BIGINT) IS NULL OR start_90k < ?2)
                   AND (CAST(?3 AS TEXT) IS NULL OR ',' || cameras || ',' LIKE '%,' || ?3 || ',%')
                   AND (CAST(?4 AS TEXT) IS NULL OR kind = ?4)
                   AND (CAST(?5 AS TEXT) IS NULL OR requester_country = ?5)
                   AND (CAST(?6 AS TEXT) IS NULL
                        OR LOWER(requester_organisation) LIKE '%' || LOWER(?6) || '%' ESCAPE '\\')
                 ORDER BY created_90k DESC, id DESC
                 LIMIT ?7"
            ))?;
            let rows = st
                .query_map(
                    params![
                        f.from.map(|t| t.0),
                        f.to.map(|t| t.0),
                        f.camera.map(|c| c.0.to_string()),
                        f.kind.map(DisclosureKind::as_str),
                        f.country,
                        f.organisation.as_deref().map(like_escaped),
                        limit,
                    ],
                    row,
                )?
                .collect::<crate::db::sql::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// The entry `id`, if any.
    pub fn disclosure(&self, id: i64) -> Result<Option<DisclosureRow>, Error> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM disclosure WHERE id = ?1"),
                [id],
                row,
            )
            .optional()
        })
    }

    /// The entry of the export `export_id`, if any.
    pub fn disclosure_for_export(&self, export_id: i64) -> Result<Option<DisclosureRow>, Error> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM disclosure WHERE export_id = ?1"),
                [export_id],
                row,
            )
            .optional()
        })
    }

    /// Notes the first download of the export's package (later downloads
    /// change nothing).
    pub fn mark_disclosure_downloaded(&self, export_id: i64, at: Time90k) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE disclosure SET downloaded_90k = ?2
                 WHERE export_id = ?1 AND downloaded_90k IS NULL",
                params![export_id, at.0],
            )
        })?;
        Ok(())
    }

    /// Notes that the export's stored package was destroyed at its expiry
    /// (the first time only).
    pub fn mark_disclosure_expired(&self, export_id: i64, at: Time90k) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE disclosure SET expired_90k = ?2
                 WHERE export_id = ?1 AND expired_90k IS NULL",
                params![export_id, at.0],
            )
        })?;
        Ok(())
    }

    /// Records that the recipient of copy `id` confirmed destroying it.
    /// `NotFound` without such an entry; `Invalid` when it is not a copy or
    /// its destruction is confirmed already (nothing changes).
    pub fn confirm_disclosure_destruction(
        &self,
        id: i64,
        by: UserId,
        note: &str,
        at: Time90k,
    ) -> Result<(), Error> {
        let changed = self.with(|c| {
            c.execute(
                "UPDATE disclosure SET destruction_confirmed_90k = ?2,
                     destruction_confirmed_by = ?3, destruction_note = ?4
                 WHERE id = ?1 AND kind IN ('copy', 'subject_access')
                   AND destruction_confirmed_90k IS NULL",
                params![id, at.0, by.0, note],
            )
        })?;
        if changed == 1 {
            return Ok(());
        }
        match self.disclosure(id)? {
            None => Err(Error::NotFound(format!("disclosure {id}"))),
            Some(d) if !d.entry.kind.is_copy() => Err(Error::Invalid(format!(
                "disclosure {id} is not a copy: nothing to destroy"
            ))),
            Some(_) => Err(Error::Invalid(format!(
                "disclosure {id}: destruction already confirmed"
            ))),
        }
    }
}

/// Inserts `d` on `c` (inside the caller's transaction when it has one):
/// its id. The caller has checked that `d` names a camera.
pub(super) fn insert_disclosure_in(
    c: &crate::db::sql::Connection,
    d: &NewDisclosure,
) -> crate::db::sql::Result<i64> {
    let rowid: i64 = c.query_row(
        "INSERT INTO disclosure (kind, created_90k, recorded_by, start_90k, end_90k,
                 cameras, intervals, requester_name, requester_title,
                 requester_organisation, requester_country, authorised_by, content,
                 request_reason, grant_reason, legal_basis, safeguards, export_id,
                 package_id, package_sha256, expires_90k, audit_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                 ?16, ?17, ?18, ?19, ?20, ?21, ?22)
         RETURNING id",
        params![
            d.kind.as_str(),
            d.created.0,
            d.recorded_by.map(|u| u.0),
            d.start.0,
            d.end.0,
            encode_cameras(&d.cameras),
            encode_intervals(&d.intervals),
            d.requester.name,
            d.requester.title,
            d.requester.organisation,
            d.requester.country,
            d.authorised_by,
            d.content,
            d.request_reason,
            d.grant_reason,
            d.legal_basis,
            d.safeguards,
            d.export_id,
            d.package_id,
            d.package_sha256,
            d.expires.map(|t| t.0),
            d.audit_seq,
        ],
        |r| r.get(0),
    )?;
    Ok(rowid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(kind: DisclosureKind, created: i64, cams: &[i64], org: &str) -> NewDisclosure {
        NewDisclosure {
            kind,
            created: Time90k(created),
            recorded_by: None,
            start: Time90k(created - 100),
            end: Time90k(created - 50),
            cameras: cams.iter().map(|&c| CameraId(c)).collect(),
            intervals: cams
                .iter()
                .map(|&c| (CameraId(c), Time90k(created - 100), Time90k(created - 50)))
                .collect(),
            requester: Requester {
                name: "Ana".into(),
                title: "Inspector".into(),
                organisation: org.into(),
                country: "PT".into(),
            },
            authorised_by: "u-1".into(),
            content: "the car park".into(),
            request_reason: "a theft reported".into(),
            grant_reason: "criminal investigation".into(),
            legal_basis: None,
            safeguards: None,
            export_id: None,
            package_id: None,
            package_sha256: None,
            expires: None,
            audit_seq: 1,
        }
    }

    fn db_with_export(id: i64) -> Db {
        let db = Db::open_for_tests().unwrap();
        db.with(|c| {
            c.execute(
                "INSERT INTO export_package (id, package_id, created_90k, request, rendition,
                     encryption, state, expires_90k, audit_seq)
                 VALUES (?1, 'p', 0, '{}', 'protected', 'passphrase', 'done', 10, 1)",
                [id],
            )
        })
        .unwrap();
        db
    }

    #[test]
    fn status_follows_a_copys_life() {
        let db = db_with_export(7);
        let mut d = new(DisclosureKind::Copy, 1000, &[1, 2], "PSP");
        d.export_id = Some(7);
        d.package_id = Some("pkg".into());
        d.package_sha256 = Some("ab".repeat(32));
        d.expires = Some(Time90k(5000));
        let id = db.insert_disclosure(&d).unwrap();
        let got = db.disclosure(id).unwrap().unwrap();
        assert_eq!(got.status(), "created");
        assert_eq!(got.entry.cameras, vec![CameraId(1), CameraId(2)]);
        assert_eq!(got.entry.intervals, d.intervals);
        assert_eq!(got.entry.requester, d.requester);
        assert_eq!(got.entry.expires, Some(Time90k(5000)));

        db.mark_disclosure_downloaded(7, Time90k(2000)).unwrap();
        db.mark_disclosure_downloaded(7, Time90k(2500)).unwrap();
        let got = db.disclosure_for_export(7).unwrap().unwrap();
        assert_eq!(got.id, id);
        assert_eq!(got.status(), "downloaded");
        assert_eq!(got.downloaded, Some(Time90k(2000)), "first download kept");

        db.mark_disclosure_expired(7, Time90k(5000)).unwrap();
        db.mark_disclosure_expired(7, Time90k(6000)).unwrap();
        let got = db.disclosure(id).unwrap().unwrap();
        assert_eq!(got.status(), "expired");
        assert_eq!(got.expired, Some(Time90k(5000)));

        let user = db
            .insert_user("u-3", "dpo", "hash", "", Time90k(0))
            .unwrap();
        db.confirm_disclosure_destruction(id, user, "letter received", Time90k(7000))
            .unwrap();
        let got = db.disclosure(id).unwrap().unwrap();
        assert_eq!(got.status(), "destruction_confirmed");
        assert_eq!(got.destruction_confirmed, Some(Time90k(7000)));
        assert_eq!(got.destruction_confirmed_by, Some(user));
        assert_eq!(got.destruction_note.as_deref(), Some("letter received"));
        let again = db.confirm_disclosure_destruction(id, user, "x", Time90k(8000));
        assert!(matches!(again, Err(Error::Invalid(_))), "{again:?}");
        assert_eq!(
            db.disclosure(id).unwrap().unwrap().destruction_confirmed,
            Some(Time90k(7000)),
            "a second confirmation changes nothing"
        );
        assert!(db.disclosure_for_export(8).unwrap().is_none());
    }

    #[test]
    fn showings_cannot_be_confirmed_destroyed() {
        let db = Db::open_for_tests().unwrap();
        let id = db
            .insert_disclosure(&new(DisclosureKind::Shown, 1000, &[1], "PSP"))
            .unwrap();
        assert_eq!(db.disclosure(id).unwrap().unwrap().status(), "created");
        let r = db.confirm_disclosure_destruction(id, UserId(1), "n", Time90k(2000));
        assert!(matches!(r, Err(Error::Invalid(_))), "{r:?}");
        let r = db.confirm_disclosure_destruction(id + 1, UserId(1), "n", Time90k(2000));
        assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");
        assert_eq!(db.disclosure(id).unwrap().unwrap().status(), "created");
    }

    #[test]
    fn filters() {
        let db = Db::open_for_tests().unwrap();
        let a = db
            .insert_disclosure(&new(DisclosureKind::Shown, 1000, &[1, 12], "Polícia 50%"))
            .unwrap();
        let mut v = new(DisclosureKind::Verbal, 2000, &[2], "Insurer Ltd");
        v.requester.country = "US".into();
        let b = db.insert_disclosure(&v).unwrap();
        let ids = |f: DisclosureFilter| -> Vec<i64> {
            db.disclosures(&DisclosureFilter { limit: 100, ..f })
                .unwrap()
                .into_iter()
                .map(|d| d.id)
                .collect()
        };
        assert_eq!(ids(DisclosureFilter::default()), vec![b, a], "newest first");
        assert_eq!(
            db.disclosures(&DisclosureFilter {
                limit: 1,
                ..Default::default()
            })
            .unwrap()
            .len(),
            1
        );
        let cam = |c| DisclosureFilter {
            camera: Some(CameraId(c)),
            ..Default::default()
        };
        assert_eq!(ids(cam(1)), vec![a]);
        assert_eq!(ids(cam(12)), vec![a]);
        assert_eq!(ids(cam(2)), vec![b], "2 is not a prefix match of 12");
        assert_eq!(ids(cam(3)), Vec::<i64>::new());
        assert_eq!(
            ids(DisclosureFilter {
                kind: Some(DisclosureKind::Verbal),
                ..Default::default()
            }),
            vec![b]
        );
        assert_eq!(
            ids(DisclosureFilter {
                country: Some("US".into()),
                ..Default::default()
            }),
            vec![b]
        );
        let org = |o: &str| DisclosureFilter {
            organisation: Some(o.into()),
            ..Default::default()
        };
        assert_eq!(ids(org("insurer")), vec![b]);
        assert_eq!(ids(org("50%")), vec![a]);
        assert_eq!(ids(org("5_%")), Vec::<i64>::new(), "wildcards are literal");
        // a: span [900, 950); b: [1900, 1950).
        let span = |from: Option<i64>, to: Option<i64>| DisclosureFilter {
            from: from.map(Time90k),
            to: to.map(Time90k),
            ..Default::default()
        };
        assert_eq!(ids(span(Some(940), Some(1901))), vec![b, a]);
        assert_eq!(ids(span(Some(950), None)), vec![b]);
        assert_eq!(ids(span(None, Some(1900))), vec![a]);
    }
}
