//! Users' credentials and the policy engine.
//!
//! Password hashing (argon2id) and generation ([`password`]), rules for new
//! passwords and account names ([`policy`]), the TOTP second factor ([`totp`])
//! and its recovery codes ([`recovery`]), login throttling ([`lockout`]), and
//! [`decide`]: a pure function from (subject, action, resource, time) to a
//! decision. The web layer routes every request through it.
//!
//! Everything here is pure: no I/O, no clock (time is passed in), no HTTP or
//! SQL. Randomness comes from the operating system only in the explicit
//! `generate` functions and in salting hashes.

pub mod camera_password;
pub mod catalogue;
pub mod lockout;
pub mod password;
pub mod policy;
pub mod recovery;
pub mod role;
pub mod totp;

pub use catalogue::Action;
pub use role::{
    Grant, Role, Scope, TimeProfile, ADMINISTRATOR, AUDITOR, DPO, INVESTIGATOR, OPERATOR,
};

use veil_base::{CameraId, Time90k, UserId, TIME_UNITS_PER_SEC};

/// Who is asking, with everything the decision needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// Internal id.
    pub user: UserId,
    /// Pseudonymous id for records and logs.
    pub pseudonym: String,
    /// The roles held; rights are their union.
    pub roles: Vec<Role>,
    /// Disabled users get nothing.
    pub disabled: bool,
    /// Whether the user has acknowledged the current usage policy (true when
    /// none is published).
    pub policy_acknowledged: bool,
    /// The end of the user's video-surveillance training, where one is
    /// recorded; video is blocked after it.
    pub training_valid_until: Option<Time90k>,
    /// The password was set by someone else: nothing but the own session
    /// (to change it) is allowed until it is changed.
    pub must_change_password: bool,
    /// A role held requires a second factor the user has not enrolled:
    /// nothing but the own session (to enrol) is allowed until they do.
    pub second_factor_missing: bool,
}

/// What it is done to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    /// The installation as a whole (or "any camera", for camera permissions).
    System,
    /// One camera, in its group if it has one.
    Camera {
        /// The camera.
        id: CameraId,
        /// Its group.
        group: Option<String>,
    },
    /// Recorded video of one camera starting at `start` (for the playback
    /// window).
    Recording {
        /// The camera.
        camera: CameraId,
        /// Its group.
        group: Option<String>,
        /// The earliest instant requested.
        start: Time90k,
    },
}

impl Resource {
    fn covered_by(&self, scope: &Scope) -> bool {
        match self {
            Resource::System => true,
            Resource::Camera { id, group }
            | Resource::Recording {
                camera: id, group, ..
            } => scope.covers(*id, group.as_deref()),
        }
    }
}

/// The answer, with a reason a person can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the action may proceed.
    pub allowed: bool,
    /// Why.
    pub reason: String,
    /// Denied only because every role that would grant it is outside its
    /// hours (the breach register watches these refusals).
    pub outside_hours: bool,
}

impl Decision {
    fn allow(reason: String) -> Decision {
        Decision {
            allowed: true,
            reason,
            outside_hours: false,
        }
    }
    fn deny(reason: String) -> Decision {
        Decision {
            allowed: false,
            reason,
            outside_hours: false,
        }
    }
}

/// Decides whether `subject` may do `action` on `resource` at `now`. Pure and
/// default-deny: a new role grants nothing, rights are the union of the roles
/// active now, video needs an acknowledged policy and valid training, and
/// playback outside a role's window is refused with a reason naming it.
pub fn decide(subject: &Subject, action: Action, resource: &Resource, now: Time90k) -> Decision {
    if subject.disabled {
        return Decision::deny("the account is disabled".into());
    }
    if action == Action::OwnSession {
        return Decision::allow("every signed-in user manages their own session".into());
    }
    if subject.must_change_password {
        return Decision::deny(
            "change the password an administrator set before anything else (POST /api/v1/session/password)".into(),
        );
    }
    if subject.second_factor_missing {
        return Decision::deny(
            "a role you hold requires a second factor: enrol one first (POST /api/v1/session/totp)"
                .into(),
        );
    }
    if action.touches_video() {
        if !subject.policy_acknowledged {
            return Decision::deny(
                "acknowledge the current video-surveillance policy before any video access".into(),
            );
        }
        if let Some(until) = subject.training_valid_until.filter(|u| now >= *u) {
            return Decision::deny(format!(
                "video-surveillance training expired on {}; renew it before any video access",
                until.to_rfc3339()
            ));
        }
    }
    let wanted = |id: &str| match action {
        Action::ListCameras => id == Action::LiveView.id() || id == Action::Playback.id(),
        a => id == a.id(),
    };
    let mut outside_hours: Option<&str> = None;
    let mut window: Option<(&str, u32)> = None;
    for role in &subject.roles {
        let grants = || role.grants.iter().filter(|g| wanted(&g.permission));
        if grants().next().is_none() {
            continue;
        }
        if role.time_profile.as_ref().is_some_and(|t| !t.active(now)) {
            outside_hours = Some(&role.name);
            continue;
        }
        for g in grants() {
            if !resource.covered_by(&g.scope) {
                continue;
            }
            if let (Some(h), Resource::Recording { start, .. }) =
                (role.playback_window_hours, resource)
            {
                if action == Action::Playback
                    && start.0 < now.0 - i64::from(h) * 3600 * TIME_UNITS_PER_SEC
                {
                    window = Some((&role.name, h));
                    continue;
                }
            }
            return Decision::allow(format!("granted by role {}", role.name));
        }
    }
    if let Some((role, h)) = window {
        return Decision::deny(format!(
            "role {role} may play back only the last {h} hours; this request starts earlier"
        ));
    }
    if let Some(role) = outside_hours {
        return Decision {
            outside_hours: true,
            ..Decision::deny(format!(
                "role {role} is not active at this time (outside its hours)"
            ))
        };
    }
    Decision::deny(format!("no role grants {} here", action.id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use role::{Day, Interval};

    fn subject(roles: Vec<Role>) -> Subject {
        Subject {
            user: UserId(1),
            pseudonym: "u-1".into(),
            roles,
            disabled: false,
            policy_acknowledged: true,
            training_valid_until: None,
            must_change_password: false,
            second_factor_missing: false,
        }
    }

    fn named(name: &str) -> Role {
        role::templates()
            .into_iter()
            .find(|r| r.name == name)
            .unwrap()
    }

    fn cam(id: i64) -> Resource {
        Resource::Camera {
            id: CameraId(id),
            group: Some("lobby".into()),
        }
    }

    const NOW: Time90k = Time90k(1_795_000_000 * TIME_UNITS_PER_SEC);

    #[test]
    fn default_deny_and_union_of_roles() {
        let empty = Role {
            name: "new role".into(),
            description: String::new(),
            grants: vec![],
            playback_window_hours: None,
            time_profile: None,
            require_second_factor: false,
        };
        for a in Action::PERMISSIONS {
            assert!(!decide(&subject(vec![]), a, &cam(1), NOW).allowed);
            assert!(!decide(&subject(vec![empty.clone()]), a, &cam(1), NOW).allowed);
        }
        let admin = subject(vec![named(ADMINISTRATOR)]);
        assert!(decide(&admin, Action::LiveView, &cam(1), NOW).allowed);
        let d = decide(&admin, Action::AuditRead, &Resource::System, NOW);
        assert_eq!(d.reason, "no role grants audit.read here");
        let both = subject(vec![named(ADMINISTRATOR), named(AUDITOR)]);
        assert!(decide(&both, Action::AuditRead, &Resource::System, NOW).allowed);
        assert!(decide(&both, Action::ListCameras, &cam(1), NOW).allowed);
        assert!(
            !decide(
                &subject(vec![named(AUDITOR)]),
                Action::ListCameras,
                &cam(1),
                NOW
            )
            .allowed
        );
        let mut off = admin.clone();
        off.disabled = true;
        for a in Action::PERMISSIONS.into_iter().chain([Action::OwnSession]) {
            assert_eq!(
                decide(&off, a, &cam(1), NOW).reason,
                "the account is disabled"
            );
        }
    }

    #[test]
    fn scopes_limit_cameras() {
        let mut r = named(OPERATOR);
        for g in &mut r.grants {
            g.scope = Scope::Cameras { ids: vec![2] };
        }
        let s = subject(vec![r.clone()]);
        assert!(!decide(&s, Action::LiveView, &cam(1), NOW).allowed);
        assert!(decide(&s, Action::LiveView, &cam(2), NOW).allowed);
        // "Any camera" questions (lists) are answered by any grant.
        assert!(decide(&s, Action::LiveView, &Resource::System, NOW).allowed);
        for g in &mut r.grants {
            g.scope = Scope::Group {
                group: "lobby".into(),
            };
        }
        let s = subject(vec![r]);
        assert!(decide(&s, Action::LiveView, &cam(7), NOW).allowed);
        let other = Resource::Camera {
            id: CameraId(7),
            group: Some("car park".into()),
        };
        assert!(!decide(&s, Action::LiveView, &other, NOW).allowed);
    }

    #[test]
    fn playback_window_refuses_older_video_and_names_it() {
        let s = subject(vec![named(OPERATOR)]); // 72 h
        let rec = |hours_ago: i64| Resource::Recording {
            camera: CameraId(1),
            group: None,
            start: Time90k(NOW.0 - hours_ago * 3600 * TIME_UNITS_PER_SEC),
        };
        assert!(decide(&s, Action::Playback, &rec(71), NOW).allowed);
        let d = decide(&s, Action::Playback, &rec(73), NOW);
        assert!(!d.allowed);
        assert!(d.reason.contains("only the last 72 hours"), "{}", d.reason);
        // Live view is unaffected; a second role without a window lifts it.
        assert!(decide(&s, Action::LiveView, &cam(1), NOW).allowed);
        let s = subject(vec![named(OPERATOR), named(INVESTIGATOR)]);
        assert!(decide(&s, Action::Playback, &rec(500), NOW).allowed);
    }

    #[test]
    fn time_profiles_switch_roles_on_and_off() {
        let mut r = named(OPERATOR);
        r.time_profile = Some(TimeProfile {
            time_zone: "UTC".into(),
            intervals: vec![Interval {
                day: Day::Mon,
                start: "08:00".into(),
                end: "16:00".into(),
            }],
        });
        let s = subject(vec![r]);
        let at = |t: &str| Time90k::parse_rfc3339(t).unwrap();
        assert!(decide(&s, Action::LiveView, &cam(1), at("2026-11-23T09:00:00Z")).allowed);
        let d = decide(&s, Action::LiveView, &cam(1), at("2026-11-23T17:00:00Z"));
        assert!(!d.allowed);
        assert!(d.reason.contains("outside its hours"), "{}", d.reason);
        assert!(d.outside_hours);
        assert!(!decide(&s, Action::AuditRead, &cam(1), at("2026-11-23T17:00:00Z")).outside_hours);
    }

    #[test]
    fn a_password_set_by_someone_else_must_be_changed_first() {
        let mut s = subject(vec![named(ADMINISTRATOR)]);
        s.must_change_password = true;
        let d = decide(&s, Action::CameraAdmin, &Resource::System, NOW);
        assert!(
            !d.allowed && d.reason.contains("change the password"),
            "{}",
            d.reason
        );
        assert!(decide(&s, Action::OwnSession, &Resource::System, NOW).allowed);
    }

    #[test]
    fn policy_and_training_gate_video_only() {
        let mut s = subject(vec![named(ADMINISTRATOR)]);
        s.policy_acknowledged = false;
        let d = decide(&s, Action::LiveView, &cam(1), NOW);
        assert!(
            !d.allowed && d.reason.contains("acknowledge"),
            "{}",
            d.reason
        );
        assert!(decide(&s, Action::CameraAdmin, &cam(1), NOW).allowed);
        s.policy_acknowledged = true;
        s.training_valid_until = Some(Time90k(NOW.0 - 1));
        let d = decide(&s, Action::Playback, &cam(1), NOW);
        assert!(
            !d.allowed && d.reason.contains("training expired"),
            "{}",
            d.reason
        );
        s.training_valid_until = Some(Time90k(NOW.0 + 1));
        assert!(decide(&s, Action::Playback, &cam(1), NOW).allowed);
    }
}
