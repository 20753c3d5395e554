//! The DPO's documents (D5–D7), written from the configuration: the
//! record of processing (GDPR Art. 30(1)), the video surveillance policy,
//! the on-the-spot notice per site and the DPIA screening and draft.
//!
//! Each is a structured [`Document`] (sections of headings, paragraphs,
//! lists, key–value tables and tables) written once and rendered as
//! Markdown, printable HTML or JSON ([`Document::render`]). Everything is
//! taken from the [`Snapshot`]; users appear only by role, the DPO contact
//! is the one person named. Output depends only on the snapshot and the
//! [`Stamp`]: no clock, no map iteration order.

use serde::Serialize;
use veil_base::Time90k;

use crate::model::{Camera, Detail, Party, Snapshot, Stamp};

pub mod breach;
mod dpia;
mod notice;
mod policy;
mod render;
mod ropa;
#[cfg(test)]
mod tests;

pub use dpia::{dpia_screening, Answer, Screening, LARGE_SYSTEM_CAMERAS, LONG_RETENTION_HOURS};
pub use notice::notice_for_site;
pub use render::HTML_STYLE;

/// Which document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The record of processing activities, GDPR Art. 30(1) (D5).
    Ropa,
    /// The video surveillance policy (D6).
    Policy,
    /// The on-the-spot notice, one page per site (D6).
    Notice,
    /// The DPIA screening and a DPIA draft (D7).
    Dpia,
    /// A breach's notification to the authority (D8, Art. 33(3)): written
    /// from the breach register by [`breach::notification`], not from a
    /// snapshot, so not in [`Kind::ALL`].
    Breach,
}

impl Kind {
    /// All, in the order the desk lists them.
    pub const ALL: [Kind; 4] = [Kind::Ropa, Kind::Policy, Kind::Notice, Kind::Dpia];

    /// The id in the API and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Kind::Ropa => "ropa",
            Kind::Policy => "policy",
            Kind::Notice => "notice",
            Kind::Dpia => "dpia",
            Kind::Breach => "breach",
        }
    }

    /// Parses an id.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.id() == s)
    }

    /// The document's title.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Ropa => "Record of processing activities (GDPR Art. 30(1))",
            Kind::Policy => "Video surveillance policy",
            Kind::Notice => "Video surveillance: on-the-spot notice",
            Kind::Dpia => "Data protection impact assessment: screening and draft",
            Kind::Breach => "Notification of a personal data breach (GDPR Art. 33)",
        }
    }
}

/// How a document is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Plain Markdown.
    Markdown,
    /// One self-contained HTML page, printable on A4.
    Html,
    /// The [`Document`] as JSON.
    Json,
}

impl Format {
    /// All.
    pub const ALL: [Format; 3] = [Format::Markdown, Format::Html, Format::Json];

    /// The id in the API and on the command line: `md`, `html`, `json`.
    pub fn id(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Html => "html",
            Format::Json => "json",
        }
    }

    /// Parses an id.
    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.id() == s)
    }

    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// A generated document.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Document {
    /// Which document.
    pub kind: Kind,
    /// Its title.
    pub title: String,
    /// The configuration version it reflects.
    pub version: u64,
    /// When that version came into force (RFC 3339).
    pub since: String,
    /// When the document was generated (RFC 3339).
    pub generated: String,
    /// The controller's name ("" when not set).
    pub controller: String,
    /// Its content, in order.
    pub sections: Vec<Section>,
}

/// A section: a heading and its blocks.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Section {
    /// Its heading.
    pub heading: String,
    /// Printed on a new page (the notice: one page per site).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub page_break: bool,
    /// Its content.
    pub blocks: Vec<Block>,
}

/// A piece of a section.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// A heading within the section.
    Heading {
        /// Its text.
        text: String,
    },
    /// A paragraph.
    Paragraph {
        /// Its text.
        text: String,
    },
    /// A bulleted list.
    List {
        /// Its items.
        items: Vec<String>,
    },
    /// A key–value table.
    Fields {
        /// Its rows.
        rows: Vec<Field>,
    },
    /// A table.
    Table {
        /// The column headings.
        columns: Vec<String>,
        /// The rows, each as long as `columns`.
        rows: Vec<Vec<String>>,
    },
    /// A field the DPO has to complete ("To be completed by the DPO: …").
    ToComplete {
        /// What is to be completed.
        text: String,
    },
}

/// One row of a key–value table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Field {
    /// What.
    pub label: String,
    /// Its value.
    pub value: String,
}

/// The prefix of a field the DPO completes.
pub const TO_COMPLETE: &str = "To be completed by the DPO:";

impl Section {
    pub(crate) fn new(heading: impl Into<String>) -> Section {
        Section {
            heading: heading.into(),
            page_break: false,
            blocks: Vec::new(),
        }
    }

    pub(crate) fn heading(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Heading { text: text.into() });
        self
    }

    pub(crate) fn p(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Paragraph { text: text.into() });
        self
    }

    pub(crate) fn list(&mut self, items: Vec<String>) -> &mut Self {
        self.blocks.push(Block::List { items });
        self
    }

    pub(crate) fn fields(&mut self, rows: Vec<(&str, String)>) -> &mut Self {
        self.blocks.push(Block::Fields {
            rows: rows
                .into_iter()
                .map(|(label, value)| Field {
                    label: label.to_string(),
                    value,
                })
                .collect(),
        });
        self
    }

    pub(crate) fn table(&mut self, columns: &[&str], rows: Vec<Vec<String>>) -> &mut Self {
        self.blocks.push(Block::Table {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows,
        });
        self
    }

    pub(crate) fn complete(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::ToComplete { text: text.into() });
        self
    }
}

/// Writes the document `kind` from `snapshot`, stating `stamp`.
pub fn generate(kind: Kind, snapshot: &Snapshot, stamp: Stamp) -> Document {
    let body = match kind {
        Kind::Ropa => ropa::sections(snapshot),
        Kind::Policy => policy::sections(snapshot),
        Kind::Notice => notice::sections(snapshot),
        Kind::Dpia => dpia::sections(snapshot),
        // Written from the breach register, never from a snapshot.
        Kind::Breach => Vec::new(),
    };
    document(kind, snapshot, stamp, body)
}

pub(crate) fn document(
    kind: Kind,
    snapshot: &Snapshot,
    stamp: Stamp,
    body: Vec<Section>,
) -> Document {
    let mut sections = vec![about(kind, snapshot, stamp)];
    sections.extend(body);
    Document {
        kind,
        title: kind.title().to_string(),
        version: stamp.version,
        since: stamp.since.to_rfc3339(),
        generated: stamp.generated.to_rfc3339(),
        controller: snapshot.organisation.controller.name.clone(),
        sections,
    }
}

impl Document {
    /// The document as `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Markdown => render::markdown(self),
            Format::Html => render::html(self),
            Format::Json => {
                serde_json::to_string_pretty(self).expect("a document is always JSON") + "\n"
            }
        }
    }
}

/// The opening section every document has: the configuration it reflects
/// and the controller.
fn about(kind: Kind, s: &Snapshot, stamp: Stamp) -> Section {
    let o = &s.organisation;
    let mut sec = Section::new("About this document");
    sec.p(format!(
        "Configuration version {}, in force since {}; generated {}.",
        stamp.version,
        human_time(stamp.since),
        human_time(stamp.generated)
    ));
    sec.p(match kind {
        Kind::Notice => "This notice is the first layer of information given where the cameras are (GDPR Art. 12 and 13); the video surveillance policy is the full information.",
        Kind::Policy => "This policy is written by the video management system from its own configuration; it describes the processing as it is configured at the version above.",
        Kind::Ropa => "This record is written by the video management system from its own configuration; it covers the video surveillance processing only.",
        Kind::Dpia => "The screening answers the guidance's trigger questions from the configuration; the draft is pre-filled with the measures actually configured and leaves marked fields for the data protection officer.",
        Kind::Breach => "This notification is written from the breach register.",
    });
    sec.fields(vec![
        ("Controller", or_not_set(&o.controller.name)),
        ("Controller's contact", contact(&o.controller)),
    ]);
    sec
}

/// `2026-11-02 10:00 UTC`.
pub(crate) fn human_time(t: Time90k) -> String {
    t.to_chrono().format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `48 hours (2 days)`, `36 hours`, `1 hour`.
pub(crate) fn hours(h: u32) -> String {
    match h {
        1 => "1 hour".to_string(),
        h if h >= 48 && h % 24 == 0 => format!("{h} hours ({} days)", h / 24),
        h => format!("{h} hours"),
    }
}

/// `365 days`, `1 day`.
pub(crate) fn days(d: u32) -> String {
    if d == 1 {
        "1 day".into()
    } else {
        format!("{d} days")
    }
}

pub(crate) fn or_not_set(s: &str) -> String {
    if s.trim().is_empty() {
        "not set in the configuration".into()
    } else {
        s.to_string()
    }
}

/// A party's address, e-mail and telephone, those that are set.
pub(crate) fn contact(p: &Party) -> String {
    let parts: Vec<&str> = [&p.address, &p.email, &p.phone]
        .into_iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        "not set in the configuration".into()
    } else {
        parts.join("; ")
    }
}

/// The DPO: name and contact in one line.
pub(crate) fn dpo_line(s: &Snapshot) -> String {
    let d = &s.organisation.dpo;
    if d.name.trim().is_empty() && contact(d) == "not set in the configuration" {
        return "not set in the configuration".into();
    }
    format!("{} ({})", or_not_set(&d.name), contact(d))
}

/// An area kind in words.
pub(crate) fn area(kind: &str) -> String {
    match kind {
        "private" => "private premises".into(),
        "workplace" => "workplace".into(),
        "public_facing" => "public-facing area".into(),
        "residential_adjacent" => "next to homes (residential-adjacent)".into(),
        other => other.replace('_', " "),
    }
}

/// A recording mode in words.
pub(crate) fn mode(m: &str) -> String {
    match m {
        "continuous" => "recorded continuously".into(),
        "scheduled" => "recorded on a weekly schedule".into(),
        "motion" => "recorded on motion".into(),
        "live_only" => "live view only, not recorded".into(),
        other => other.replace('_', " "),
    }
}

/// A level of detail in words.
pub(crate) fn detail(d: Detail) -> &'static str {
    match d {
        Detail::Detection => "detection (that someone is there)",
        Detail::Recognition => "recognition (whether it is someone known)",
        Detail::Identification => "identification (who it is)",
    }
}

/// A permission id in plain words (the catalogue's description).
pub(crate) fn permission(id: &str) -> String {
    veil_access::Action::parse(id)
        .map(|a| a.describe().to_string())
        .unwrap_or_else(|| id.to_string())
}

/// Whether the camera records (it has a purpose, is enabled and not live
/// only).
pub(crate) fn records(c: &Camera) -> bool {
    c.purpose.is_some() && c.enabled && c.recording_mode != "live_only"
}

/// The camera's site name ("no site" without a purpose).
pub(crate) fn site_of(s: &Snapshot, c: &Camera) -> String {
    match &c.purpose {
        Some(p) => s
            .organisation
            .site(&p.site)
            .map(|site| site.name.clone())
            .unwrap_or_else(|| p.site.clone()),
        None => "no site (no documented purpose)".into(),
    }
}

/// Names joined with commas and "and".
pub(crate) fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Camera names, quoted.
pub(crate) fn names<'a>(cams: impl IntoIterator<Item = &'a Camera>) -> Vec<String> {
    cams.into_iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect()
}

/// What a camera's status says about recording.
pub(crate) fn recording_status(c: &Camera) -> String {
    if c.purpose.is_none() {
        "not recorded: no documented purpose".into()
    } else if !c.enabled {
        "recording disabled".into()
    } else {
        mode(&c.recording_mode)
    }
}

/// Masks of a camera in words.
pub(crate) fn masks(c: &Camera) -> String {
    match (c.masks, c.liftable_masks) {
        (0, _) => "none".into(),
        (n, 0) => format!("{n}, permanent"),
        (n, l) => format!("{n}, of which {l} liftable"),
    }
}

/// The security measures in force, one sentence each (RoPA (g), the
/// policy, the DPIA).
pub(crate) fn security_measures(s: &Snapshot) -> Vec<String> {
    let sec = &s.security;
    let mut out = Vec::new();
    out.push(match sec.tls.as_str() {
        "self_signed" => "Connections to the system are encrypted with TLS (HTTPS) using the server's own self-signed certificate.".to_string(),
        "files" => "Connections to the system are encrypted with TLS (HTTPS) using a certificate installed by the operator.".to_string(),
        "plain_behind_proxy" => format!(
            "The system serves plain HTTP behind {} declared reverse prox{} that terminate{} TLS (HTTPS).",
            sec.trusted_proxies,
            if sec.trusted_proxies == 1 { "y" } else { "ies" },
            if sec.trusted_proxies == 1 { "s" } else { "" }
        ),
        other => format!("Transport security setting: {}.", or_not_set(other)),
    });
    let (with, without): (Vec<_>, Vec<_>) = s.roles.iter().partition(|r| r.require_second_factor);
    let role_names = |rs: &[&crate::model::Role]| -> Vec<String> {
        rs.iter().map(|r| format!("\"{}\"", r.name)).collect()
    };
    out.push(match (with.is_empty(), without.is_empty()) {
        (_, true) if !with.is_empty() => {
            "Every role must sign in with a second factor.".to_string()
        }
        (true, _) => "No role is required to sign in with a second factor.".to_string(),
        _ => format!(
            "A second factor is required at sign-in for the roles {}; not for {}.",
            join_and(&role_names(&with)),
            join_and(&role_names(&without))
        ),
    });
    if sec.four_eyes.is_empty() {
        out.push("No action needs a second person's approval (four-eyes).".into());
    } else {
        let what: Vec<String> = sec.four_eyes.iter().map(|p| permission(p)).collect();
        out.push(format!(
            "A second person's approval (four-eyes) is needed to {}.",
            join_and(&what)
        ));
    }
    out.push(
        "Recorded video is encrypted at rest with AES-256-GCM, each segment under its own key; \
         when its retention ends the keys are destroyed, so the video can no longer be read."
            .into(),
    );
    let source = match sec.root_key_source.as_str() {
        "file" => "a key file on the server",
        "env" => "a key-encryption key in the server's environment",
        "credential" => "a key-encryption key passed as a system credential",
        "command" => "a key-encryption key given by an external command",
        _ => "a source not set in the configuration",
    };
    out.push(if sec.root_key_rotation_days > 0 {
        format!(
            "The root key protecting the video keys comes from {source} and is rotated every {}.",
            days(sec.root_key_rotation_days)
        )
    } else {
        format!("The root key protecting the video keys comes from {source}; it is not rotated automatically.")
    });
    let address = match sec.client_address.as_str() {
        "full" => "they keep client addresses in full",
        "truncated" => "they keep client addresses truncated",
        "none" => "they keep no client address",
        _ => "they keep client addresses as configured",
    };
    out.push(format!(
        "Every viewing, export and change of configuration is entered in the access record, a hash chain with signed checkpoints{}; entries are kept {}; {address}.",
        if sec.audit_checkpoint_copy {
            " copied outside the database"
        } else {
            ""
        },
        days(sec.audit_retention_days)
    ));
    let masked: Vec<&Camera> = s.cameras.iter().filter(|c| c.masks > 0).collect();
    if masked.is_empty() {
        out.push("No privacy masks are configured.".into());
    } else {
        let total: u32 = masked.iter().map(|c| c.masks).sum();
        let liftable: u32 = masked.iter().map(|c| c.liftable_masks).sum();
        let mut m = format!(
            "{total} privacy mask{} hide{} what the cameras must not show on {} ({})",
            if total == 1 { "" } else { "s" },
            if total == 1 { "s" } else { "" },
            if masked.len() == 1 {
                "1 camera".to_string()
            } else {
                format!("{} cameras", masked.len())
            },
            join_and(&names(masked.iter().copied()))
        );
        if liftable > 0 {
            m.push_str(&format!(
                "; {liftable} {} liftable: the unmasked original is kept encrypted and opened only by roles allowed to {}{}",
                if liftable == 1 { "is" } else { "are" },
                permission(crate::model::permission::LIFT_MASKS),
                if sec.lift_key == "escrow" {
                    ", with the key held in escrow outside the server"
                } else {
                    ""
                }
            ));
        }
        m.push('.');
        out.push(m);
    }
    let windows: Vec<String> = s
        .roles
        .iter()
        .filter_map(|r| {
            r.playback_window_hours
                .map(|h| format!("\"{}\" sees only the last {}", r.name, hours(h)))
        })
        .collect();
    if !windows.is_empty() {
        out.push(format!(
            "Playback is limited by role: {}.",
            join_and(&windows)
        ));
    }
    if sec.policy_version > 0 {
        out.push(format!(
            "Users must acknowledge the usage policy (version {}) before they can see video, and lose access to video when their recorded training expires.",
            sec.policy_version
        ));
    }
    if sec.access_review_months > 0 {
        out.push(format!(
            "Each account's roles are confirmed or revoked in an access review every {} month{}.",
            sec.access_review_months,
            if sec.access_review_months == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    let backups = &s.organisation.storage.backups;
    if backups.is_empty() {
        out.push("No backup is declared.".into());
    } else {
        let b: Vec<String> = backups
            .iter()
            .map(|b| {
                format!(
                    "{} ({}{})",
                    b.description,
                    b.country,
                    if b.off_site {
                        ", off site"
                    } else {
                        ", on site"
                    }
                )
            })
            .collect();
        out.push(format!("Backups: {}.", b.join("; ")));
    }
    out
}
