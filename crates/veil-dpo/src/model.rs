//! What the documents and the compliance lint read: the installation's
//! data-protection-relevant configuration as one value ([`Snapshot`]),
//! gathered by the server from its database and configuration file, and
//! the accounts the lint checks ([`Account`], never in a document).
//!
//! A snapshot holds no data about data subjects and names no user: roles
//! appear with the number of accounts holding them. The organisation's DPO
//! contact is the one person a document names.

use serde::{Deserialize, Serialize};
use veil_base::Time90k;

use crate::country;

/// The data-protection-relevant configuration of the installation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// The controller, its DPO, sites, authority and where data is kept.
    pub organisation: Organisation,
    /// Every camera that is not deleted, by id.
    pub cameras: Vec<Camera>,
    /// Every role, by name.
    pub roles: Vec<Role>,
    /// The register of processors, by id.
    pub processors: Vec<Processor>,
    /// The security measures in force.
    pub security: Security,
    /// The installation's retention settings.
    pub retention: Retention,
}

/// The controller and where its data is (D5 item (a), seeds 000, 003, 004).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    /// The controller: the organisation responsible for the processing.
    #[serde(default)]
    pub controller: Party,
    /// Its data-protection officer (the one person documents name).
    #[serde(default)]
    pub dpo: Party,
    /// The supervisory authority data subjects may complain to.
    #[serde(default)]
    pub authority: Authority,
    /// Where cameras are; every camera's purpose names one.
    #[serde(default)]
    pub sites: Vec<Site>,
    /// Where the data directory, the object store and the backups are.
    #[serde(default)]
    pub storage: Storage,
    /// Where the full information (the video surveillance policy) is
    /// published for data subjects, e.g. a web address or "at reception".
    #[serde(default)]
    pub information_at: String,
}

/// A named party with its contact details ("" when not set).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// Name (an organisation, or for the DPO a person or office).
    #[serde(default)]
    pub name: String,
    /// Postal address.
    #[serde(default)]
    pub address: String,
    /// E-mail address.
    #[serde(default)]
    pub email: String,
    /// Telephone number.
    #[serde(default)]
    pub phone: String,
}

/// The supervisory authority.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Authority {
    /// Its name, e.g. "Comissão Nacional de Proteção de Dados".
    #[serde(default)]
    pub name: String,
    /// Its web site or address.
    #[serde(default)]
    pub contact: String,
}

/// A site: a building or premises with cameras.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Short stable id (`[a-z0-9_-]`, 1 to 40), used by cameras' purposes.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Postal address.
    #[serde(default)]
    pub address: String,
}

/// Where personal data is stored (ISO 3166-1 alpha-2 country codes).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Country of the data directory ("" when not declared).
    #[serde(default)]
    pub data_country: String,
    /// Country of the object store, when video is not in the data
    /// directory ("" otherwise).
    #[serde(default)]
    pub object_store_country: String,
    /// The backups made of the data directory.
    #[serde(default)]
    pub backups: Vec<Backup>,
    /// The basis of a transfer outside the EEA (adequacy decision, standard
    /// contractual clauses, …); required when any location is outside it.
    #[serde(default)]
    pub transfer_basis: String,
}

/// One backup of the installation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// What and how, e.g. "nightly encrypted copy to the second site".
    pub description: String,
    /// Country where the copy is kept.
    pub country: String,
    /// Kept away from the recording site (another building or provider).
    #[serde(default)]
    pub off_site: bool,
}

/// The legal basis of processing, GDPR Art. 6(1) (a) to (f).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum LegalBasis {
    /// (a) consent.
    #[serde(rename = "a")]
    Consent,
    /// (b) performance of a contract.
    #[serde(rename = "b")]
    Contract,
    /// (c) a legal obligation.
    #[serde(rename = "c")]
    LegalObligation,
    /// (d) vital interests.
    #[serde(rename = "d")]
    VitalInterests,
    /// (e) a task in the public interest or official authority.
    #[serde(rename = "e")]
    PublicTask,
    /// (f) legitimate interests (needs a balancing note).
    #[serde(rename = "f")]
    LegitimateInterests,
}

impl LegalBasis {
    /// All, in the article's order.
    pub const ALL: [LegalBasis; 6] = [
        LegalBasis::Consent,
        LegalBasis::Contract,
        LegalBasis::LegalObligation,
        LegalBasis::VitalInterests,
        LegalBasis::PublicTask,
        LegalBasis::LegitimateInterests,
    ];

    /// The letter of Art. 6(1): `a` to `f`.
    pub fn letter(self) -> &'static str {
        match self {
            LegalBasis::Consent => "a",
            LegalBasis::Contract => "b",
            LegalBasis::LegalObligation => "c",
            LegalBasis::VitalInterests => "d",
            LegalBasis::PublicTask => "e",
            LegalBasis::LegitimateInterests => "f",
        }
    }

    /// "Art. 6(1)(f) GDPR, legitimate interests".
    pub fn describe(self) -> String {
        let what = match self {
            LegalBasis::Consent => "consent",
            LegalBasis::Contract => "performance of a contract",
            LegalBasis::LegalObligation => "compliance with a legal obligation",
            LegalBasis::VitalInterests => "protection of vital interests",
            LegalBasis::PublicTask => "a task in the public interest or official authority",
            LegalBasis::LegitimateInterests => "legitimate interests",
        };
        format!("Art. 6(1)({}) GDPR, {what}", self.letter())
    }

    /// Parses a letter (`a` to `f`, either case).
    pub fn parse(s: &str) -> Result<LegalBasis, FieldError> {
        LegalBasis::ALL
            .into_iter()
            .find(|b| b.letter().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                FieldError::new(
                    "legal_basis",
                    format!("unknown legal basis {s:?}: one of a, b, c, d, e, f (GDPR Art. 6(1))"),
                )
            })
    }
}

/// How much detail a camera is meant to show (seed 000 "Privacy by
/// design": choose the lowest level the purpose needs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// That someone is there.
    Detection,
    /// Whether it is someone known.
    Recognition,
    /// Who it is.
    Identification,
}

impl Detail {
    /// All, least detail first.
    pub const ALL: [Detail; 3] = [
        Detail::Detection,
        Detail::Recognition,
        Detail::Identification,
    ];

    /// The id used in the API and the configuration.
    pub fn id(self) -> &'static str {
        match self {
            Detail::Detection => "detection",
            Detail::Recognition => "recognition",
            Detail::Identification => "identification",
        }
    }

    /// Parses an id.
    pub fn parse(s: &str) -> Result<Detail, FieldError> {
        Detail::ALL
            .into_iter()
            .find(|d| d.id() == s)
            .ok_or_else(|| {
                FieldError::new(
                    "detail",
                    format!(
                        "unknown level of detail {s:?}: detection, recognition or identification"
                    ),
                )
            })
    }
}

/// A camera's documented purpose (P8). A camera without one does not
/// record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    /// Why the camera exists, e.g. "protection of staff against robbery"
    /// (one or more, each 3 to 500 characters).
    pub purposes: Vec<String>,
    /// Art. 6(1) basis.
    pub legal_basis: LegalBasis,
    /// Why the controller's interest is not overridden by those filmed;
    /// required for (f), at least 20 characters.
    #[serde(default)]
    pub balancing_note: String,
    /// The level of detail the purpose needs.
    pub detail: Detail,
    /// The id of the camera's site.
    pub site: String,
    /// Why the camera's video is kept as long as it is (at least 10
    /// characters).
    pub retention_justification: String,
}

/// The longest text of a purpose or note, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;

impl Purpose {
    /// Checks every field; `sites` are the organisation's. The error names
    /// the field (`purposes`, `purposes[1]`, `balancing_note`, `site`,
    /// `retention_justification`).
    pub fn check(&self, sites: &[Site]) -> Result<(), FieldError> {
        if self.purposes.is_empty() {
            return Err(FieldError::new(
                "purposes",
                "at least one purpose is required",
            ));
        }
        if self.purposes.len() > 20 {
            return Err(FieldError::new("purposes", "at most 20 purposes"));
        }
        for (i, p) in self.purposes.iter().enumerate() {
            text(&format!("purposes[{i}]"), p, 3, 500)?;
        }
        if self.legal_basis == LegalBasis::LegitimateInterests {
            text("balancing_note", &self.balancing_note, 20, MAX_TEXT_CHARS).map_err(|e| {
                FieldError::new(
                    "balancing_note",
                    format!(
                        "{} (legitimate interests, Art. 6(1)(f), need the balancing of \
                         interests written down)",
                        e.message
                    ),
                )
            })?;
        } else if self.balancing_note.chars().count() > MAX_TEXT_CHARS {
            return Err(FieldError::new("balancing_note", "at most 2000 characters"));
        }
        if !sites.iter().any(|s| s.id == self.site) {
            return Err(FieldError::new(
                "site",
                format!(
                    "unknown site {:?}: define it in the organisation profile first",
                    self.site
                ),
            ));
        }
        text(
            "retention_justification",
            &self.retention_justification,
            10,
            MAX_TEXT_CHARS,
        )
    }
}

/// One camera as the documents and the lint see it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Camera {
    /// Its id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// `private`, `workplace`, `public_facing` or `residential_adjacent`.
    pub area: String,
    /// Its documented purpose; `None` when it has none (it does not record).
    pub purpose: Option<Purpose>,
    /// Whether recording is enabled.
    pub enabled: bool,
    /// `continuous`, `scheduled`, `motion` or `live_only`.
    pub recording_mode: String,
    /// How long its video is kept, in hours (its effective rule).
    pub retention_hours: u32,
    /// The justification its retention rule carries ("" when none): rules
    /// above 30 days need one.
    pub retention_rule_justification: String,
    /// With liftable masks: how long the unmasked `original` is kept.
    pub original_retention_hours: Option<u32>,
    /// Number of privacy masks in force.
    pub masks: u32,
    /// Of which liftable (the `original` rendition is kept).
    pub liftable_masks: u32,
    /// PTZ control is enabled.
    pub ptz_control: bool,
    /// The purpose of recording audio, when audio is recorded ("" when
    /// enabled without one).
    pub audio: Option<String>,
    /// The purpose of recording ONVIF metadata, when it is recorded.
    pub metadata: Option<String>,
    /// What was found when its password was set.
    pub credentials: CredentialCheck,
    /// Analytics rules running on it (none exist yet).
    pub analytics: Vec<Analytics>,
}

/// What the server found about a camera's password when it was set (the
/// password itself is never kept in clear).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialCheck {
    /// It has a password.
    pub set: bool,
    /// It is a known factory default.
    pub factory_default: bool,
    /// Another camera has the same password.
    pub reused: bool,
}

/// An analytics rule and its documented criteria.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analytics {
    /// Its name.
    pub name: String,
    /// What it detects and when it alerts ("" when undocumented).
    pub criteria: String,
}

/// A role: what its holders may do (names of people never appear).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Permission ids it grants (any scope), in catalogue order.
    pub permissions: Vec<String>,
    /// Whether every grant covers all cameras.
    pub all_cameras: bool,
    /// Playback limited to the last N hours.
    pub playback_window_hours: Option<u32>,
    /// Active only in set weekly hours.
    pub limited_hours: bool,
    /// Its holders must sign in with a second factor.
    pub require_second_factor: bool,
    /// Number of enabled accounts holding it.
    pub holders: u32,
}

/// A processor: a party processing the video on the controller's behalf
/// (D10).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Processor {
    /// Its id.
    pub id: i64,
    /// The company.
    pub name: String,
    /// `integrator`, `maintenance`, `cloud_storage` or `other`.
    pub kind: String,
    /// Date of the processing agreement (Art. 28), `YYYY-MM-DD`.
    pub agreement_date: String,
    /// What the agreement lets it do.
    pub scope: String,
    /// Its country (ISO 3166-1 alpha-2).
    pub country: String,
    /// The transfer basis when outside the EEA ("" otherwise).
    pub transfer_basis: String,
    /// Maintenance accounts of the processor that are enabled now.
    pub active_accounts: u32,
}

/// Processor kinds.
pub const PROCESSOR_KINDS: [&str; 4] = ["integrator", "maintenance", "cloud_storage", "other"];

/// The security measures in force (the documents quote them; the lint
/// checks them).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// `self_signed`, `files` or `plain_behind_proxy`.
    pub tls: String,
    /// Number of declared reverse proxies (`trusted_proxies`).
    pub trusted_proxies: u32,
    /// Where the root key is: `file`, `env`, `credential` or `command`.
    pub root_key_source: String,
    /// Root-key rotation period, in days.
    pub root_key_rotation_days: u32,
    /// How long access-record entries are kept, in days.
    pub audit_retention_days: u32,
    /// Checkpoints are copied outside the database.
    pub audit_checkpoint_copy: bool,
    /// How much of a client's address the access record keeps: `full`,
    /// `truncated` or `none`.
    pub client_address: String,
    /// Permissions whose use needs a second person's approval (four-eyes).
    pub four_eyes: Vec<String>,
    /// Who can open unmasked originals: `server` or `escrow`.
    pub lift_key: String,
    /// The current usage-policy version (0 when none is published).
    pub policy_version: u32,
    /// Accounts' roles are reviewed every this many months.
    pub access_review_months: u32,
    /// The most administrators the installation should have.
    pub max_administrators: u32,
}

/// The installation's retention settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Default retention of video, in hours.
    pub hours: u32,
    /// Its justification ("" when none).
    pub justification: String,
    /// Default retention of unmasked originals, in hours.
    pub original_hours: u32,
}

/// An account as the lint sees it (never in a document).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: i64,
    /// Login name.
    pub login: String,
    /// Names of the roles it holds.
    pub roles: Vec<String>,
    /// Disabled accounts cannot sign in.
    pub disabled: bool,
    /// When it was created.
    pub created: Time90k,
    /// The usage-policy version it acknowledged (0: none).
    pub policy_ack_version: u32,
    /// Its training is valid until then (`None`: not recorded).
    pub training_valid_until: Option<Time90k>,
    /// When its roles were last confirmed in an access review.
    pub last_access_review: Option<Time90k>,
    /// The processor it belongs to (a maintenance account).
    pub processor: Option<i64>,
    /// When it stops working (maintenance accounts).
    pub expires: Option<Time90k>,
    /// Its pseudonym (how the access record names it).
    pub pseudonym: String,
}

/// When an account's next access review is due: `months` calendar months
/// after `base` (its last review, or its creation), on the same day of the
/// month or the month's last day (31 August + 6 months = 28 or 29
/// February), in UTC.
pub fn review_due(base: Time90k, months: u32) -> Time90k {
    let t = base.to_chrono();
    let due = t
        .checked_add_months(chrono::Months::new(months))
        .unwrap_or(t);
    Time90k::from_chrono(due)
}

/// What the documents state about the configuration they reflect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// The configuration version: it grows by one whenever the snapshot
    /// changes.
    pub version: u64,
    /// When that version was first seen.
    pub since: Time90k,
    /// When the document was generated.
    pub generated: Time90k,
}

/// A rejected value, naming its field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field, as the API and the configuration name it.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    /// A new error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error under `prefix` (`sites[2]` + `id` → `sites[2].id`).
    pub fn within(self, prefix: &str) -> FieldError {
        FieldError {
            field: format!("{prefix}.{}", self.field),
            message: self.message,
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// Checks a single-line or multi-line text's length and control
/// characters (new lines are allowed).
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<(), FieldError> {
    let n = value.trim().chars().count();
    if n < min {
        return Err(FieldError::new(
            field,
            if min <= 1 {
                "must not be empty".to_string()
            } else {
                format!("must be at least {min} characters")
            },
        ));
    }
    if value.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

fn optional_text(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.is_empty() {
        Ok(())
    } else {
        text(field, value, 1, max)
    }
}

fn country_code(field: &str, value: &str, required: bool) -> Result<(), FieldError> {
    if value.is_empty() && !required {
        return Ok(());
    }
    if !country::is_country(value) {
        return Err(FieldError::new(
            field,
            format!("{value:?} is not an ISO 3166-1 alpha-2 country code in upper case (e.g. PT)"),
        ));
    }
    Ok(())
}

impl Party {
    fn check(&self) -> Result<(), FieldError> {
        optional_text("name", &self.name, 200)?;
        optional_text("address", &self.address, 500)?;
        optional_text("email", &self.email, 200)?;
        if !self.email.is_empty() && !self.email.contains('@') {
            return Err(FieldError::new("email", "is not an e-mail address"));
        }
        optional_text("phone", &self.phone, 50)
    }
}

impl Organisation {
    /// Checks every field; the error names it (`controller.email`,
    /// `sites[1].id`, `storage.backups[0].country`, …).
    pub fn check(&self) -> Result<(), FieldError> {
        self.controller
            .check()
            .map_err(|e| e.within("controller"))?;
        self.dpo.check().map_err(|e| e.within("dpo"))?;
        optional_text("authority.name", &self.authority.name, 200)?;
        optional_text("authority.contact", &self.authority.contact, 500)?;
        optional_text("information_at", &self.information_at, 500)?;
        if self.sites.len() > 1000 {
            return Err(FieldError::new("sites", "at most 1000 sites"));
        }
        for (i, s) in self.sites.iter().enumerate() {
            let at = format!("sites[{i}]");
            let id_ok = (1..=40).contains(&s.id.len())
                && s.id.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !id_ok {
                return Err(FieldError::new(
                    format!("{at}.id"),
                    format!("{:?} must be 1 to 40 of a-z, 0-9, '_' or '-'", s.id),
                ));
            }
            if self.sites[..i].iter().any(|o| o.id == s.id) {
                return Err(FieldError::new(
                    format!("{at}.id"),
                    format!("{:?} is used twice", s.id),
                ));
            }
            text(&format!("{at}.name"), &s.name, 1, 200)?;
            optional_text(&format!("{at}.address"), &s.address, 500)?;
        }
        let st = &self.storage;
        country_code("storage.data_country", &st.data_country, false)?;
        country_code(
            "storage.object_store_country",
            &st.object_store_country,
            false,
        )?;
        for (i, b) in st.backups.iter().enumerate() {
            text(
                &format!("storage.backups[{i}].description"),
                &b.description,
                3,
                500,
            )?;
            country_code(&format!("storage.backups[{i}].country"), &b.country, true)?;
        }
        optional_text("storage.transfer_basis", &st.transfer_basis, MAX_TEXT_CHARS)
    }

    /// The storage locations declared outside the EEA, as `(what, country)`.
    pub fn outside_eea(&self) -> Vec<(String, String)> {
        let st = &self.storage;
        let mut out = Vec::new();
        let mut add = |what: String, c: &str| {
            if !c.is_empty() && !country::in_eea(c) {
                out.push((what, c.to_string()));
            }
        };
        add("data directory".into(), &st.data_country);
        add("object store".into(), &st.object_store_country);
        for b in &st.backups {
            add(format!("backup \"{}\"", b.description), &b.country);
        }
        out
    }

    /// The site with this id.
    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }
}

impl Processor {
    /// Checks the fields a user gives (`name`, `kind`, `agreement_date`,
    /// `scope`, `country`, `transfer_basis`).
    pub fn check(&self) -> Result<(), FieldError> {
        text("name", &self.name, 1, 200)?;
        if !PROCESSOR_KINDS.contains(&self.kind.as_str()) {
            return Err(FieldError::new(
                "kind",
                format!(
                    "unknown kind {:?}: one of {}",
                    self.kind,
                    PROCESSOR_KINDS.join(", ")
                ),
            ));
        }
        if chrono::NaiveDate::parse_from_str(&self.agreement_date, "%Y-%m-%d").is_err() {
            return Err(FieldError::new(
                "agreement_date",
                format!("{:?} is not a date (YYYY-MM-DD)", self.agreement_date),
            ));
        }
        text("scope", &self.scope, 3, MAX_TEXT_CHARS)?;
        country_code("country", &self.country, true)?;
        if !country::in_eea(&self.country) {
            text("transfer_basis", &self.transfer_basis, 10, MAX_TEXT_CHARS).map_err(|_| {
                FieldError::new(
                    "transfer_basis",
                    format!(
                        "required for a processor outside the EEA ({}): e.g. an adequacy \
                         decision or standard contractual clauses (GDPR chapter V)",
                        self.country
                    ),
                )
            })?;
        } else {
            optional_text("transfer_basis", &self.transfer_basis, MAX_TEXT_CHARS)?;
        }
        Ok(())
    }
}

/// Permission ids the lint and the documents treat specially.
pub mod permission {
    /// Exporting video.
    pub const EXPORT: &str = "export";
    /// Exporting without encryption.
    pub const EXPORT_UNENCRYPTED: &str = "export.unencrypted";
    /// Lifting masks.
    pub const LIFT_MASKS: &str = "masks.lift";
    /// Reading the access record.
    pub const AUDIT_READ: &str = "audit.read";
    /// Administration permissions: holding any makes an administrator.
    pub const ADMINISTRATION: [&str; 5] = [
        "cameras.admin",
        "masks.admin",
        "retention.admin",
        "users.admin",
        "recording.control",
    ];
}

impl Snapshot {
    /// The camera with this id.
    pub fn camera(&self, id: i64) -> Option<&Camera> {
        self.cameras.iter().find(|c| c.id == id)
    }

    /// The role with this name.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name == name)
    }
}

impl Role {
    /// Whether it grants `permission` (an id) anywhere.
    pub fn grants(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }

    /// Whether it grants any administration permission.
    pub fn administers(&self) -> bool {
        permission::ADMINISTRATION.iter().any(|p| self.grants(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purpose() -> Purpose {
        Purpose {
            purposes: vec!["protection of staff against robbery".into()],
            legal_basis: LegalBasis::LegitimateInterests,
            balancing_note: "cash desk, staff informed, no view of the street".into(),
            detail: Detail::Recognition,
            site: "shop".into(),
            retention_justification: "incidents are reported within two days".into(),
        }
    }

    fn sites() -> Vec<Site> {
        vec![Site {
            id: "shop".into(),
            name: "Shop".into(),
            address: String::new(),
        }]
    }

    #[test]
    fn reviews_fall_due_by_calendar_month() {
        let at = |s: &str| Time90k::parse_rfc3339(s).unwrap();
        assert_eq!(
            review_due(at("2026-08-31T09:00:00Z"), 6),
            at("2027-02-28T09:00:00Z")
        );
        assert_eq!(
            review_due(at("2027-08-31T09:00:00Z"), 6),
            at("2028-02-29T09:00:00Z")
        );
        assert_eq!(
            review_due(at("2026-01-15T00:00:00Z"), 12),
            at("2027-01-15T00:00:00Z")
        );
    }

    #[test]
    fn purpose_checks_name_their_field() {
        purpose().check(&sites()).unwrap();
        let mut p = purpose();
        p.purposes.clear();
        assert_eq!(p.check(&sites()).unwrap_err().field, "purposes");
        let mut p = purpose();
        p.purposes.push(" ".into());
        assert_eq!(p.check(&sites()).unwrap_err().field, "purposes[1]");
        let mut p = purpose();
        p.balancing_note = "short".into();
        assert_eq!(p.check(&sites()).unwrap_err().field, "balancing_note");
        p.legal_basis = LegalBasis::LegalObligation;
        p.check(&sites()).unwrap();
        let mut p = purpose();
        p.site = "depot".into();
        let e = p.check(&sites()).unwrap_err();
        assert_eq!(e.field, "site");
        assert!(e.message.contains("depot"), "{e}");
        let mut p = purpose();
        p.retention_justification = "".into();
        assert_eq!(
            p.check(&sites()).unwrap_err().field,
            "retention_justification"
        );
    }

    #[test]
    fn legal_basis_and_detail_parse_or_name_the_field() {
        assert_eq!(
            LegalBasis::parse("F").unwrap(),
            LegalBasis::LegitimateInterests
        );
        assert_eq!(LegalBasis::parse("g").unwrap_err().field, "legal_basis");
        assert_eq!(
            Detail::parse("identification").unwrap(),
            Detail::Identification
        );
        assert_eq!(Detail::parse("faces").unwrap_err().field, "detail");
        let e = serde_json::from_str::<Purpose>(
            r#"{"purposes":["x"],"legal_basis":"g","detail":"detection","site":"s","retention_justification":"x"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown variant `g`"), "{e}");
    }

    #[test]
    fn organisation_checks_name_their_field() {
        let mut o = Organisation {
            sites: sites(),
            ..Organisation::default()
        };
        o.check().unwrap();
        o.controller.email = "nobody".into();
        assert_eq!(o.check().unwrap_err().field, "controller.email");
        o.controller.email = "dpo@example.org".into();
        o.sites.push(o.sites[0].clone());
        assert_eq!(o.check().unwrap_err().field, "sites[1].id");
        o.sites.pop();
        o.storage.backups.push(Backup {
            description: "tape".into(),
            country: "XX".into(),
            off_site: true,
        });
        assert_eq!(o.check().unwrap_err().field, "storage.backups[0].country");
        o.storage.backups[0].country = "US".into();
        o.check().unwrap();
        assert_eq!(
            o.outside_eea(),
            vec![("backup \"tape\"".to_string(), "US".to_string())]
        );
    }

    #[test]
    fn processor_outside_the_eea_needs_a_transfer_basis() {
        let mut p = Processor {
            id: 1,
            name: "Acme Security".into(),
            kind: "maintenance".into(),
            agreement_date: "2026-03-01".into(),
            scope: "repairs of cameras and the recorder".into(),
            country: "PT".into(),
            ..Processor::default()
        };
        p.check().unwrap();
        p.country = "US".into();
        assert_eq!(p.check().unwrap_err().field, "transfer_basis");
        p.transfer_basis = "standard contractual clauses 2021/914".into();
        p.check().unwrap();
        p.kind = "cleaner".into();
        assert_eq!(p.check().unwrap_err().field, "kind");
        p.kind = "other".into();
        p.agreement_date = "1 March".into();
        assert_eq!(p.check().unwrap_err().field, "agreement_date");
    }
}
