//! Roles: grants with scopes (A2), a playback window (A3), weekly hours in a
//! time zone (A4), whether a second factor is required (A7), and the
//! built-in templates created at setup (ordinary, editable roles).

use serde::{Deserialize, Serialize};
use veil_base::CameraId;

use crate::Action;

/// Which cameras a grant covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// Every camera (and the system-wide part of the permission).
    All,
    /// The cameras of one group.
    Group {
        /// The group's name.
        group: String,
    },
    /// Listed cameras.
    Cameras {
        /// Their ids.
        ids: Vec<i64>,
    },
}

impl Scope {
    /// Whether it covers `camera` (in `group`, if any).
    pub fn covers(&self, camera: CameraId, group: Option<&str>) -> bool {
        match self {
            Scope::All => true,
            Scope::Group { group: g } => group == Some(g.as_str()),
            Scope::Cameras { ids } => ids.contains(&camera.0),
        }
    }
}

/// One permission over a scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// The permission id (see [`Action::id`]).
    pub permission: String,
    /// Where it applies.
    pub scope: Scope,
}

impl Grant {
    /// `action` on every camera.
    pub fn all(action: Action) -> Grant {
        Grant {
            permission: action.id().to_owned(),
            scope: Scope::All,
        }
    }
}

// The weekly time profile moved to `veil-base` (cameras' scheduled
// recording uses it too); roles keep using it under the same names.
pub use veil_base::schedule::{Day, Interval, TimeProfile};

/// A role: what its holders may do, where, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Unique name (in the API, taken from the path).
    #[serde(default)]
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// The permissions and their scopes.
    pub grants: Vec<Grant>,
    /// Playback limited to the last N hours (A3); live view is unaffected.
    #[serde(default)]
    pub playback_window_hours: Option<u32>,
    /// Active only in these hours (A4); always active when absent.
    #[serde(default)]
    pub time_profile: Option<TimeProfile>,
    /// Its holders must sign in with a second factor.
    #[serde(default)]
    pub require_second_factor: bool,
}

impl Role {
    /// Checks names, permission ids and the time profile.
    pub fn validate(&self) -> Result<(), String> {
        let ok = (2..=64).contains(&self.name.len())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._- ".contains(&b));
        if !ok {
            return Err(format!(
                "role name {:?} must be 2 to 64 letters, digits, spaces, '.', '_' or '-'",
                self.name
            ));
        }
        for g in &self.grants {
            if Action::parse(&g.permission).is_none() {
                return Err(format!(
                    "unknown permission {:?} (GET /api/v1/permissions lists them)",
                    g.permission
                ));
            }
        }
        if self.playback_window_hours == Some(0) {
            return Err("playback_window_hours must be at least 1 (or absent for no limit)".into());
        }
        if let Some(t) = &self.time_profile {
            t.validate()?;
        }
        Ok(())
    }

    /// Whether it grants `action` anywhere.
    pub fn holds(&self, action: Action) -> bool {
        self.grants.iter().any(|g| g.permission == action.id())
    }

    /// Parses a role definition (JSON). When it does not say whether a second
    /// factor is required, it is required if the role holds a sensitive
    /// permission (secure by default).
    pub fn from_json(text: &str) -> Result<Role, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let said = v.get("require_second_factor").is_some();
        let mut r: Role = serde_json::from_value(v).map_err(|e| e.to_string())?;
        if !said {
            r.require_second_factor = r.sensitive();
        }
        Ok(r)
    }

    /// The default for [`Role::require_second_factor`]: true when it holds a
    /// sensitive permission ([`Action::sensitive`]).
    pub fn sensitive(&self) -> bool {
        Action::PERMISSIONS
            .into_iter()
            .any(|a| a.sensitive() && self.holds(a))
    }
}

/// Name of the administrator template.
pub const ADMINISTRATOR: &str = "administrator";
/// Name of the auditor template.
pub const AUDITOR: &str = "auditor";
/// Name of the operator template.
pub const OPERATOR: &str = "operator";
/// Name of the investigator template.
pub const INVESTIGATOR: &str = "investigator";
/// Name of the data-protection officer template.
pub const DPO: &str = "dpo";

fn template(name: &str, description: &str, grants: &[Action], window: Option<u32>) -> Role {
    let mut r = Role {
        name: name.into(),
        description: description.into(),
        grants: grants.iter().map(|a| Grant::all(*a)).collect(),
        playback_window_hours: window,
        time_profile: None,
        require_second_factor: false,
    };
    r.require_second_factor = r.sensitive();
    r
}

/// The role templates created at setup: ordinary roles, edited like any
/// other. The administrator runs the system but neither reads the access
/// record nor lifts masks (separation of duties).
pub fn templates() -> Vec<Role> {
    use Action::*;
    vec![
        template(
            OPERATOR,
            "Watches live video and recent recordings; bookmarks and locks incidents.",
            &[LiveView, Playback, BookmarkCreate, BookmarkView, LockCreate, LockView, PtzControl, PtzPresets],
            Some(72),
        ),
        template(
            INVESTIGATOR,
            "Reviews and exports recordings for an incident; lifts liftable masks with a justification.",
            &[
                LiveView, Playback, Export, BookmarkCreate, BookmarkEdit, BookmarkView, LockCreate,
                LockView, LockExtend, MetadataView, SmartSearch, LiftMasks,
            ],
            None,
        ),
        template(
            ADMINISTRATOR,
            "Runs the system: cameras, masks, retention, users and roles.",
            &[
                LiveView, Playback, CameraAdmin, MaskAdmin, RetentionAdmin, UserAdmin, RecordingControl,
                IoEvents, PtzPresets, PtzPatrols, BookmarkView, LockView, MetricsRead,
            ],
            None,
        ),
        template(
            DPO,
            "The data-protection officer: documents, data-subject requests, approvals, the access record.",
            &[DpoDocuments, SubjectRequests, AuditRead, Approve, LockView, LockRelease, HoldManage],
            None,
        ),
        template(AUDITOR, "Reads and reports on the access record.", &[AuditRead], None),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use veil_base::Time90k;

    #[test]
    fn templates_are_valid_and_separate_duties() {
        let t = templates();
        for r in &t {
            r.validate().unwrap();
        }
        let admin = t.iter().find(|r| r.name == ADMINISTRATOR).unwrap();
        assert!(!admin.holds(Action::AuditRead));
        assert!(!admin.holds(Action::LiftMasks));
        assert!(
            admin.require_second_factor,
            "administration needs a second factor"
        );
        let op = t.iter().find(|r| r.name == OPERATOR).unwrap();
        assert!(!op.require_second_factor);
        assert_eq!(op.playback_window_hours, Some(72));
        let inv = t.iter().find(|r| r.name == INVESTIGATOR).unwrap();
        assert!(inv.require_second_factor, "export needs a second factor");
        assert!(
            inv.holds(Action::LiftMasks),
            "lifting a mask is investigative work"
        );
    }

    #[test]
    fn a_sensitive_role_requires_a_second_factor_unless_told_otherwise() {
        let r =
            Role::from_json(r#"{"grants": [{"permission": "export", "scope": {"kind": "all"}}]}"#)
                .unwrap();
        assert!(r.require_second_factor);
        let r = Role::from_json(
            r#"{"grants": [{"permission": "export", "scope": {"kind": "all"}}], "require_second_factor": false}"#,
        )
        .unwrap();
        assert!(!r.require_second_factor);
        let r = Role::from_json(
            r#"{"grants": [{"permission": "live.view", "scope": {"kind": "all"}}]}"#,
        )
        .unwrap();
        assert!(!r.require_second_factor);
        assert!(Role::from_json(r#"{"grants": [], "colour": "red"}"#)
            .unwrap_err()
            .contains("colour"));
    }

    #[test]
    fn validation_explains() {
        let mut r = templates().remove(0);
        r.grants.push(Grant {
            permission: "fly".into(),
            scope: Scope::All,
        });
        assert!(r
            .validate()
            .unwrap_err()
            .contains("unknown permission \"fly\""));
        let tp = |start: &str, end: &str, tz: &str| TimeProfile {
            time_zone: tz.into(),
            intervals: vec![Interval {
                day: Day::Mon,
                start: start.into(),
                end: end.into(),
            }],
        };
        assert!(tp("22:00", "06:00", "UTC")
            .validate()
            .unwrap_err()
            .contains("night shift"));
        assert!(tp("8:00", "18:00", "UTC")
            .validate()
            .unwrap_err()
            .contains("HH:MM"));
        assert!(tp("08:00", "18:00", "Mars/Olympus")
            .validate()
            .unwrap_err()
            .contains("unknown time zone"));
        tp("00:00", "24:00", "Europe/Paris").validate().unwrap();
    }

    #[test]
    fn time_profiles_follow_the_zone_and_daylight_saving() {
        let t = |s: &str| Time90k::parse_rfc3339(s).unwrap();
        let paris = TimeProfile {
            time_zone: "Europe/Paris".into(),
            intervals: vec![Interval {
                day: Day::Mon,
                start: "08:00".into(),
                end: "18:00".into(),
            }],
        };
        // Monday 2026-11-23: Paris is UTC+1.
        assert!(!paris.active(t("2026-11-23T06:59:00Z")));
        assert!(paris.active(t("2026-11-23T07:00:00Z")));
        assert!(paris.active(t("2026-11-23T16:59:00Z")));
        assert!(!paris.active(t("2026-11-23T17:00:00Z")));
        // Monday 2026-07-06: summer time, UTC+2.
        assert!(paris.active(t("2026-07-06T06:00:00Z")));
        assert!(!paris.active(t("2026-07-06T16:00:00Z")));
        // Tuesday: never.
        assert!(!paris.active(t("2026-11-24T10:00:00Z")));
    }

    #[test]
    fn scopes() {
        let c = CameraId(3);
        assert!(Scope::All.covers(c, None));
        assert!(Scope::Group {
            group: "car park".into()
        }
        .covers(c, Some("car park")));
        assert!(!Scope::Group {
            group: "car park".into()
        }
        .covers(c, Some("lobby")));
        assert!(!Scope::Group {
            group: "car park".into()
        }
        .covers(c, None));
        assert!(Scope::Cameras { ids: vec![1, 3] }.covers(c, None));
        assert!(!Scope::Cameras { ids: vec![1, 2] }.covers(c, None));
    }
}
