//! Users' credentials and the policy engine.
//!
//! Password hashing (argon2id), password generation, and [`decide`]: a pure
//! function from (subject, action, resource, time) to a decision, with no I/O.
//! The web layer routes every request through it.

pub mod password;

use veil_base::{CameraId, Time90k, UserId};

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// Internal id.
    pub user: UserId,
    /// Pseudonymous id for records and logs.
    pub pseudonym: String,
    /// The role names held.
    pub roles: Vec<String>,
    /// Disabled users get nothing.
    pub disabled: bool,
}

/// What they want to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// See which cameras exist.
    ListCameras,
    /// Watch live video.
    LiveView,
    /// Watch recorded video or list recordings.
    Playback,
    /// Read one's own session details / log out.
    OwnSession,
    /// Add, change and delete cameras, and read their settings.
    ManageCameras,
}

impl Action {
    /// Every action (for exhaustive tests).
    pub const ALL: [Action; 5] = [
        Action::ListCameras,
        Action::LiveView,
        Action::Playback,
        Action::OwnSession,
        Action::ManageCameras,
    ];
}

/// What it is done to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// The installation as a whole.
    System,
    /// One camera.
    Camera(CameraId),
}

/// The answer, with a reason a person can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the action may proceed.
    pub allowed: bool,
    /// Why.
    pub reason: String,
}

impl Decision {
    fn allow(reason: &str) -> Decision {
        Decision {
            allowed: true,
            reason: reason.to_owned(),
        }
    }
    fn deny(reason: &str) -> Decision {
        Decision {
            allowed: false,
            reason: reason.to_owned(),
        }
    }
}

/// The built-in administrator role of the foundation. The full role and
/// permission model replaces this table; callers do not change.
pub const ADMINISTRATOR: &str = "administrator";

fn role_grants(role: &str, action: Action) -> bool {
    match role {
        ADMINISTRATOR => matches!(
            action,
            Action::ListCameras
                | Action::LiveView
                | Action::Playback
                | Action::OwnSession
                | Action::ManageCameras
        ),
        _ => false,
    }
}

/// Decides whether `subject` may do `action` on `resource` at `now`. Default
/// deny: a subject with no role granting the action gets nothing.
pub fn decide(subject: &Subject, action: Action, _resource: Resource, _now: Time90k) -> Decision {
    if subject.disabled {
        return Decision::deny("the account is disabled");
    }
    if action == Action::OwnSession {
        return Decision::allow("every signed-in user manages their own session");
    }
    match subject.roles.iter().find(|r| role_grants(r, action)) {
        Some(_) => Decision::allow("granted by role"),
        None => Decision::deny("no role grants this action"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(roles: &[&str], disabled: bool) -> Subject {
        Subject {
            user: UserId(1),
            pseudonym: "u-1".into(),
            roles: roles.iter().map(|s| s.to_string()).collect(),
            disabled,
        }
    }

    #[test]
    fn default_deny_and_admin_grants() {
        let r = Resource::Camera(CameraId(1));
        for a in [Action::ListCameras, Action::LiveView, Action::Playback] {
            assert!(!decide(&subject(&[], false), a, r, Time90k(0)).allowed);
            assert!(!decide(&subject(&["new role"], false), a, r, Time90k(0)).allowed);
            assert!(decide(&subject(&[ADMINISTRATOR], false), a, r, Time90k(0)).allowed);
        }
        for a in Action::ALL {
            let d = decide(&subject(&[ADMINISTRATOR], true), a, r, Time90k(0));
            assert!(!d.allowed);
            assert_eq!(d.reason, "the account is disabled");
        }
    }
}
