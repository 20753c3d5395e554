//! The compliance lint (D9): the installation's configuration checked
//! against the guidance, each finding naming the rule, the object
//! concerned, what to do and the source behind it.
//!
//! [`lint`] reads a [`Snapshot`] and the [`Account`]s and returns
//! [`Finding`]s; [`RULES`] is the catalogue, with stable ids the API, the
//! command line and the desk page use. Pure: `now` comes in, nothing is
//! read or written. What the server does with the findings (the desk's
//! summary, `veil lint`, `GET /api/v1/compliance`) is not here.
//!
//! Decisions the rules make, so that a finding is worth reading:
//! - Account rules look at enabled accounts only: a disabled account cannot
//!   sign in, and disabling it is often the fix.
//! - A finding's `object` never names a person: accounts are `account:<id>`.
//!   Only `account.generic_name` puts the login in its message, because
//!   there the login itself is the problem.
//! - Retention rules read a camera's effective retention whatever its
//!   recording mode or state: what it has recorded is kept that long.

use std::cmp::Ordering;

use chrono::NaiveDate;
use serde::Serialize;
use veil_base::Time90k;

use crate::country;
use crate::model::{permission, Account, Camera, Detail, Role, Snapshot};

/// How serious a finding is. Orders error first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A requirement is not met: fix it.
    Error,
    /// A recommendation is not followed, or a risk needs a decision.
    Warning,
    /// Worth knowing; may be fine.
    Info,
}

impl Severity {
    /// `error`, `warning` or `info`, as the API writes it.
    pub fn id(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One rule of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, `area.what`.
    pub id: &'static str,
    /// The severity of each of its findings.
    pub severity: Severity,
    /// What it checks, in a few words.
    pub title: &'static str,
    /// The source behind it: seed and section, or the GDPR article.
    pub citation: &'static str,
}

/// What the lint found about one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's id (in [`RULES`]).
    pub rule: &'static str,
    /// The rule's severity.
    pub severity: Severity,
    /// What is wrong, with the values concerned.
    pub message: String,
    /// The object concerned: `camera:3 "Entrance"`, `role:operator`,
    /// `account:7`, `processor:2`, `organisation` or `security`.
    pub object: String,
    /// What to do, naming the setting and where it is changed.
    pub fix: String,
    /// The rule's citation.
    pub citation: &'static str,
}

/// How many findings of each severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Findings of severity error.
    pub errors: usize,
    /// Findings of severity warning.
    pub warnings: usize,
    /// Findings of severity info.
    pub infos: usize,
}

/// Counts `findings` by severity.
pub fn summary(findings: &[Finding]) -> Summary {
    let mut s = Summary::default();
    for f in findings {
        match f.severity {
            Severity::Error => s.errors += 1,
            Severity::Warning => s.warnings += 1,
            Severity::Info => s.infos += 1,
        }
    }
    s
}

const fn rule(
    id: &'static str,
    severity: Severity,
    title: &'static str,
    citation: &'static str,
) -> Rule {
    Rule {
        id,
        severity,
        title,
        citation,
    }
}

use Severity::{Error, Info, Warning};

const CAMERA_NO_PURPOSE: Rule = rule(
    "camera.no_purpose",
    Error,
    "camera without a documented purpose",
    "seed 000 \"Do you have a lawful basis for collecting data?\"",
);
const CAMERA_PURPOSE_INCOMPLETE: Rule = rule(
    "camera.purpose_incomplete",
    Error,
    "camera whose purpose fails its checks (e.g. its site was removed)",
    "seed 000 \"Do you have a lawful basis for collecting data?\"",
);
const CAMERA_RETENTION_UNJUSTIFIED: Rule = rule(
    "camera.retention_unjustified",
    Error,
    "retention above 30 days (720 h) without a justification on its retention rule",
    "seed 000 \"Retention period for typical security purposes: one week to one month\"",
);
const CAMERA_PUBLIC_RETENTION: Rule = rule(
    "camera.public_retention_over_48h",
    Warning,
    "public-facing camera keeping video longer than 48 h",
    "seed 000 \"Member State or third-country territory: 48 hours\"",
);
const CAMERA_RESIDENTIAL_UNMASKED: Rule = rule(
    "camera.residential_without_masks",
    Error,
    "residential-adjacent camera without privacy masks",
    "seed 001 §18",
);
const CAMERA_PTZ_WITH_MASKS: Rule = rule(
    "camera.ptz_with_masks",
    Error,
    "PTZ control enabled on a camera with (static) masks",
    "seed 000 \"Additional safeguards\"",
);
const CAMERA_AUDIO_NO_PURPOSE: Rule = rule(
    "camera.audio_without_purpose",
    Error,
    "audio recorded without a stated purpose",
    "seed 000 \"Additional safeguards\"",
);
const CAMERA_METADATA_NO_PURPOSE: Rule = rule(
    "camera.metadata_without_purpose",
    Warning,
    "metadata recorded without a stated purpose",
    "seed 000 \"Additional safeguards\"",
);
const CAMERA_DEFAULT_PASSWORD: Rule = rule(
    "camera.default_password",
    Error,
    "camera password is a factory default",
    "seed 001 §34",
);
const CAMERA_REUSED_PASSWORD: Rule = rule(
    "camera.reused_password",
    Warning,
    "camera password also used by another camera",
    "seed 001 §34",
);
const CAMERA_ANALYTICS_NO_CRITERIA: Rule = rule(
    "camera.analytics_without_criteria",
    Error,
    "analytics rules without documented criteria",
    "seed 001 §27",
);
const CAMERA_IDENTIFICATION_PUBLIC: Rule = rule(
    "camera.identification_public",
    Warning,
    "identification-level detail on a public-facing camera (data minimisation)",
    "seed 000 \"Privacy by design\"",
);
const ROLE_NO_SECOND_FACTOR: Rule = rule(
    "role.sensitive_without_second_factor",
    Error,
    "role granting export, lifting masks, deletion or administration without a second factor",
    "seed 001 §37",
);
const ROLE_UNENCRYPTED_EXPORT: Rule = rule(
    "role.unencrypted_export",
    Warning,
    "role with holders that may export without encryption",
    "seed 000 \"Privacy by design and privacy by default\"",
);
const ACCOUNT_GENERIC_NAME: Rule = rule(
    "account.generic_name",
    Warning,
    "account with a generic or shared login name",
    "seed 000 \"User permissions management\"",
);
const ACCOUNT_ADMIN_AND_AUDIT: Rule = rule(
    "account.admin_and_audit",
    Warning,
    "one account both administering and reading the access record",
    "seed 000 \"Protecting stored and transmitted data\"",
);
const ACCOUNT_POLICY_NOT_ACKNOWLEDGED: Rule = rule(
    "account.policy_not_acknowledged",
    Warning,
    "account that has not acknowledged the current usage policy",
    "seed 000 \"VMS operator\"",
);
const ACCOUNT_TRAINING_EXPIRED: Rule = rule(
    "account.training_expired",
    Warning,
    "account whose data-protection training has expired",
    "seed 000 \"Data protection training\"",
);
const ACCOUNT_TRAINING_NOT_RECORDED: Rule = rule(
    "account.training_not_recorded",
    Info,
    "account with no data-protection training recorded",
    "seed 000 \"Data protection training\"",
);
const ACCOUNT_REVIEW_OVERDUE: Rule = rule(
    "account.access_review_overdue",
    Warning,
    "account whose roles were not reviewed in the set period",
    "seed 000 \"Privacy by design\"",
);
const ACCOUNT_MAINTENANCE_NO_EXPIRY: Rule = rule(
    "account.maintenance_without_expiry",
    Error,
    "maintenance account without an expiry",
    "seed 001 §39",
);
const ACCOUNT_MAINTENANCE_LONG_EXPIRY: Rule = rule(
    "account.maintenance_expiry_over_30_days",
    Warning,
    "maintenance account expiring more than 30 days ahead",
    "seed 001 §39",
);
const ACCOUNT_MAINTENANCE_UNKNOWN_PROCESSOR: Rule = rule(
    "account.maintenance_unknown_processor",
    Error,
    "maintenance account of a processor not in the register",
    "seed 000 \"Data processor\"",
);
const SECURITY_TOO_MANY_ADMINS: Rule = rule(
    "security.too_many_administrators",
    Warning,
    "more enabled administrators than security.max_administrators",
    "seed 000 \"Privacy by design\"",
);
const SECURITY_NO_USAGE_POLICY: Rule = rule(
    "security.no_usage_policy",
    Warning,
    "no usage policy published",
    "seed 000 \"VMS operator\"",
);
const SECURITY_NO_ACCESS_REVIEW: Rule = rule(
    "security.no_access_review",
    Warning,
    "no access-review period set",
    "seed 000 \"Privacy by design\"",
);
const SECURITY_PLAIN_HTTP: Rule = rule(
    "security.plain_http_without_proxy",
    Error,
    "plain HTTP without a declared reverse proxy",
    "seed 000 \"Protecting stored and transmitted data\"",
);
const SECURITY_AUDIT_RETENTION: Rule = rule(
    "security.audit_retention_shorter_than_video",
    Warning,
    "access record kept for less time than some video",
    "seed 001 §40",
);
const ORG_STORAGE_OUTSIDE_EEA: Rule = rule(
    "organisation.storage_outside_eea",
    Error,
    "data or backups outside the EEA without a transfer basis",
    "seed 000 \"Backup the SQL Server databases\"; GDPR Art. 44",
);
const ORG_NO_OFF_SITE_BACKUP: Rule = rule(
    "organisation.no_off_site_backup",
    Warning,
    "no backup kept off site",
    "seed 001 §31",
);
const ORG_NO_CONTROLLER: Rule = rule(
    "organisation.no_controller",
    Error,
    "controller's name missing",
    "GDPR Art. 30(1)(a)",
);
const ORG_NO_CONTROLLER_CONTACT: Rule = rule(
    "organisation.no_controller_contact",
    Error,
    "controller's contact details missing",
    "GDPR Art. 30(1)(a)",
);
const ORG_NO_DPO_CONTACT: Rule = rule(
    "organisation.no_dpo_contact",
    Warning,
    "DPO's contact details missing",
    "GDPR Art. 13(1)(b)",
);
const ORG_NO_AUTHORITY: Rule = rule(
    "organisation.no_authority",
    Warning,
    "supervisory authority missing",
    "GDPR Art. 13(2)(d)",
);
const ORG_NO_INFORMATION_AT: Rule = rule(
    "organisation.no_information_at",
    Warning,
    "no place given where the full information is published",
    "seed 000 \"Appendix: On-the-spot notice\"",
);
const PROCESSOR_OUTSIDE_EEA: Rule = rule(
    "processor.outside_eea_without_basis",
    Error,
    "processor outside the EEA without a transfer basis",
    "GDPR Art. 44",
);

/// The catalogue: every rule the lint applies, with a stable id.
///
/// | id | severity | fires when | citation |
/// |---|---|---|---|
/// | `camera.no_purpose` | error | a camera has no documented purpose (it does not record, but is still configured and may be watched live) | seed 000 "Do you have a lawful basis for collecting data?" |
/// | `camera.purpose_incomplete` | error | a camera's purpose fails [`crate::model::Purpose::check`] against the organisation's sites (e.g. its site was removed) | seed 000 "Do you have a lawful basis for collecting data?" |
/// | `camera.retention_unjustified` | error | retention above 720 h (30 days) and its retention rule's `retention_rule_justification` is blank: the purpose's `retention_justification` does not count, since every purpose must have one and it justifies the ordinary period, not the exception | seed 000 "Retention period for typical security purposes: one week to one month" |
/// | `camera.public_retention_over_48h` | warning | a `public_facing` camera keeps video more than 48 h (exactly 48 h passes) | seed 000 "Member State or third-country territory: 48 hours" |
/// | `camera.residential_without_masks` | error | a `residential_adjacent` camera has no mask (windows **and doors** of homes must be masked) | seed 001 §18 |
/// | `camera.ptz_with_masks` | error | PTZ control is enabled on a camera with masks: masks are static in the picture and drift as the camera moves | seed 000 "Additional safeguards" |
/// | `camera.audio_without_purpose` | error | audio is recorded with a blank purpose | seed 000 "Additional safeguards" |
/// | `camera.metadata_without_purpose` | warning | ONVIF metadata is recorded with a blank purpose | seed 000 "Additional safeguards" |
/// | `camera.default_password` | error | the camera's password is a known factory default | seed 001 §34 |
/// | `camera.reused_password` | warning | another camera has the same password | seed 001 §34 |
/// | `camera.analytics_without_criteria` | error | an analytics rule on the camera has blank criteria (one finding per camera, naming the rules) | seed 001 §27 |
/// | `camera.identification_public` | warning | a `public_facing` camera's purpose asks for identification-level detail | seed 000 "Privacy by design" |
/// | `role.sensitive_without_second_factor` | error | a role grants `export`, `export.unencrypted`, `masks.lift`, `recordings.delete` or an administration permission ([`permission::ADMINISTRATION`]) without `require_second_factor`, whether or not anyone holds it yet | seed 001 §37 |
/// | `role.unencrypted_export` | warning | a role granting `export.unencrypted` has holders; a role nobody holds lets nobody do it, so it is not reported | seed 000 "Privacy by design and privacy by default" |
/// | `account.generic_name` | warning | an enabled account's login is a generic or shared name (see below) | seed 000 "User permissions management" |
/// | `account.admin_and_audit` | warning | an enabled account holds both administration and `audit.read` (through one role or several) | seed 000 "Protecting stored and transmitted data" |
/// | `account.policy_not_acknowledged` | warning | an enabled account acknowledged an older usage policy than `security.policy_version` (not reported while no policy is published) | seed 000 "VMS operator" |
/// | `account.training_expired` | warning | an enabled account's `training_valid_until` is before now | seed 000 "Data protection training" |
/// | `account.training_not_recorded` | info | an enabled account has no training recorded | seed 000 "Data protection training" |
/// | `account.access_review_overdue` | warning | an enabled account's last access review (its creation when never reviewed) plus `security.access_review_months` calendar months, in UTC, is before now (due exactly now passes; 31 August + 6 months is the last day of February, same time of day) | seed 000 "Privacy by design" |
/// | `account.maintenance_without_expiry` | error | an enabled account belonging to a processor has no expiry | seed 001 §39 |
/// | `account.maintenance_expiry_over_30_days` | warning | an enabled processor's account expires more than 30 days from now (exactly 30 days passes) | seed 001 §39 |
/// | `account.maintenance_unknown_processor` | error | an enabled account belongs to a processor not in the register | seed 000 "Data processor" |
/// | `security.too_many_administrators` | warning | more enabled accounts hold an administering role than `security.max_administrators` (exactly that many passes) | seed 000 "Privacy by design" |
/// | `security.no_usage_policy` | warning | `security.policy_version` is 0 | seed 000 "VMS operator" |
/// | `security.no_access_review` | warning | `security.access_review_months` is 0 (then no account is reported overdue) | seed 000 "Privacy by design" |
/// | `security.plain_http_without_proxy` | error | `tls` is `plain_behind_proxy` and `trusted_proxies` is 0 | seed 000 "Protecting stored and transmitted data" |
/// | `security.audit_retention_shorter_than_video` | warning | `audit_retention_days` × 24 h is less than the longest retention of any camera's video or unmasked original | seed 001 §40 |
/// | `organisation.storage_outside_eea` | error | the data directory, the object store or a backup is in a country outside the EEA and `storage.transfer_basis` is blank (one finding listing them) | seed 000 "Backup the SQL Server databases"; GDPR Art. 44 |
/// | `organisation.no_off_site_backup` | warning | no backup is marked `off_site` (or there is none) | seed 001 §31 |
/// | `organisation.no_controller` | error | the controller's name is blank | GDPR Art. 30(1)(a) |
/// | `organisation.no_controller_contact` | error | the controller has neither address, e-mail nor telephone | GDPR Art. 30(1)(a) |
/// | `organisation.no_dpo_contact` | warning | the DPO has neither address, e-mail nor telephone | GDPR Art. 13(1)(b) |
/// | `organisation.no_authority` | warning | the supervisory authority's name is blank | GDPR Art. 13(2)(d) |
/// | `organisation.no_information_at` | warning | the organisation does not say where the full information is published | seed 000 "Appendix: On-the-spot notice" |
/// | `processor.outside_eea_without_basis` | error | a processor's country is outside the EEA and its transfer basis is blank | GDPR Art. 44 |
///
/// Generic names: the login is lower-cased, cut at `@`, and a trailing run
/// of digits, `.`, `-` and `_` is removed (`Admin.02` → `admin`,
/// `user_1` → `user`); what is left must equal one of [`GENERIC_LOGINS`].
/// Only a numbering suffix is removed, so `manager.ana` or `ana.operator`
/// (a person's own account whose login mentions a job) are not reported:
/// few false positives, at the price of missing `operator.shop`.
pub const RULES: &[Rule] = &[
    CAMERA_NO_PURPOSE,
    CAMERA_PURPOSE_INCOMPLETE,
    CAMERA_RETENTION_UNJUSTIFIED,
    CAMERA_PUBLIC_RETENTION,
    CAMERA_RESIDENTIAL_UNMASKED,
    CAMERA_PTZ_WITH_MASKS,
    CAMERA_AUDIO_NO_PURPOSE,
    CAMERA_METADATA_NO_PURPOSE,
    CAMERA_DEFAULT_PASSWORD,
    CAMERA_REUSED_PASSWORD,
    CAMERA_ANALYTICS_NO_CRITERIA,
    CAMERA_IDENTIFICATION_PUBLIC,
    ROLE_NO_SECOND_FACTOR,
    ROLE_UNENCRYPTED_EXPORT,
    ACCOUNT_GENERIC_NAME,
    ACCOUNT_ADMIN_AND_AUDIT,
    ACCOUNT_POLICY_NOT_ACKNOWLEDGED,
    ACCOUNT_TRAINING_EXPIRED,
    ACCOUNT_TRAINING_NOT_RECORDED,
    ACCOUNT_REVIEW_OVERDUE,
    ACCOUNT_MAINTENANCE_NO_EXPIRY,
    ACCOUNT_MAINTENANCE_LONG_EXPIRY,
    ACCOUNT_MAINTENANCE_UNKNOWN_PROCESSOR,
    SECURITY_TOO_MANY_ADMINS,
    SECURITY_NO_USAGE_POLICY,
    SECURITY_NO_ACCESS_REVIEW,
    SECURITY_PLAIN_HTTP,
    SECURITY_AUDIT_RETENTION,
    ORG_STORAGE_OUTSIDE_EEA,
    ORG_NO_OFF_SITE_BACKUP,
    ORG_NO_CONTROLLER,
    ORG_NO_CONTROLLER_CONTACT,
    ORG_NO_DPO_CONTACT,
    ORG_NO_AUTHORITY,
    ORG_NO_INFORMATION_AT,
    PROCESSOR_OUTSIDE_EEA,
];

/// Logins that name a function, a place or nobody rather than a person
/// (compared after the suffix is removed, see [`RULES`]).
pub const GENERIC_LOGINS: &[&str] = &[
    "admin",
    "administrator",
    "camera",
    "cctv",
    "default",
    "demo",
    "everyone",
    "guest",
    "installer",
    "maintenance",
    "manager",
    "monitor",
    "office",
    "operator",
    "public",
    "reception",
    "root",
    "security",
    "service",
    "shared",
    "staff",
    "superuser",
    "supervisor",
    "support",
    "sysadmin",
    "system",
    "technician",
    "temp",
    "test",
    "tester",
    "user",
    "video",
    "viewer",
];

/// The retention above which a rule needs its own justification: 30 days.
const LONG_RETENTION_HOURS: u32 = 720;
/// The retention recommended for public-facing cameras.
const PUBLIC_RETENTION_HOURS: u32 = 48;
/// The longest a maintenance account should stay valid ahead.
const MAINTENANCE_MAX_DAYS: i64 = 30;
/// Deleting recordings early: sensitive like export (A7), though not an
/// administration permission.
const DELETE_RECORDINGS: &str = "recordings.delete";

fn finding(rule: &Rule, object: String, message: String, fix: impl Into<String>) -> Finding {
    Finding {
        rule: rule.id,
        severity: rule.severity,
        message,
        object,
        fix: fix.into(),
        citation: rule.citation,
    }
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

fn camera_object(c: &Camera) -> String {
    format!("camera:{} {:?}", c.id, c.name)
}

fn role_object(r: &Role) -> String {
    format!("role:{}", r.name)
}

fn account_object(a: &Account) -> String {
    format!("account:{}", a.id)
}

/// Checks the configuration; the findings are sorted by severity (error
/// first), then rule id, then object (ids compared as numbers).
pub fn lint(snapshot: &Snapshot, accounts: &[Account], now: Time90k) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in &snapshot.cameras {
        cameras(snapshot, c, &mut out);
    }
    for r in &snapshot.roles {
        roles(r, &mut out);
    }
    let enabled: Vec<&Account> = accounts.iter().filter(|a| !a.disabled).collect();
    for a in &enabled {
        account(snapshot, a, now, &mut out);
    }
    security(snapshot, &enabled, &mut out);
    organisation(snapshot, &mut out);
    for p in &snapshot.processors {
        if !p.country.is_empty() && !country::in_eea(&p.country) && blank(&p.transfer_basis) {
            out.push(finding(
                &PROCESSOR_OUTSIDE_EEA,
                format!("processor:{}", p.id),
                format!(
                    "Processor \"{}\" is in {}, outside the EEA, and no transfer basis is recorded.",
                    p.name, p.country
                ),
                "Record the transfer basis (adequacy decision, standard contractual clauses, …) \
                 in the register of processors on the DPO's desk, or choose a processor in the EEA.",
            ));
        }
    }
    out.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then_with(|| a.rule.cmp(b.rule))
            .then_with(|| object_order(&a.object, &b.object))
    });
    out
}

/// Orders `camera:10` after `camera:9`: the kind, then the id as a number,
/// then the rest.
fn object_order(a: &str, b: &str) -> Ordering {
    fn split(s: &str) -> (&str, Option<i64>, &str) {
        let Some((kind, rest)) = s.split_once(':') else {
            return (s, None, "");
        };
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '-')
            .unwrap_or(rest.len());
        match rest[..digits].parse() {
            Ok(n) => (kind, Some(n), &rest[digits..]),
            Err(_) => (kind, None, rest),
        }
    }
    split(a).cmp(&split(b))
}

fn cameras(snapshot: &Snapshot, c: &Camera, out: &mut Vec<Finding>) {
    let object = || camera_object(c);
    let settings = "on Administration → Cameras";
    match &c.purpose {
        None => out.push(finding(
            &CAMERA_NO_PURPOSE,
            object(),
            format!(
                "Camera \"{}\" has no documented purpose, so it does not record.",
                c.name
            ),
            format!(
                "Document its purposes, legal basis, level of detail, site and retention \
                 justification {settings}, or remove the camera."
            ),
        )),
        Some(p) => {
            if let Err(e) = p.check(&snapshot.organisation.sites) {
                out.push(finding(
                    &CAMERA_PURPOSE_INCOMPLETE,
                    object(),
                    format!("Camera \"{}\"'s purpose is incomplete: {e}.", c.name),
                    format!("Correct the purpose's {} {settings}.", e.field),
                ));
            }
            if c.area == "public_facing" && p.detail == Detail::Identification {
                out.push(finding(
                    &CAMERA_IDENTIFICATION_PUBLIC,
                    object(),
                    format!(
                        "Public-facing camera \"{}\" is meant to identify people: more detail \
                         than most purposes need about passers-by.",
                        c.name
                    ),
                    format!(
                        "Lower its level of detail to recognition or detection {settings} \
                         (and its resolution or angle), or restrict who may watch it to \
                         investigators."
                    ),
                ));
            }
        }
    }
    if c.retention_hours > LONG_RETENTION_HOURS && blank(&c.retention_rule_justification) {
        out.push(finding(
            &CAMERA_RETENTION_UNJUSTIFIED,
            object(),
            format!(
                "Camera \"{}\" keeps video for {} h, more than 30 days, and its retention \
                 rule gives no justification.",
                c.name, c.retention_hours
            ),
            "Shorten the retention to 30 days or less on Administration → Retention, or write \
             down why this camera needs longer in its retention rule's justification.",
        ));
    }
    if c.area == "public_facing" && c.retention_hours > PUBLIC_RETENTION_HOURS {
        out.push(finding(
            &CAMERA_PUBLIC_RETENTION,
            object(),
            format!(
                "Public-facing camera \"{}\" keeps video for {} h; 48 h is recommended where \
                 passers-by cannot be avoided.",
                c.name, c.retention_hours
            ),
            "Set its retention to 48 h on Administration → Retention, or turn the camera away \
             from the public area and change its area kind.",
        ));
    }
    if c.area == "residential_adjacent" && c.masks == 0 {
        out.push(finding(
            &CAMERA_RESIDENTIAL_UNMASKED,
            object(),
            format!(
                "Camera \"{}\" is next to homes and has no privacy mask.",
                c.name
            ),
            "Draw masks over every window and door of homes and hotels in view on \
             Administration → Cameras (Masks).",
        ));
    }
    if c.ptz_control && c.masks > 0 {
        out.push(finding(
            &CAMERA_PTZ_WITH_MASKS,
            object(),
            format!(
                "Camera \"{}\" has PTZ control enabled and {}: masks stay fixed in the \
                 picture and uncover what they hid when the camera moves.",
                c.name,
                plural(c.masks, "mask")
            ),
            format!(
                "Disable PTZ control {settings}, or use a camera with in-camera dynamic masks."
            ),
        ));
    }
    if c.audio.as_deref().is_some_and(blank) {
        out.push(finding(
            &CAMERA_AUDIO_NO_PURPOSE,
            object(),
            format!(
                "Camera \"{}\" records audio without a stated purpose.",
                c.name
            ),
            format!("Turn audio recording off {settings}, or write down why sound is needed."),
        ));
    }
    if c.metadata.as_deref().is_some_and(blank) {
        out.push(finding(
            &CAMERA_METADATA_NO_PURPOSE,
            object(),
            format!(
                "Camera \"{}\" records metadata without a stated purpose.",
                c.name
            ),
            format!("Turn metadata recording off {settings}, or write down why it is needed."),
        ));
    }
    if c.credentials.factory_default {
        out.push(finding(
            &CAMERA_DEFAULT_PASSWORD,
            object(),
            format!("Camera \"{}\" uses its factory-default password.", c.name),
            format!("Change the password on the camera, then enter the new one {settings}."),
        ));
    }
    if c.credentials.reused {
        out.push(finding(
            &CAMERA_REUSED_PASSWORD,
            object(),
            format!(
                "Camera \"{}\" has the same password as another camera.",
                c.name
            ),
            format!("Give each camera its own password on the camera, then enter it {settings}."),
        ));
    }
    let undocumented: Vec<String> = c
        .analytics
        .iter()
        .filter(|a| blank(&a.criteria))
        .map(|a| format!("{:?}", a.name))
        .collect();
    if !undocumented.is_empty() {
        out.push(finding(
            &CAMERA_ANALYTICS_NO_CRITERIA,
            object(),
            format!(
                "Camera \"{}\" runs analytics rules without documented criteria: {}.",
                c.name,
                undocumented.join(", ")
            ),
            "Write down what each rule detects and when it alerts, or turn the rule off.",
        ));
    }
}

fn sensitive(r: &Role) -> Vec<&str> {
    r.permissions
        .iter()
        .map(String::as_str)
        .filter(|p| {
            *p == permission::EXPORT
                || *p == permission::EXPORT_UNENCRYPTED
                || *p == permission::LIFT_MASKS
                || *p == DELETE_RECORDINGS
                || permission::ADMINISTRATION.contains(p)
        })
        .collect()
}

fn roles(r: &Role, out: &mut Vec<Finding>) {
    let granted = sensitive(r);
    if !granted.is_empty() && !r.require_second_factor {
        out.push(finding(
            &ROLE_NO_SECOND_FACTOR,
            role_object(r),
            format!(
                "Role \"{}\" grants {} without a second factor (held by {}).",
                r.name,
                granted.join(", "),
                plural(r.holders, "account")
            ),
            "Tick \"Require a second factor\" for the role on Administration → Roles.",
        ));
    }
    if r.grants(permission::EXPORT_UNENCRYPTED) && r.holders > 0 {
        out.push(finding(
            &ROLE_UNENCRYPTED_EXPORT,
            role_object(r),
            format!(
                "Role \"{}\" lets {} export video without encryption: whoever gets the \
                 file can watch it.",
                r.name,
                plural(r.holders, "account")
            ),
            "Remove export.unencrypted from the role on Administration → Roles; encrypted \
             exports (passphrase or recipients' keys) serve most recipients.",
        ));
    }
}

/// The login reduced as [`RULES`] describes, if it is a generic name.
fn generic_login(login: &str) -> Option<&'static str> {
    let lower = login.to_lowercase();
    let local = lower.split('@').next().unwrap_or_default();
    let base = local.trim_end_matches(|c: char| c.is_ascii_digit() || matches!(c, '.' | '-' | '_'));
    GENERIC_LOGINS.iter().copied().find(|g| *g == base)
}

fn roles_of<'a>(snapshot: &'a Snapshot, a: &'a Account) -> impl Iterator<Item = &'a Role> + 'a {
    a.roles.iter().filter_map(|n| snapshot.role(n))
}

fn administers(snapshot: &Snapshot, a: &Account) -> bool {
    roles_of(snapshot, a).any(Role::administers)
}

fn date(t: Time90k) -> NaiveDate {
    t.to_chrono().date_naive()
}

fn account(snapshot: &Snapshot, a: &Account, now: Time90k, out: &mut Vec<Finding>) {
    let object = || account_object(a);
    let users = "on Administration → Users";
    if let Some(g) = generic_login(&a.login) {
        out.push(finding(
            &ACCOUNT_GENERIC_NAME,
            object(),
            format!(
                "Login {:?} is a generic name (\"{g}\"): whoever uses it cannot be told apart.",
                a.login
            ),
            format!(
                "Give each person their own account named after them {users} and disable \
                 this one."
            ),
        ));
    }
    if administers(snapshot, a) && roles_of(snapshot, a).any(|r| r.grants(permission::AUDIT_READ)) {
        out.push(finding(
            &ACCOUNT_ADMIN_AND_AUDIT,
            object(),
            "The account both administers the system and reads the access record that \
             watches administrators."
                .into(),
            format!(
                "Give reading the access record (audit.read) to someone who does not \
                 administer, {users} or on Administration → Roles."
            ),
        ));
    }
    let policy = snapshot.security.policy_version;
    if policy > 0 && a.policy_ack_version < policy {
        out.push(finding(
            &ACCOUNT_POLICY_NOT_ACKNOWLEDGED,
            object(),
            format!(
                "The account acknowledged usage policy version {}, not the current version {}.",
                a.policy_ack_version, policy
            ),
            "Ask the user to sign in and acknowledge the current policy (shown at sign-in), \
             or disable the account.",
        ));
    }
    match a.training_valid_until {
        Some(t) if t < now => out.push(finding(
            &ACCOUNT_TRAINING_EXPIRED,
            object(),
            format!(
                "The account's data-protection training expired on {}.",
                date(t)
            ),
            format!("Have the user retrained and record the new validity {users}."),
        )),
        Some(_) => {}
        None => out.push(finding(
            &ACCOUNT_TRAINING_NOT_RECORDED,
            object(),
            "No data-protection training is recorded for the account.".into(),
            format!("Record when the user's training is valid until {users}."),
        )),
    }
    let months = snapshot.security.access_review_months;
    if months > 0 {
        let since = a.last_access_review.unwrap_or(a.created);
        let due = crate::model::review_due(since, months);
        if now > due {
            out.push(finding(
                &ACCOUNT_REVIEW_OVERDUE,
                object(),
                format!(
                    "The account's roles were due for review on {} ({} since {} {}).",
                    date(due),
                    plural(months, "month"),
                    if a.last_access_review.is_some() {
                        "its last review on"
                    } else {
                        "its creation on"
                    },
                    date(since)
                ),
                "Confirm or revoke its roles in the access review on the DPO's desk.",
            ));
        }
    }
    if let Some(processor) = a.processor {
        if !snapshot.processors.iter().any(|p| p.id == processor) {
            out.push(finding(
                &ACCOUNT_MAINTENANCE_UNKNOWN_PROCESSOR,
                object(),
                format!(
                    "The maintenance account belongs to processor {processor}, which is not in \
                     the register of processors."
                ),
                format!(
                    "Add the processor and its agreement to the register on the DPO's desk, or \
                     disable the account {users}."
                ),
            ));
        }
        match a.expires {
            None => out.push(finding(
                &ACCOUNT_MAINTENANCE_NO_EXPIRY,
                object(),
                "The maintenance account never expires.".into(),
                format!(
                    "Set an expiry at the end of the planned intervention {users}, at most 30 \
                     days ahead."
                ),
            )),
            Some(e) if e.0 - now.0 > MAINTENANCE_MAX_DAYS * DAY => out.push(finding(
                &ACCOUNT_MAINTENANCE_LONG_EXPIRY,
                object(),
                format!(
                    "The maintenance account stays valid until {}, more than 30 days ahead.",
                    date(e)
                ),
                format!("Shorten its expiry to the planned intervention {users}."),
            )),
            Some(_) => {}
        }
    }
}

const DAY: i64 = 86_400 * veil_base::TIME_UNITS_PER_SEC;

fn plural(n: u32, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn security(snapshot: &Snapshot, enabled: &[&Account], out: &mut Vec<Finding>) {
    let sec = &snapshot.security;
    let object = || "security".to_string();
    let admins = enabled.iter().filter(|a| administers(snapshot, a)).count();
    if admins > sec.max_administrators as usize {
        out.push(finding(
            &SECURITY_TOO_MANY_ADMINS,
            object(),
            format!(
                "{} enabled {} an administering role; at most {} should.",
                plural(admins as u32, "account"),
                if admins == 1 { "holds" } else { "hold" },
                sec.max_administrators
            ),
            "Take administering roles from those who do not need them on Administration → \
             Users (or raise max_administrators in the [dpo] section of the configuration \
             if the need is documented).",
        ));
    }
    if sec.policy_version == 0 {
        out.push(finding(
            &SECURITY_NO_USAGE_POLICY,
            object(),
            "No usage policy is published, so no user has acknowledged the rules of use.".into(),
            "Publish the usage policy on Administration → Policy; users acknowledge it at \
             their next sign-in.",
        ));
    }
    if sec.access_review_months == 0 {
        out.push(finding(
            &SECURITY_NO_ACCESS_REVIEW,
            object(),
            "No period is set for reviewing accounts' roles, so no review is ever due.".into(),
            "Set access_review_months in the [dpo] section of the configuration (6 is usual).",
        ));
    }
    if sec.tls == "plain_behind_proxy" && sec.trusted_proxies == 0 {
        out.push(finding(
            &SECURITY_PLAIN_HTTP,
            object(),
            "The server speaks plain HTTP and no reverse proxy is declared to encrypt its \
             traffic: passwords and video cross the network in clear."
                .into(),
            "Declare the reverse proxy that does TLS in trusted_proxies in the configuration, \
             or serve HTTPS directly ([tls] mode = \"self-signed\" or \"files\").",
        ));
    }
    let longest = snapshot
        .cameras
        .iter()
        .map(|c| {
            c.retention_hours
                .max(c.original_retention_hours.unwrap_or(0))
        })
        .max()
        .unwrap_or(0);
    if u64::from(sec.audit_retention_days) * 24 < u64::from(longest) {
        out.push(finding(
            &SECURITY_AUDIT_RETENTION,
            object(),
            format!(
                "The access record is kept {} but some video {} h: who watched or exported \
                 it could no longer be shown.",
                plural(sec.audit_retention_days, "day"),
                longest
            ),
            format!(
                "Keep the access record at least {} days (retention_days in the [audit] \
                 section of the configuration), or shorten the video's retention.",
                longest.div_ceil(24)
            ),
        ));
    }
}

fn organisation(snapshot: &Snapshot, out: &mut Vec<Finding>) {
    let org = &snapshot.organisation;
    let object = || "organisation".to_string();
    let profile = "in the organisation profile on the DPO's desk";
    let outside = org.outside_eea();
    if !outside.is_empty() && blank(&org.storage.transfer_basis) {
        let places: Vec<String> = outside
            .iter()
            .map(|(what, country)| format!("{what} in {country}"))
            .collect();
        out.push(finding(
            &ORG_STORAGE_OUTSIDE_EEA,
            object(),
            format!(
                "Data is kept outside the EEA without a transfer basis: {}.",
                places.join(", ")
            ),
            format!(
                "Keep the data and backups in the EEA, or record the transfer basis \
                 (storage.transfer_basis) {profile}."
            ),
        ));
    }
    if !org.storage.backups.iter().any(|b| b.off_site) {
        out.push(finding(
            &ORG_NO_OFF_SITE_BACKUP,
            object(),
            if org.storage.backups.is_empty() {
                "No backup is declared.".to_string()
            } else {
                "No backup is kept away from the recording site.".to_string()
            },
            format!(
                "Keep a backup in another building or with another provider in the EEA and \
                 declare it (off site) {profile}."
            ),
        ));
    }
    let no_contact =
        |p: &crate::model::Party| blank(&p.address) && blank(&p.email) && blank(&p.phone);
    if blank(&org.controller.name) {
        out.push(finding(
            &ORG_NO_CONTROLLER,
            object(),
            "The controller's name is not set.".into(),
            format!("Enter the controller's name {profile}."),
        ));
    }
    if no_contact(&org.controller) {
        out.push(finding(
            &ORG_NO_CONTROLLER_CONTACT,
            object(),
            "The controller has no address, e-mail or telephone.".into(),
            format!("Enter the controller's contact details {profile}."),
        ));
    }
    if no_contact(&org.dpo) {
        out.push(finding(
            &ORG_NO_DPO_CONTACT,
            object(),
            "The data-protection officer has no address, e-mail or telephone.".into(),
            format!("Enter how to reach the DPO {profile} (an office's e-mail is enough)."),
        ));
    }
    if blank(&org.authority.name) {
        out.push(finding(
            &ORG_NO_AUTHORITY,
            object(),
            "The supervisory authority data subjects may complain to is not set.".into(),
            format!("Enter the supervisory authority {profile}."),
        ));
    }
    if blank(&org.information_at) {
        out.push(finding(
            &ORG_NO_INFORMATION_AT,
            object(),
            "The notices cannot say where the full information (the video surveillance \
             policy) is published."
                .into(),
            format!(
                "Enter where the policy is published (a web address, \"at reception\") {profile}."
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{self, days, NOW};
    use crate::model::{Analytics, Backup, LegalBasis, Processor};
    use chrono::TimeZone;

    /// The (rule, object) pairs `lint` finds, in its order.
    fn fired(s: &Snapshot, a: &[Account], now: Time90k) -> Vec<(&'static str, String)> {
        lint(s, a, now)
            .into_iter()
            .map(|f| (f.rule, f.object))
            .collect()
    }

    /// Asserts the lint finds exactly `expected` on the snapshot and
    /// accounts `change` makes of the fixture's.
    fn check(change: impl FnOnce(&mut Snapshot, &mut Vec<Account>), expected: &[(&str, &str)]) {
        let mut s = fixture::snapshot();
        let mut a = fixture::accounts();
        change(&mut s, &mut a);
        let got = fired(&s, &a, NOW);
        let want: Vec<(&str, String)> = expected.iter().map(|(r, o)| (*r, o.to_string())).collect();
        assert_eq!(got, want, "{:#?}", lint(&s, &a, NOW));
    }

    fn at(y: i32, m: u32, d: u32, h: u32) -> Time90k {
        Time90k::from_chrono(chrono::Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap())
    }

    #[test]
    fn fixture_is_compliant() {
        assert_eq!(
            lint(&fixture::snapshot(), &fixture::accounts(), NOW),
            Vec::new()
        );
        assert_eq!(summary(&[]), Summary::default());
    }

    #[test]
    fn catalogue_ids_are_unique_documented_and_well_formed() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len(), "duplicate rule ids");
        let source = include_str!("lint.rs");
        for r in RULES {
            let (area, what) = r.id.split_once('.').expect("area.what");
            assert!(
                [
                    "camera",
                    "role",
                    "account",
                    "security",
                    "organisation",
                    "processor"
                ]
                .contains(&area),
                "{}",
                r.id
            );
            assert!(
                what.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                r.id
            );
            assert!(!r.title.is_empty() && !r.citation.is_empty(), "{}", r.id);
            // The rustdoc table of RULES lists it with its severity and citation.
            let row = format!("/// | `{}` | {} | ", r.id, r.severity.id());
            let line = source
                .lines()
                .find(|l| l.starts_with(&row))
                .unwrap_or_else(|| panic!("{} missing from the catalogue's table", r.id));
            assert!(
                line.ends_with(&format!("| {} |", r.citation)),
                "{}: the table's citation differs",
                r.id
            );
        }
        let rows = source.lines().filter(|l| l.starts_with("/// | `")).count();
        assert_eq!(rows, RULES.len(), "the table lists a rule RULES lacks");
    }

    /// A configuration where every rule fires at least once.
    fn everything_wrong() -> (Snapshot, Vec<Account>) {
        let mut s = fixture::snapshot();
        let mut a = fixture::accounts();
        s.cameras[0].purpose = None;
        s.cameras[0].retention_hours = 800;
        s.cameras[0].ptz_control = true;
        s.cameras[0].audio = Some(String::new());
        s.cameras[0].metadata = Some(" ".into());
        s.cameras[0].credentials.factory_default = true;
        s.cameras[0].credentials.reused = true;
        s.cameras[0].analytics.push(Analytics {
            name: "loitering".into(),
            criteria: String::new(),
        });
        s.cameras[1].purpose.as_mut().unwrap().site = "gone".into();
        s.cameras[1].area = "public_facing".into();
        s.cameras[2].masks = 0;
        s.roles[0].permissions.push("export.unencrypted".into());
        s.roles[1].permissions.push("audit.read".into());
        s.security = crate::model::Security {
            tls: "plain_behind_proxy".into(),
            max_administrators: 0,
            ..Default::default()
        };
        s.organisation = Default::default();
        s.organisation.storage.data_country = "US".into();
        s.processors[0].country = "US".into();
        a[0].login = "admin".into();
        a[1].training_valid_until = Some(Time90k(NOW.0 - 1));
        a[2].training_valid_until = None;
        a[3].processor = Some(1);
        a[4].processor = Some(9);
        a[4].expires = Some(Time90k(NOW.0 + days(60)));
        s.security.policy_version = 0;
        (s, a)
    }

    #[test]
    fn every_finding_matches_its_rule_and_findings_are_sorted() {
        let (s, a) = everything_wrong();
        let findings = lint(&s, &a, NOW);
        for f in &findings {
            let r = RULES
                .iter()
                .find(|r| r.id == f.rule)
                .unwrap_or_else(|| panic!("{} not in RULES", f.rule));
            assert_eq!(f.severity, r.severity, "{}", f.rule);
            assert_eq!(f.citation, r.citation, "{}", f.rule);
            assert!(!f.message.is_empty() && !f.fix.is_empty(), "{}", f.rule);
        }
        // Sorted: severity, rule id, object.
        for w in findings.windows(2) {
            let (x, y) = (&w[0], &w[1]);
            assert!(
                (x.severity, x.rule) < (y.severity, y.rule)
                    || ((x.severity, x.rule) == (y.severity, y.rule)
                        && object_order(&x.object, &y.object) == Ordering::Less),
                "{x:?} before {y:?}"
            );
        }
        // Every rule fires here but two, each excluded by one that does (no
        // policy published, no review period set); the tests below fire them.
        const EXCLUDED: [&str; 2] = [
            "account.policy_not_acknowledged",
            "account.access_review_overdue",
        ];
        let mut fired: Vec<&str> = findings.iter().map(|f| f.rule).collect();
        fired.dedup();
        let missing: Vec<&str> = RULES
            .iter()
            .map(|r| r.id)
            .filter(|id| !fired.contains(id) && !EXCLUDED.contains(id))
            .collect();
        assert_eq!(missing, Vec::<&str>::new());
        let sum = summary(&findings);
        assert_eq!(sum.errors + sum.warnings + sum.infos, findings.len());
        assert_eq!(
            sum.infos,
            findings.iter().filter(|f| f.severity == Info).count()
        );
        assert!(sum.errors > 0 && sum.warnings > 0 && sum.infos == 1);
        let json = serde_json::to_value(&findings[0]).unwrap();
        assert_eq!(json["severity"], "error");
        assert_eq!(
            serde_json::to_value(sum).unwrap()["infos"],
            serde_json::json!(1)
        );
    }

    #[test]
    fn severity_ids_and_order() {
        assert_eq!(Severity::Error.id(), "error");
        assert_eq!(Severity::Warning.id(), "warning");
        assert_eq!(Severity::Info.id(), "info");
        assert!(Severity::Error < Severity::Warning && Severity::Warning < Severity::Info);
        assert_eq!(
            serde_json::to_value(Severity::Warning).unwrap(),
            serde_json::json!("warning")
        );
    }

    #[test]
    fn objects_order_ids_as_numbers() {
        let mut objects = vec![
            "camera:10 \"B\"",
            "camera:9 \"A\"",
            "account:2",
            "account:11",
            "organisation",
        ];
        objects.sort_by(|a, b| object_order(a, b));
        assert_eq!(
            objects,
            [
                "account:2",
                "account:11",
                "camera:9 \"A\"",
                "camera:10 \"B\"",
                "organisation"
            ]
        );
    }

    // ---- cameras ----

    #[test]
    fn camera_without_purpose() {
        check(
            |s, _| s.cameras[1].purpose = None,
            &[("camera.no_purpose", "camera:2 \"Till\"")],
        );
    }

    #[test]
    fn camera_purpose_incomplete() {
        check(
            |s, _| s.organisation.sites.retain(|x| x.id != "depot"),
            &[("camera.purpose_incomplete", "camera:3 \"Yard\"")],
        );
        let mut s = fixture::snapshot();
        s.cameras[0].purpose.as_mut().unwrap().balancing_note = "short".into();
        let f = lint(&s, &fixture::accounts(), NOW);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("balancing_note"), "{}", f[0].message);
        assert!(f[0].fix.contains("balancing_note"), "{}", f[0].fix);
    }

    #[test]
    fn retention_above_30_days_needs_the_rules_justification() {
        check(
            |s, _| s.cameras[1].retention_hours = 721,
            &[("camera.retention_unjustified", "camera:2 \"Till\"")],
        );
        // Exactly 720 h passes.
        check(|s, _| s.cameras[1].retention_hours = 720, &[]);
        // The purpose's justification (always present) does not count; the
        // rule's does, and blank is none.
        check(
            |s, _| {
                s.cameras[1].retention_hours = 2000;
                s.cameras[1].retention_rule_justification = "  ".into();
            },
            &[("camera.retention_unjustified", "camera:2 \"Till\"")],
        );
        check(
            |s, _| {
                s.cameras[1].retention_hours = 2000;
                s.cameras[1].retention_rule_justification =
                    "Insurer requires 90 days for the cash office.".into();
            },
            &[],
        );
    }

    #[test]
    fn public_facing_retention_above_48h() {
        // The fixture's entrance keeps exactly 48 h: passes.
        assert_eq!(fixture::snapshot().cameras[0].retention_hours, 48);
        check(
            |s, _| s.cameras[0].retention_hours = 49,
            &[("camera.public_retention_over_48h", "camera:1 \"Entrance\"")],
        );
        // Other areas may keep longer.
        check(|s, _| s.cameras[1].retention_hours = 200, &[]);
    }

    #[test]
    fn residential_adjacent_without_masks() {
        check(
            |s, _| {
                s.cameras[2].masks = 0;
                s.cameras[2].liftable_masks = 0;
            },
            &[("camera.residential_without_masks", "camera:3 \"Yard\"")],
        );
        // A workplace camera needs none.
        check(|s, _| s.cameras[1].masks = 0, &[]);
    }

    #[test]
    fn ptz_with_masks() {
        check(
            |s, _| s.cameras[2].ptz_control = true,
            &[("camera.ptz_with_masks", "camera:3 \"Yard\"")],
        );
        // PTZ without masks is fine.
        check(|s, _| s.cameras[1].ptz_control = true, &[]);
    }

    #[test]
    fn audio_and_metadata_without_purpose() {
        check(
            |s, _| s.cameras[1].audio = Some(String::new()),
            &[("camera.audio_without_purpose", "camera:2 \"Till\"")],
        );
        check(
            |s, _| s.cameras[1].metadata = Some(" \n".into()),
            &[("camera.metadata_without_purpose", "camera:2 \"Till\"")],
        );
        check(
            |s, _| {
                s.cameras[1].audio = Some("Recording threats at the cash desk".into());
                s.cameras[1].metadata = Some("Motion events for search".into());
            },
            &[],
        );
    }

    #[test]
    fn camera_passwords() {
        check(
            |s, _| s.cameras[0].credentials.factory_default = true,
            &[("camera.default_password", "camera:1 \"Entrance\"")],
        );
        check(
            |s, _| {
                s.cameras[0].credentials.reused = true;
                s.cameras[2].credentials.reused = true;
            },
            &[
                ("camera.reused_password", "camera:1 \"Entrance\""),
                ("camera.reused_password", "camera:3 \"Yard\""),
            ],
        );
    }

    #[test]
    fn analytics_without_criteria() {
        let rule = |name: &str, criteria: &str| Analytics {
            name: name.into(),
            criteria: criteria.into(),
        };
        check(
            |s, _| {
                s.cameras[2].analytics = vec![
                    rule("fence line", "A person crossing the fence line at night"),
                    rule("loitering", ""),
                ]
            },
            &[("camera.analytics_without_criteria", "camera:3 \"Yard\"")],
        );
        let mut s = fixture::snapshot();
        s.cameras[2].analytics = vec![rule("a", " "), rule("b", "")];
        let f = lint(&s, &fixture::accounts(), NOW);
        assert_eq!(f.len(), 1, "one finding per camera");
        assert!(f[0].message.contains("\"a\", \"b\""), "{}", f[0].message);
        check(
            |s, _| s.cameras[2].analytics = vec![rule("fence", "crossing at night")],
            &[],
        );
    }

    #[test]
    fn identification_on_a_public_facing_camera() {
        check(
            |s, _| s.cameras[0].purpose.as_mut().unwrap().detail = Detail::Identification,
            &[("camera.identification_public", "camera:1 \"Entrance\"")],
        );
        // The fixture's till (workplace) asks for identification: fine.
        assert_eq!(
            fixture::snapshot().cameras[1]
                .purpose
                .as_ref()
                .unwrap()
                .detail,
            Detail::Identification
        );
    }

    // ---- roles ----

    #[test]
    fn sensitive_role_without_second_factor() {
        for p in [
            "export",
            "export.unencrypted",
            "masks.lift",
            "recordings.delete",
            "cameras.admin",
            "masks.admin",
            "retention.admin",
            "users.admin",
            "recording.control",
        ] {
            let mut s = fixture::snapshot();
            s.roles[0].permissions.push(p.into());
            let mut want = vec![(
                "role.sensitive_without_second_factor",
                "role:operator".to_string(),
            )];
            if p == "export.unencrypted" {
                want.push(("role.unencrypted_export", "role:operator".to_string()));
            }
            if permission::ADMINISTRATION.contains(&p) {
                // Three operators become administrators too (max 3, plus maria).
                want.push(("security.too_many_administrators", "security".to_string()));
            }
            assert_eq!(fired(&s, &fixture::accounts(), NOW), want, "{p}");
        }
        check(
            |s, _| s.roles[3].require_second_factor = false,
            &[("role.sensitive_without_second_factor", "role:investigator")],
        );
        // Held by nobody: still reported, it is configuration.
        check(
            |s, _| {
                s.roles[3].require_second_factor = false;
                s.roles[3].holders = 0;
            },
            &[("role.sensitive_without_second_factor", "role:investigator")],
        );
        // Watching and playback alone need no second factor (the operator).
        assert!(!fixture::snapshot().roles[0].require_second_factor);
    }

    #[test]
    fn unencrypted_export_with_holders() {
        check(
            |s, _| s.roles[3].permissions.push("export.unencrypted".into()),
            &[("role.unencrypted_export", "role:investigator")],
        );
        check(
            |s, _| {
                s.roles[3].permissions.push("export.unencrypted".into());
                s.roles[3].holders = 0;
            },
            &[],
        );
    }

    // ---- accounts ----

    #[test]
    fn generic_login_names() {
        for login in [
            "admin",
            "Admin",
            "ADMINISTRATOR",
            "admin2",
            "admin.02",
            "user_1",
            "guest-3",
            "operator",
            "cctv",
            "reception",
            "test.",
            "root@shop.example",
        ] {
            assert!(generic_login(login).is_some(), "{login}");
        }
        for login in [
            "maria.santos",
            "manager.ana",
            "ana.operator",
            "administration",
            "rootkit",
            "joao.admin",
            "adminana",
            "security-desk",
            "guard01",
        ] {
            assert_eq!(generic_login(login), None, "{login}");
        }
        check(
            |_, a| a[1].login = "Operator2".into(),
            &[("account.generic_name", "account:2")],
        );
        let mut a = fixture::accounts();
        a[1].login = "Operator2".into();
        let f = lint(&fixture::snapshot(), &a, NOW);
        assert!(f[0].message.contains("\"Operator2\""), "{}", f[0].message);
        assert!(!f[0].object.contains("Operator2"));
        // Disabled accounts are ignored.
        check(
            |_, a| {
                a[1].login = "admin".into();
                a[1].disabled = true;
            },
            &[],
        );
    }

    #[test]
    fn no_login_in_objects_or_other_messages() {
        let (s, a) = everything_wrong();
        for f in lint(&s, &a, NOW) {
            // Personal logins (a generic one like "admin" is also a word).
            for account in a.iter().filter(|x| generic_login(&x.login).is_none()) {
                assert!(!f.object.contains(&account.login), "{f:?}");
                if f.rule != "account.generic_name" {
                    assert!(!f.message.contains(&account.login), "{f:?}");
                }
            }
        }
    }

    #[test]
    fn administrator_and_audit_reader_in_one_account() {
        check(
            |_, a| a[0].roles.push("auditor".into()),
            &[("account.admin_and_audit", "account:1")],
        );
        // Through one role granting both.
        check(
            |s, _| s.roles[1].permissions.push("audit.read".into()),
            &[("account.admin_and_audit", "account:1")],
        );
        // Disabled: ignored.
        check(
            |_, a| {
                a[0].roles.push("auditor".into());
                a[0].disabled = true;
            },
            &[],
        );
    }

    #[test]
    fn more_administrators_than_allowed() {
        // Exactly max_administrators (3) passes.
        check(
            |_, a| {
                a[1].roles.push("administrator".into());
                a[2].roles.push("administrator".into());
            },
            &[],
        );
        check(
            |_, a| {
                for x in &mut a[1..4] {
                    x.roles.push("administrator".into());
                }
            },
            &[("security.too_many_administrators", "security")],
        );
        // A disabled fourth does not count; a role not in the snapshot grants nothing.
        check(
            |_, a| {
                for x in &mut a[1..4] {
                    x.roles.push("administrator".into());
                }
                a[3].disabled = true;
                a[4].roles.push("ghost".into());
            },
            &[],
        );
    }

    #[test]
    fn usage_policy_acknowledgement() {
        check(
            |_, a| a[2].policy_ack_version = 1,
            &[("account.policy_not_acknowledged", "account:3")],
        );
        check(
            |_, a| {
                a[2].policy_ack_version = 1;
                a[2].disabled = true;
            },
            &[],
        );
        // No policy published: one finding, none per account.
        check(
            |s, a| {
                s.security.policy_version = 0;
                for x in a.iter_mut() {
                    x.policy_ack_version = 0;
                }
            },
            &[("security.no_usage_policy", "security")],
        );
    }

    #[test]
    fn training_expired_or_not_recorded() {
        check(
            |_, a| a[4].training_valid_until = Some(Time90k(NOW.0 - 1)),
            &[("account.training_expired", "account:5")],
        );
        // Valid until exactly now: not yet expired.
        check(|_, a| a[4].training_valid_until = Some(NOW), &[]);
        check(
            |_, a| a[4].training_valid_until = None,
            &[("account.training_not_recorded", "account:5")],
        );
    }

    #[test]
    fn access_review_overdue_by_calendar_months() {
        // NOW is 2026-11-02T10:00Z; the period is 6 months.
        // Reviewed 2026-05-02T10:00Z: due exactly now, passes.
        check(
            |_, a| a[1].last_access_review = Some(at(2026, 5, 2, 10)),
            &[],
        );
        check(
            |_, a| a[1].last_access_review = Some(at(2026, 5, 2, 9)),
            &[("account.access_review_overdue", "account:2")],
        );
        // Never reviewed: counted from its creation (400 days ago).
        check(
            |_, a| a[1].last_access_review = None,
            &[("account.access_review_overdue", "account:2")],
        );
        check(
            |_, a| {
                a[1].last_access_review = None;
                a[1].created = at(2026, 6, 1, 0);
            },
            &[],
        );
        // Disabled: ignored.
        check(
            |_, a| {
                a[1].last_access_review = None;
                a[1].disabled = true;
            },
            &[],
        );
        // 31 August + 6 months is 28 February.
        let s = fixture::snapshot();
        let mut a = fixture::accounts();
        a.truncate(1);
        a[0].created = at(2026, 8, 31, 12);
        a[0].last_access_review = None;
        a[0].training_valid_until = Some(at(2030, 1, 1, 0));
        assert_eq!(fired(&s, &a, at(2027, 2, 28, 12)), Vec::new());
        assert_eq!(
            fired(&s, &a, at(2027, 2, 28, 13)),
            vec![("account.access_review_overdue", "account:1".to_string())]
        );
        let f = lint(&s, &a, at(2027, 2, 28, 13));
        assert!(f[0].message.contains("2027-02-28"), "{}", f[0].message);
        // No period set: one finding, none per account.
        check(
            |s, a| {
                s.security.access_review_months = 0;
                a[1].last_access_review = None;
            },
            &[("security.no_access_review", "security")],
        );
    }

    #[test]
    fn maintenance_accounts() {
        check(
            |_, a| a[2].processor = Some(1),
            &[("account.maintenance_without_expiry", "account:3")],
        );
        // Exactly 30 days ahead passes; a tick more does not.
        check(
            |_, a| {
                a[2].processor = Some(1);
                a[2].expires = Some(Time90k(NOW.0 + days(30)));
            },
            &[],
        );
        check(
            |_, a| {
                a[2].processor = Some(1);
                a[2].expires = Some(Time90k(NOW.0 + days(30) + 1));
            },
            &[("account.maintenance_expiry_over_30_days", "account:3")],
        );
        check(
            |_, a| {
                a[2].processor = Some(7);
                a[2].expires = Some(Time90k(NOW.0 + days(2)));
            },
            &[("account.maintenance_unknown_processor", "account:3")],
        );
        check(
            |_, a| {
                a[2].processor = Some(7);
                a[2].disabled = true;
            },
            &[],
        );
    }

    // ---- security ----

    #[test]
    fn plain_http_without_proxy() {
        check(
            |s, _| s.security.tls = "plain_behind_proxy".into(),
            &[("security.plain_http_without_proxy", "security")],
        );
        check(
            |s, _| {
                s.security.tls = "plain_behind_proxy".into();
                s.security.trusted_proxies = 1;
            },
            &[],
        );
    }

    #[test]
    fn access_record_kept_shorter_than_video() {
        check(
            |s, _| s.security.audit_retention_days = 2,
            &[("security.audit_retention_shorter_than_video", "security")],
        );
        // 3 days = the longest video (72 h): passes.
        check(|s, _| s.security.audit_retention_days = 3, &[]);
        // Unmasked originals count too.
        check(
            |s, _| {
                s.security.audit_retention_days = 3;
                s.cameras[2].original_retention_hours = Some(73);
            },
            &[("security.audit_retention_shorter_than_video", "security")],
        );
    }

    // ---- organisation and processors ----

    #[test]
    fn storage_outside_the_eea() {
        check(
            |s, _| {
                s.organisation.storage.backups.push(Backup {
                    description: "cloud copy".into(),
                    country: "US".into(),
                    off_site: true,
                })
            },
            &[("organisation.storage_outside_eea", "organisation")],
        );
        check(
            |s, _| {
                s.organisation.storage.object_store_country = "US".into();
                s.organisation.storage.transfer_basis =
                    "Standard contractual clauses (2021/914)".into();
            },
            &[],
        );
        // Iceland and Norway are in the EEA.
        check(
            |s, _| s.organisation.storage.object_store_country = "NO".into(),
            &[],
        );
    }

    #[test]
    fn no_off_site_backup() {
        check(
            |s, _| s.organisation.storage.backups[0].off_site = false,
            &[("organisation.no_off_site_backup", "organisation")],
        );
        check(
            |s, _| s.organisation.storage.backups.clear(),
            &[("organisation.no_off_site_backup", "organisation")],
        );
    }

    #[test]
    fn organisation_profile_incomplete() {
        check(
            |s, _| s.organisation.controller.name = " ".into(),
            &[("organisation.no_controller", "organisation")],
        );
        check(
            |s, _| {
                let c = &mut s.organisation.controller;
                c.address.clear();
                c.email.clear();
                c.phone.clear();
            },
            &[("organisation.no_controller_contact", "organisation")],
        );
        // One way to reach the controller is enough.
        check(
            |s, _| {
                let c = &mut s.organisation.controller;
                c.address.clear();
                c.email.clear();
            },
            &[],
        );
        check(
            |s, _| s.organisation.dpo.email.clear(),
            &[("organisation.no_dpo_contact", "organisation")],
        );
        check(
            |s, _| s.organisation.authority.name.clear(),
            &[("organisation.no_authority", "organisation")],
        );
        check(
            |s, _| s.organisation.information_at.clear(),
            &[("organisation.no_information_at", "organisation")],
        );
    }

    #[test]
    fn processor_outside_the_eea_without_basis() {
        let outside = |s: &mut Snapshot| {
            s.processors.push(Processor {
                id: 2,
                name: "Cloud Inc.".into(),
                kind: "cloud_storage".into(),
                agreement_date: "2026-02-01".into(),
                scope: "Off-site storage of backups".into(),
                country: "US".into(),
                ..Processor::default()
            })
        };
        check(
            |s, _| outside(s),
            &[("processor.outside_eea_without_basis", "processor:2")],
        );
        check(
            |s, _| {
                outside(s);
                s.processors[1].transfer_basis = "EU-US Data Privacy Framework".into();
            },
            &[],
        );
    }

    #[test]
    fn legal_basis_other_than_f_needs_no_balancing_note() {
        // Not a rule of its own: the purpose's checks decide, and pass here.
        check(
            |s, _| {
                let p = s.cameras[1].purpose.as_mut().unwrap();
                p.legal_basis = LegalBasis::LegalObligation;
                p.balancing_note.clear();
            },
            &[],
        );
    }
}
