//! The register of transfers and disclosures (E4, E5) over HTTP:
//! `docs/design/export.md`, "Register of transfers and disclosures".
//!
//! Every export (`copy`) and every showing (`shown`) or telling (`verbal`)
//! of recordings to a third party is an entry: the recordings' time span and
//! cameras, the requesting party (name, title, organisation, country), who
//! authorised it, a description of the content, why it was requested and
//! why granted, and for a recipient outside the EEA the legal basis and
//! safeguards of the transfer. Copies also carry their package id and hash
//! and their life: downloaded, expired, destruction confirmed.
//!
//! [`check_register_fields`] checks the register's fields of a request; the
//! export route uses it for the same fields.

use serde::Deserialize;
use utoipa::ToSchema;
use veil_store::db::Requester;

use crate::error::ApiError;

/// The longest requester field, in characters (after trimming).
pub const REQUESTER_CHARS: std::ops::RangeInclusive<usize> = 1..=200;
/// The shortest and longest reason (request or grant), in characters.
pub const REASON_CHARS: std::ops::RangeInclusive<usize> = 10..=2000;
/// The shortest and longest content description, legal basis or
/// safeguards, in characters.
pub const TEXT_CHARS: std::ops::RangeInclusive<usize> = 1..=2000;

/// ISO 3166-1 alpha-2: every officially assigned code.
const COUNTRIES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// The European Economic Area: the 27 member states of the EU, Iceland,
/// Liechtenstein and Norway. A recipient elsewhere needs a legal basis and
/// safeguards (GDPR chapter V).
const EEA: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS",
    "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// Whether `code` (upper case) is an assigned ISO 3166-1 alpha-2 code.
pub fn is_country(code: &str) -> bool {
    COUNTRIES.binary_search(&code).is_ok()
}

/// Whether `code` (upper case) is in the European Economic Area.
pub fn in_eea(code: &str) -> bool {
    EEA.binary_search(&code).is_ok()
}

/// The requesting party of a register entry.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequesterBody {
    /// Their name (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Their title or function (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Their organisation (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub organisation: String,
    /// The organisation's country: an ISO 3166-1 alpha-2 code such as `PT`.
    #[schema(example = "PT", min_length = 2, max_length = 2)]
    pub country: String,
}

/// The register's fields of a request (a disclosure or an export).
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct RegisterFields {
    /// The requesting party.
    pub requester: RequesterBody,
    /// Why it was requested (10 to 2000 characters).
    #[schema(min_length = 10, max_length = 2000)]
    pub reason: String,
    /// Why it was granted (10 to 2000 characters). Required for showings
    /// and tellings; an export without it is granted for the reason it was
    /// requested.
    #[serde(default)]
    #[schema(min_length = 10, max_length = 2000)]
    pub grant_reason: Option<String>,
    /// A short description of the recordings' content (up to 2000
    /// characters).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub content: Option<String>,
    /// The legal basis of a transfer to a recipient outside the EEA, e.g.
    /// "adequacy decision", "Art. 46 safeguards", "Art. 49 derogation".
    /// Required when the requester's country is outside the EEA.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub legal_basis: Option<String>,
    /// The safeguards of a transfer outside the EEA. Required when the
    /// requester's country is outside the EEA.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub safeguards: Option<String>,
}

/// The register's fields, checked and trimmed.
#[derive(Clone, Debug)]
pub struct CheckedRegister {
    /// The requesting party, the country in upper case.
    pub requester: Requester,
    /// Why it was requested.
    pub request_reason: String,
    /// Why it was granted (the request's reason when an export gives none).
    pub grant_reason: String,
    /// The content's description, if given.
    pub content: Option<String>,
    /// The legal basis, if given.
    pub legal_basis: Option<String>,
    /// The safeguards, if given.
    pub safeguards: Option<String>,
}

/// `v` trimmed, `chars` long, without control characters other than line
/// breaks and tabs (`multiline`) or without any; else a 400 naming `name`.
fn text(
    name: &str,
    v: &str,
    chars: &std::ops::RangeInclusive<usize>,
    multiline: bool,
) -> Result<String, ApiError> {
    let v = v.trim();
    let n = v.chars().count();
    if !chars.contains(&n) {
        return Err(ApiError::bad_request(format!(
            "{name} must be {} to {} characters, got {n}",
            chars.start(),
            chars.end()
        )));
    }
    let bad = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'));
    if v.chars().any(bad) {
        return Err(ApiError::bad_request(if multiline {
            format!("{name} must not contain control characters other than line breaks and tabs")
        } else {
            format!("{name} must not contain control characters (line breaks, tabs, …)")
        }));
    }
    Ok(v.to_owned())
}

fn optional(name: &str, v: &Option<String>) -> Result<Option<String>, ApiError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text(name, v, &TEXT_CHARS, true).map(Some),
    }
}

/// Checks the register's fields; every 400 names the field.
pub fn check_register(
    f: &RegisterFields,
    grant_required: bool,
) -> Result<CheckedRegister, ApiError> {
    let r = &f.requester;
    let name = text("requester.name", &r.name, &REQUESTER_CHARS, false)?;
    let title = text("requester.title", &r.title, &REQUESTER_CHARS, false)?;
    let organisation = text(
        "requester.organisation",
        &r.organisation,
        &REQUESTER_CHARS,
        false,
    )?;
    let country = r.country.trim().to_ascii_uppercase();
    if !is_country(&country) {
        return Err(ApiError::bad_request(format!(
            "requester.country must be an ISO 3166-1 alpha-2 country code such as PT, got {:?}",
            r.country
        )));
    }
    let request_reason = text("reason", &f.reason, &REASON_CHARS, true)?;
    let grant_reason = match f.grant_reason.as_deref().map(str::trim) {
        Some(g) if !g.is_empty() => text("grant_reason", g, &REASON_CHARS, true)?,
        _ if grant_required => {
            return Err(ApiError::bad_request(format!(
                "grant_reason is required: {} to {} characters saying why it was granted",
                REASON_CHARS.start(),
                REASON_CHARS.end()
            )))
        }
        _ => request_reason.clone(),
    };
    let content = optional("content", &f.content)?;
    let legal_basis = optional("legal_basis", &f.legal_basis)?;
    let safeguards = optional("safeguards", &f.safeguards)?;
    if !in_eea(&country) {
        if legal_basis.is_none() {
            return Err(ApiError::bad_request(format!(
                "legal_basis is required for a recipient outside the EEA ({country}): e.g. \
                 \"adequacy decision\", \"Art. 46 safeguards\" or \"Art. 49 derogation\""
            )));
        }
        if safeguards.is_none() {
            return Err(ApiError::bad_request(format!(
                "safeguards is required for a recipient outside the EEA ({country})"
            )));
        }
    }
    Ok(CheckedRegister {
        requester: Requester {
            name,
            title,
            organisation,
            country,
        },
        request_reason,
        grant_reason,
        content,
        legal_basis,
        safeguards,
    })
}

/// Checks the register's fields of a request (every 400 names the field)
/// and gives the requesting party (country in upper case) and the reason it
/// was granted: `grant_reason`, required when `grant_required`, else the
/// request's `reason`. The other fields are checked too; callers store them
/// trimmed (or use [`check_register`], which trims them all).
pub fn check_register_fields(
    f: &RegisterFields,
    grant_required: bool,
) -> Result<(Requester, String), ApiError> {
    let c = check_register(f, grant_required)?;
    Ok((c.requester, c.grant_reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(country: &str) -> RegisterFields {
        RegisterFields {
            requester: RequesterBody {
                name: " Ana Silva ".into(),
                title: "Inspector".into(),
                organisation: "PSP".into(),
                country: country.into(),
            },
            reason: "a theft in the car park".into(),
            grant_reason: None,
            content: None,
            legal_basis: None,
            safeguards: None,
        }
    }

    fn message(r: Result<(Requester, String), ApiError>) -> String {
        let e = r.unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        e.message
    }

    #[test]
    fn lists_are_sorted_and_complete() {
        assert!(COUNTRIES.windows(2).all(|w| w[0] < w[1]));
        assert!(EEA.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(COUNTRIES.len(), 249);
        assert_eq!(EEA.len(), 30);
        assert!(EEA.iter().all(|c| is_country(c)));
    }

    #[test]
    fn checks_each_field() {
        let (r, grant) = check_register_fields(&fields("pt"), false).unwrap();
        assert_eq!(r.name, "Ana Silva");
        assert_eq!(r.country, "PT");
        assert_eq!(grant, "a theft in the car park", "the request's reason");
        assert!(message(check_register_fields(&fields("PT"), true)).starts_with("grant_reason"));
        assert!(
            message(check_register_fields(&fields("XX"), false)).starts_with("requester.country")
        );
        assert!(
            message(check_register_fields(&fields("PRT"), false)).starts_with("requester.country")
        );
        let mut f = fields("PT");
        f.requester.title = "  ".into();
        assert!(message(check_register_fields(&f, false)).starts_with("requester.title"));
        let mut f = fields("PT");
        f.requester.organisation = "x".repeat(201);
        assert!(message(check_register_fields(&f, false)).starts_with("requester.organisation"));
        let mut f = fields("PT");
        f.requester.name = "a\nb".into();
        assert!(message(check_register_fields(&f, false)).starts_with("requester.name"));
        let mut f = fields("PT");
        f.reason = "too short".into();
        assert!(message(check_register_fields(&f, false)).starts_with("reason"));
        let mut f = fields("PT");
        f.grant_reason = Some("short".into());
        assert!(message(check_register_fields(&f, false)).starts_with("grant_reason"));
        f.grant_reason = Some("police investigation\nof a theft".into());
        assert_eq!(
            check_register_fields(&f, true).unwrap().1,
            "police investigation\nof a theft"
        );
    }

    #[test]
    fn outside_the_eea_needs_a_legal_basis_and_safeguards() {
        for inside in ["NO", "IS", "LI", "GR", "DE"] {
            check_register_fields(&fields(inside), false).unwrap();
        }
        let mut f = fields("US");
        assert!(message(check_register_fields(&f, false)).starts_with("legal_basis"));
        f.legal_basis = Some("Art. 49 derogation".into());
        assert!(message(check_register_fields(&f, false)).starts_with("safeguards"));
        f.safeguards = Some(" ".into());
        assert!(message(check_register_fields(&f, false)).starts_with("safeguards"));
        f.safeguards = Some("encrypted package, destruction after the trial".into());
        let c = check_register(&f, false).unwrap();
        assert_eq!(c.legal_basis.as_deref(), Some("Art. 49 derogation"));
        assert_eq!(c.requester.country, "US");
        // The United Kingdom and Switzerland are outside the EEA.
        assert!(!in_eea("GB") && !in_eea("CH"));
    }
}
