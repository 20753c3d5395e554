//! API types whose originals live in other crates (roles and their grants,
//! weekly time profiles, motion settings, the key-indicator report), mirrored
//! here so that the OpenAPI description derives their JSON schemas
//! ([`utoipa::ToSchema`]) from the types the handlers really read and write.
//!
//! Each mirror has the same serde attributes (field names, defaults, tags,
//! `deny_unknown_fields`) as its original, and its conversions destructure
//! the original completely, so a field added there does not compile until it
//! is added here too.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use veil_access::{Grant, Role, Scope};
use veil_audit::report::{CameraFigures, DayFigures, Indicators, Report, UserFigures};
use veil_base::schedule::{Day, Interval, TimeProfile};
use veil_ingest::MotionSettings;

// --- time profiles ---

/// A day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl From<Day> for Weekday {
    fn from(d: Day) -> Weekday {
        match d {
            Day::Mon => Weekday::Mon,
            Day::Tue => Weekday::Tue,
            Day::Wed => Weekday::Wed,
            Day::Thu => Weekday::Thu,
            Day::Fri => Weekday::Fri,
            Day::Sat => Weekday::Sat,
            Day::Sun => Weekday::Sun,
        }
    }
}

impl From<Weekday> for Day {
    fn from(d: Weekday) -> Day {
        match d {
            Weekday::Mon => Day::Mon,
            Weekday::Tue => Day::Tue,
            Weekday::Wed => Day::Wed,
            Weekday::Thu => Day::Thu,
            Weekday::Fri => Day::Fri,
            Weekday::Sat => Day::Sat,
            Weekday::Sun => Day::Sun,
        }
    }
}

/// One weekly interval of local time, `start` inclusive to `end` exclusive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyInterval {
    /// The day.
    pub day: Weekday,
    /// Start, `HH:MM` (`00:00` to `23:59`).
    #[schema(example = "08:00")]
    pub start: String,
    /// End, `HH:MM`, after `start`; `24:00` allowed.
    #[schema(example = "18:00")]
    pub end: String,
}

/// Weekly intervals in an IANA time zone (daylight-saving changes
/// followed). A night shift is two intervals, split at midnight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyProfile {
    /// An IANA time zone, e.g. `Europe/Paris`.
    #[schema(example = "Europe/Paris")]
    pub time_zone: String,
    /// The intervals (at least one).
    pub intervals: Vec<WeeklyInterval>,
}

impl From<TimeProfile> for WeeklyProfile {
    fn from(p: TimeProfile) -> WeeklyProfile {
        let TimeProfile {
            time_zone,
            intervals,
        } = p;
        WeeklyProfile {
            time_zone,
            intervals: intervals
                .into_iter()
                .map(|i| {
                    let Interval { day, start, end } = i;
                    WeeklyInterval {
                        day: day.into(),
                        start,
                        end,
                    }
                })
                .collect(),
        }
    }
}

impl From<WeeklyProfile> for TimeProfile {
    fn from(p: WeeklyProfile) -> TimeProfile {
        TimeProfile {
            time_zone: p.time_zone,
            intervals: p
                .intervals
                .into_iter()
                .map(|i| Interval {
                    day: i.day.into(),
                    start: i.start,
                    end: i.end,
                })
                .collect(),
        }
    }
}

// --- roles ---

/// Which cameras a grant covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GrantScope {
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

/// One permission over a scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleGrant {
    /// A permission id (`GET /api/v1/permissions`).
    #[schema(example = "playback")]
    pub permission: String,
    /// Where it applies.
    pub scope: GrantScope,
}

impl From<Grant> for RoleGrant {
    fn from(g: Grant) -> RoleGrant {
        let Grant { permission, scope } = g;
        RoleGrant {
            permission,
            scope: match scope {
                Scope::All => GrantScope::All,
                Scope::Group { group } => GrantScope::Group { group },
                Scope::Cameras { ids } => GrantScope::Cameras { ids },
            },
        }
    }
}

impl From<RoleGrant> for Grant {
    fn from(g: RoleGrant) -> Grant {
        Grant {
            permission: g.permission,
            scope: match g.scope {
                GrantScope::All => Scope::All,
                GrantScope::Group { group } => Scope::Group { group },
                GrantScope::Cameras { ids } => Scope::Cameras { ids },
            },
        }
    }
}

/// A role as `GET /api/v1/roles` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct RoleView {
    /// Unique name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The permissions and their scopes.
    pub grants: Vec<RoleGrant>,
    /// Playback limited to the last N hours; `null`: no limit.
    pub playback_window_hours: Option<u32>,
    /// Active only in these hours; `null`: always.
    pub time_profile: Option<WeeklyProfile>,
    /// Its holders must sign in with a second factor.
    pub require_second_factor: bool,
}

impl From<Role> for RoleView {
    fn from(r: Role) -> RoleView {
        let Role {
            name,
            description,
            grants,
            playback_window_hours,
            time_profile,
            require_second_factor,
        } = r;
        RoleView {
            name,
            description,
            grants: grants.into_iter().map(RoleGrant::from).collect(),
            playback_window_hours,
            time_profile: time_profile.map(WeeklyProfile::from),
            require_second_factor,
        }
    }
}

/// The body of `PUT /api/v1/roles/{name}`: a role definition. The name is
/// the path's; a `name` here is ignored.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleDefinition {
    /// Ignored (the path names the role).
    #[serde(default)]
    pub name: Option<String>,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// The permissions and their scopes.
    pub grants: Vec<RoleGrant>,
    /// Playback limited to the last N hours (at least 1); absent or `null`:
    /// no limit.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub playback_window_hours: Option<u32>,
    /// Active only in these hours; absent or `null`: always.
    #[serde(default)]
    pub time_profile: Option<WeeklyProfile>,
    /// Absent: `true` when the role holds a permission that needs a second
    /// factor by default, else `false`.
    #[serde(default)]
    pub require_second_factor: Option<bool>,
}

impl RoleDefinition {
    /// The role named `name`.
    pub fn into_role(self, name: String) -> Role {
        let mut role = Role {
            name,
            description: self.description,
            grants: self.grants.into_iter().map(Grant::from).collect(),
            playback_window_hours: self.playback_window_hours,
            time_profile: self.time_profile.map(TimeProfile::from),
            require_second_factor: false,
        };
        role.require_second_factor = self
            .require_second_factor
            .unwrap_or_else(|| role.sensitive());
        role
    }
}

// --- motion ---

/// Motion-triggered recording settings; absent fields take their defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Motion {
    /// Seconds recorded before the keyframe where motion was seen (0–30).
    #[schema(minimum = 0, maximum = 30)]
    pub pre_seconds: u32,
    /// Seconds recorded after the last keyframe with motion (1–300).
    #[schema(minimum = 1, maximum = 300)]
    pub post_seconds: u32,
    /// A grid cell changed when its mean luma moved by more than this (1–254).
    #[schema(minimum = 1, maximum = 254)]
    pub threshold: u8,
    /// Motion when more than this percentage of grid cells changed (0.1–100).
    #[schema(minimum = 0.1, maximum = 100)]
    pub min_area_percent: f32,
}

impl Default for Motion {
    fn default() -> Motion {
        MotionSettings::default().into()
    }
}

impl From<MotionSettings> for Motion {
    fn from(m: MotionSettings) -> Motion {
        let MotionSettings {
            pre_seconds,
            post_seconds,
            threshold,
            min_area_percent,
        } = m;
        Motion {
            pre_seconds,
            post_seconds,
            threshold,
            min_area_percent,
        }
    }
}

impl From<Motion> for MotionSettings {
    fn from(m: Motion) -> MotionSettings {
        MotionSettings {
            pre_seconds: m.pre_seconds,
            post_seconds: m.post_seconds,
            threshold: m.threshold,
            min_area_percent: m.min_area_percent,
        }
    }
}

// --- the key-indicator report ---

/// The figures of one row (a user, a camera, a day, or the total).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, ToSchema)]
pub struct ReportFigures {
    /// Live views started.
    pub live_views: u64,
    /// Hours of recorded video requested for playback.
    pub playback_hours: f64,
    /// Export files produced.
    pub exports: u64,
    /// Privacy masks lifted.
    pub mask_lifts: u64,
    /// Recordings deleted by a person.
    pub recording_deletions: u64,
    /// Recordings destroyed by retention.
    pub retention_destructions: u64,
    /// Failed logins (wrong credentials and lock-outs).
    pub failed_logins: u64,
    /// Four-eyes decisions.
    pub approvals: u64,
    /// Accesses outside the actor's shift.
    pub outside_shift: u64,
}

impl From<Indicators> for ReportFigures {
    fn from(i: Indicators) -> ReportFigures {
        let Indicators {
            live_views,
            playback_90k,
            exports,
            mask_lifts,
            recording_deletions,
            retention_destructions,
            failed_logins,
            approvals,
            outside_shift,
        } = i;
        ReportFigures {
            live_views,
            playback_hours: veil_audit::report::hours(playback_90k),
            exports,
            mask_lifts,
            recording_deletions,
            retention_destructions,
            failed_logins,
            approvals,
            outside_shift,
        }
    }
}

/// A user's row of the report.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ReportUser {
    /// The actor as recorded.
    pub pseudonym: String,
    /// The current name, or the pseudonym when erased or unknown.
    pub name: String,
    /// The figures.
    #[serde(flatten)]
    pub figures: ReportFigures,
}

/// A camera's row of the report.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ReportCamera {
    /// The camera id.
    pub camera: i64,
    /// The figures.
    #[serde(flatten)]
    pub figures: ReportFigures,
}

/// A UTC day's row of the report.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ReportDay {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// The figures.
    #[serde(flatten)]
    pub figures: ReportFigures,
}

/// The key indicators of `[from, to)`.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct AuditReport {
    /// Start of the period (inclusive), RFC 3339.
    pub from: String,
    /// End of the period (exclusive), RFC 3339.
    pub to: String,
    /// Entries in the period.
    pub entries: u64,
    /// Users with a shift defined (the others are never outside it).
    pub users_with_shift: u64,
    /// All entries together.
    pub total: ReportFigures,
    /// Per actor.
    pub users: Vec<ReportUser>,
    /// Per camera.
    pub cameras: Vec<ReportCamera>,
    /// Per UTC day, oldest first.
    pub days: Vec<ReportDay>,
}

impl From<Report> for AuditReport {
    fn from(r: Report) -> AuditReport {
        let Report {
            from,
            to,
            entries,
            users_with_shift,
            total,
            users,
            cameras,
            days,
        } = r;
        AuditReport {
            from,
            to,
            entries,
            users_with_shift: users_with_shift as u64,
            total: total.into(),
            users: users
                .into_iter()
                .map(|u| {
                    let UserFigures {
                        pseudonym,
                        name,
                        indicators,
                    } = u;
                    ReportUser {
                        pseudonym,
                        name,
                        figures: indicators.into(),
                    }
                })
                .collect(),
            cameras: cameras
                .into_iter()
                .map(|c| {
                    let CameraFigures { camera, indicators } = c;
                    ReportCamera {
                        camera,
                        figures: indicators.into(),
                    }
                })
                .collect(),
            days: days
                .into_iter()
                .map(|d| {
                    let DayFigures { day, indicators } = d;
                    ReportDay {
                        day,
                        figures: indicators.into(),
                    }
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mirrors serialise exactly as the originals do.
    #[test]
    fn mirrors_serialise_as_the_originals() {
        let role = Role {
            name: "night shift".into(),
            description: "Car park at night.".into(),
            grants: vec![
                Grant::all(veil_access::Action::LiveView),
                Grant {
                    permission: "playback".into(),
                    scope: Scope::Group {
                        group: "car park".into(),
                    },
                },
                Grant {
                    permission: "playback".into(),
                    scope: Scope::Cameras { ids: vec![3, 4] },
                },
            ],
            playback_window_hours: Some(72),
            time_profile: Some(TimeProfile {
                time_zone: "Europe/Paris".into(),
                intervals: vec![Interval {
                    day: Day::Mon,
                    start: "22:00".into(),
                    end: "24:00".into(),
                }],
            }),
            require_second_factor: true,
        };
        let original = serde_json::to_value(&role).unwrap();
        assert_eq!(
            serde_json::to_value(RoleView::from(role.clone())).unwrap(),
            original
        );
        let def: RoleDefinition = serde_json::from_value(original).unwrap();
        assert_eq!(def.into_role("night shift".into()), role);

        let m = MotionSettings {
            pre_seconds: 2,
            post_seconds: 3,
            threshold: 9,
            min_area_percent: 1.5,
        };
        assert_eq!(
            serde_json::to_value(Motion::from(m.clone())).unwrap(),
            serde_json::to_value(&m).unwrap()
        );
        let partial: Motion = serde_json::from_str(r#"{"threshold": 30}"#).unwrap();
        let original: MotionSettings = serde_json::from_str(r#"{"threshold": 30}"#).unwrap();
        assert_eq!(MotionSettings::from(partial), original);
        assert!(serde_json::from_str::<Motion>(r#"{"nope": 1}"#).is_err());

        let mut b = veil_audit::report::ReportBuilder::new(
            veil_base::Time90k(0),
            veil_base::Time90k(90_000 * 86_400),
            Default::default(),
            Default::default(),
        );
        b.add(&veil_store::db::AuditRow {
            seq: 1,
            time_90k: veil_base::Time90k(90_000),
            actor: "u-1".into(),
            action: "playback".into(),
            resource: "camera:1".into(),
            outcome: "ok".into(),
            detail: "rendition=main start=1970-01-01T00:00:00Z end=1970-01-01T00:30:00Z \
                     requested_start=1970-01-01T00:00:00Z requested_end=1970-01-01T00:30:00Z"
                .into(),
            client: String::new(),
            justification: String::new(),
            prev_hash: Vec::new(),
            hash: Vec::new(),
        });
        let report = b.finish();
        assert_eq!(report.users.len(), 1);
        assert_eq!(report.cameras.len(), 1);
        assert_eq!(
            serde_json::to_value(AuditReport::from(report.clone())).unwrap(),
            serde_json::to_value(&report).unwrap()
        );
    }
}
