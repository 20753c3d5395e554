//! The permission catalogue (A1): every action a role can grant, with a
//! stable id used in the API, the CLI, the configuration and the access
//! record. Ids never change once released.

/// What someone wants to do. All but [`Action::OwnSession`] and
/// [`Action::ListCameras`] are permissions a role can grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Read one's own session details, log out, manage one's own second
    /// factor and sessions: every signed-in user may.
    OwnSession,
    /// See that a camera exists: allowed with live view or playback on it.
    ListCameras,
    /// Watch live video.
    LiveView,
    /// Watch recorded video and list recordings.
    Playback,
    /// Export video as evidence.
    Export,
    /// Export video without encrypting the package (off by default, in no
    /// role template; every such export is recorded as unencrypted).
    ExportUnencrypted,
    /// Delete recordings before their retention ends.
    DeleteRecordings,
    /// Create bookmarks.
    BookmarkCreate,
    /// Edit bookmarks.
    BookmarkEdit,
    /// Delete bookmarks.
    BookmarkDelete,
    /// See bookmarks.
    BookmarkView,
    /// Place evidence locks.
    LockCreate,
    /// See evidence locks.
    LockView,
    /// Extend evidence locks.
    LockExtend,
    /// Release evidence locks.
    LockRelease,
    /// See video without its privacy masks.
    LiftMasks,
    /// Move PTZ cameras.
    PtzControl,
    /// Manage PTZ presets.
    PtzPresets,
    /// Manage PTZ patrols.
    PtzPatrols,
    /// Start and stop recording.
    RecordingControl,
    /// Read, export and report on the access record.
    AuditRead,
    /// Listen to audio.
    AudioListen,
    /// See analytics metadata.
    MetadataView,
    /// See and trigger I/O and events.
    IoEvents,
    /// Search video by content.
    SmartSearch,
    /// Add, change and remove cameras.
    CameraAdmin,
    /// Define privacy masks.
    MaskAdmin,
    /// Set retention periods.
    RetentionAdmin,
    /// Manage users, roles, tokens, the usage policy and four-eyes settings.
    UserAdmin,
    /// Handle data-subject requests.
    SubjectRequests,
    /// Keep the register and documents of processing (the DPO's duties).
    DpoDocuments,
    /// Approve or reject four-eyes requests.
    Approve,
    /// Read the server's operating figures (`GET /metrics`, the system
    /// status page).
    MetricsRead,
    /// Create and release restriction holds (the data-protection officer's
    /// decision: held video is kept and nobody may view, export or delete it).
    HoldManage,
}

impl Action {
    /// Every grantable permission, in catalogue order.
    pub const PERMISSIONS: [Action; 32] = [
        Action::LiveView,
        Action::Playback,
        Action::Export,
        Action::ExportUnencrypted,
        Action::DeleteRecordings,
        Action::BookmarkCreate,
        Action::BookmarkEdit,
        Action::BookmarkDelete,
        Action::BookmarkView,
        Action::LockCreate,
        Action::LockView,
        Action::LockExtend,
        Action::LockRelease,
        Action::LiftMasks,
        Action::PtzControl,
        Action::PtzPresets,
        Action::PtzPatrols,
        Action::RecordingControl,
        Action::AuditRead,
        Action::AudioListen,
        Action::MetadataView,
        Action::IoEvents,
        Action::SmartSearch,
        Action::CameraAdmin,
        Action::MaskAdmin,
        Action::RetentionAdmin,
        Action::UserAdmin,
        Action::SubjectRequests,
        Action::DpoDocuments,
        Action::Approve,
        Action::MetricsRead,
        Action::HoldManage,
    ];

    /// The stable id.
    pub fn id(self) -> &'static str {
        match self {
            Action::OwnSession => "own_session",
            Action::ListCameras => "cameras.list",
            Action::LiveView => "live.view",
            Action::Playback => "playback",
            Action::Export => "export",
            Action::ExportUnencrypted => "export.unencrypted",
            Action::DeleteRecordings => "recordings.delete",
            Action::BookmarkCreate => "bookmarks.create",
            Action::BookmarkEdit => "bookmarks.edit",
            Action::BookmarkDelete => "bookmarks.delete",
            Action::BookmarkView => "bookmarks.view",
            Action::LockCreate => "locks.create",
            Action::LockView => "locks.view",
            Action::LockExtend => "locks.extend",
            Action::LockRelease => "locks.release",
            Action::LiftMasks => "masks.lift",
            Action::PtzControl => "ptz.control",
            Action::PtzPresets => "ptz.presets",
            Action::PtzPatrols => "ptz.patrols",
            Action::RecordingControl => "recording.control",
            Action::AuditRead => "audit.read",
            Action::AudioListen => "audio.listen",
            Action::MetadataView => "metadata.view",
            Action::IoEvents => "io.events",
            Action::SmartSearch => "search.smart",
            Action::CameraAdmin => "cameras.admin",
            Action::MaskAdmin => "masks.admin",
            Action::RetentionAdmin => "retention.admin",
            Action::UserAdmin => "users.admin",
            Action::SubjectRequests => "dsr.handle",
            Action::DpoDocuments => "dpo.documents",
            Action::Approve => "approve",
            Action::MetricsRead => "metrics.read",
            Action::HoldManage => "holds.manage",
        }
    }

    /// The permission with this id.
    pub fn parse(id: &str) -> Option<Action> {
        Action::PERMISSIONS.into_iter().find(|a| a.id() == id)
    }

    /// What it allows, in a sentence for people.
    pub fn describe(self) -> &'static str {
        match self {
            Action::OwnSession => "manage one's own session",
            Action::ListCameras => "see that a camera exists",
            Action::LiveView => "watch live video",
            Action::Playback => "watch recorded video",
            Action::Export => "export video as evidence",
            Action::ExportUnencrypted => "export video without encrypting the package",
            Action::DeleteRecordings => "delete recordings before their retention ends",
            Action::BookmarkCreate => "create bookmarks",
            Action::BookmarkEdit => "edit bookmarks",
            Action::BookmarkDelete => "delete bookmarks",
            Action::BookmarkView => "see bookmarks",
            Action::LockCreate => "place evidence locks",
            Action::LockView => "see evidence locks",
            Action::LockExtend => "extend evidence locks",
            Action::LockRelease => "release evidence locks",
            Action::LiftMasks => "see video without privacy masks",
            Action::PtzControl => "move PTZ cameras",
            Action::PtzPresets => "manage PTZ presets",
            Action::PtzPatrols => "manage PTZ patrols",
            Action::RecordingControl => "start and stop recording",
            Action::AuditRead => "read the access record",
            Action::AudioListen => "listen to audio",
            Action::MetadataView => "see analytics metadata",
            Action::IoEvents => "see and trigger I/O and events",
            Action::SmartSearch => "search video by content",
            Action::CameraAdmin => "add, change and remove cameras",
            Action::MaskAdmin => "define privacy masks",
            Action::RetentionAdmin => "set retention periods",
            Action::UserAdmin => "manage users, roles, tokens and the usage policy",
            Action::SubjectRequests => "handle data-subject requests",
            Action::DpoDocuments => "keep the register and documents of processing",
            Action::Approve => "approve or reject four-eyes requests",
            Action::MetricsRead => "read the server's operating figures (no personal data)",
            Action::HoldManage => "create and release restriction holds on recordings",
        }
    }

    /// Whether it shows or hands out personal data in video: blocked until the
    /// user has acknowledged the usage policy and while their training is
    /// out of date (A9).
    pub fn touches_video(self) -> bool {
        matches!(
            self,
            Action::LiveView
                | Action::Playback
                | Action::Export
                | Action::LiftMasks
                | Action::AudioListen
                | Action::SmartSearch
        )
    }

    /// Whether a role holding it should require a second factor by default
    /// (A7: export, lifting masks, deletion and administration).
    pub fn sensitive(self) -> bool {
        matches!(
            self,
            Action::Export
                | Action::ExportUnencrypted
                | Action::LiftMasks
                | Action::DeleteRecordings
                | Action::CameraAdmin
                | Action::MaskAdmin
                | Action::RetentionAdmin
                | Action::UserAdmin
        )
    }

    /// Whether the permission applies to cameras (and so takes a scope).
    pub fn camera_scoped(self) -> bool {
        !matches!(
            self,
            Action::OwnSession
                | Action::AuditRead
                | Action::UserAdmin
                | Action::SubjectRequests
                | Action::DpoDocuments
                | Action::RetentionAdmin
                | Action::MetricsRead
                | Action::HoldManage
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for p in Action::PERMISSIONS {
            assert!(seen.insert(p.id()), "duplicate id {}", p.id());
            assert_eq!(Action::parse(p.id()), Some(p));
            assert!(!p.describe().is_empty());
        }
        assert_eq!(Action::parse("own_session"), None, "not grantable");
        assert_eq!(Action::parse("cameras.list"), None, "not grantable");
    }
}
