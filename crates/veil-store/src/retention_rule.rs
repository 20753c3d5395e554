//! The effective retention of a (camera, rendition): its own rule if it has
//! one (table `camera_retention`), else 48 hours when the camera looks at a
//! public-facing area (or the installation's, if shorter), else the
//! installation's retention. Pure: the checks of
//! a new rule and the lookup that retention runs with ([`Rules`], read once
//! per plan by `Store::retention_rules`).

use std::collections::HashMap;

use veil_base::{CameraId, TIME_UNITS_PER_SEC};

/// A camera's area: private premises (the default).
pub const PRIVATE: &str = "private";
/// A workplace (employees are filmed).
pub const WORKPLACE: &str = "workplace";
/// A view of public space (a street, a shop's entrance).
pub const PUBLIC_FACING: &str = "public_facing";
/// Next to homes (neighbours' doors, windows, gardens).
pub const RESIDENTIAL_ADJACENT: &str = "residential_adjacent";
/// Every area.
pub const AREAS: [&str; 4] = [PRIVATE, WORKPLACE, PUBLIC_FACING, RESIDENTIAL_ADJACENT];

/// The retention of a public-facing camera without its own rule: 48 hours.
pub const PUBLIC_FACING_HOURS: u32 = 48;
/// The longest retention without a written justification: 30 days.
pub const MAX_UNJUSTIFIED_HOURS: u32 = 30 * 24;
/// The default of the longest retention anyone may set: one year.
pub const DEFAULT_MAX_HOURS: u32 = 365 * 24;
/// The shortest justification accepted (characters, after trimming).
pub const MIN_JUSTIFICATION_CHARS: usize = 10;
/// The longest justification accepted.
pub const MAX_JUSTIFICATION_CHARS: usize = 2000;
/// The `setting` row holding the installation's retention in hours.
pub const INSTALLATION_SETTING: &str = "retention_hours";
/// The `setting` row holding the longest retention anyone may set, in hours.
pub const MAX_SETTING: &str = "max_retention_hours";
/// The `setting` row holding the default retention of the `original`
/// rendition (`[masks] original_retention_hours`), in hours.
pub const ORIGINAL_SETTING: &str = "original_retention_hours";
/// The default retention of the `original` rendition: 72 hours.
pub const DEFAULT_ORIGINAL_HOURS: u32 = 72;

/// Checks an area name; the message names the field `area`.
pub fn check_area(area: &str) -> Result<(), String> {
    if AREAS.contains(&area) {
        Ok(())
    } else {
        Err(format!("area must be one of {AREAS:?}, got {area:?}"))
    }
}

/// A camera's own retention of one rendition (a `camera_retention` row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraRetention {
    /// The rendition (`main`).
    pub rendition: String,
    /// How long its recordings are kept, in hours.
    pub hours: u32,
    /// Why (empty when none was needed).
    pub justification: String,
    /// When it was set.
    pub updated_90k: veil_base::Time90k,
}

/// Where an effective retention comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The camera's own rule for that rendition.
    Camera,
    /// The camera's area (public-facing: 48 hours).
    Area,
    /// The installation's retention.
    Installation,
    /// The default of the `original` rendition of a masked camera
    /// (`[masks] original_retention_hours`), shorter than the others.
    Masks,
}

impl Source {
    /// The stable name used in the API and the pages.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Camera => "camera",
            Source::Area => "area",
            Source::Installation => "installation",
            Source::Masks => "masks",
        }
    }
}

/// The retention in force for a (camera, rendition).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    /// Hours.
    pub hours: u32,
    /// Where they come from.
    pub source: Source,
}

/// The effective retention from the camera's own rule (if any), its area and
/// the installation's retention. A public-facing area shortens the
/// installation's retention to 48 hours; it never lengthens a shorter one.
pub fn effective(installation_hours: u32, area: &str, own: Option<u32>) -> Effective {
    match own {
        Some(hours) => Effective {
            hours,
            source: Source::Camera,
        },
        None if area == PUBLIC_FACING && installation_hours > PUBLIC_FACING_HOURS => Effective {
            hours: PUBLIC_FACING_HOURS,
            source: Source::Area,
        },
        None => Effective {
            hours: installation_hours,
            source: Source::Installation,
        },
    }
}

/// Why a rule is refused: the field (`hours` or `justification`) and a
/// message for people that names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// `hours` or `justification`.
    pub field: &'static str,
    /// The message.
    pub message: String,
}

/// Checks a camera's rule: at least 1 hour, at most `max_hours`, and over 30
/// days only with a justification of at least 10 characters. Returns the
/// trimmed justification (empty when none was given).
pub fn check(hours: i64, justification: Option<&str>, max_hours: u32) -> Result<String, Refused> {
    if hours < 1 || hours > i64::from(max_hours) {
        return Err(Refused {
            field: "hours",
            message: format!("hours must be between 1 and {max_hours}, got {hours}"),
        });
    }
    let j = justification.unwrap_or("").trim();
    let n = j.chars().count();
    if n > MAX_JUSTIFICATION_CHARS || j.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Refused {
            field: "justification",
            message: format!(
                "justification must be at most {MAX_JUSTIFICATION_CHARS} characters without \
                 control characters"
            ),
        });
    }
    if hours > i64::from(MAX_UNJUSTIFIED_HOURS) && n < MIN_JUSTIFICATION_CHARS {
        return Err(Refused {
            field: "justification",
            message: format!(
                "justification is required to keep video longer than 30 days \
                 ({MAX_UNJUSTIFIED_HOURS} hours): say why, in at least \
                 {MIN_JUSTIFICATION_CHARS} characters, or shorten hours"
            ),
        });
    }
    Ok(j.to_owned())
}

/// Every camera's retention as of one read: what a retention plan runs with.
/// Cameras it does not know (none should exist) get the installation's.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// The installation's retention in hours.
    pub installation_hours: u32,
    /// Every camera's area, deleted cameras included.
    pub areas: HashMap<CameraId, String>,
    /// Every camera's own rules, per rendition.
    pub own: HashMap<(CameraId, String), u32>,
    /// The default retention of the `original` rendition in hours (`None`:
    /// [`DEFAULT_ORIGINAL_HOURS`]); never longer than what everyone sees.
    pub original_hours: Option<u32>,
}

impl Rules {
    /// The effective retention of a (camera, rendition).
    ///
    /// What everyone sees is one rule, stored as `main`'s, whether it is
    /// recorded unmasked (`main`) or masked (`protected`): masks never
    /// change how long a camera's video is kept. The `original` of a masked
    /// camera keeps its own rule, else its shorter default, and never
    /// longer than what everyone sees.
    pub fn effective(&self, camera: CameraId, rendition: &str) -> Effective {
        let area = self.areas.get(&camera).map_or(PRIVATE, String::as_str);
        let own = |r: &str| self.own.get(&(camera, r.to_owned())).copied();
        let rule_of = match rendition {
            crate::PROTECTED_RENDITION | crate::ORIGINAL_RENDITION => crate::MAIN_RENDITION,
            other => other,
        };
        let view = effective(self.installation_hours, area, own(rule_of));
        if rendition != crate::ORIGINAL_RENDITION {
            return view;
        }
        let (hours, source) = match own(crate::ORIGINAL_RENDITION) {
            Some(h) => (h, Source::Camera),
            None => (
                self.original_hours.unwrap_or(DEFAULT_ORIGINAL_HOURS),
                Source::Masks,
            ),
        };
        if hours < view.hours {
            Effective { hours, source }
        } else {
            view
        }
    }

    /// The closure `Store::retention_plan` takes: retention in 90 kHz units.
    pub fn keep_90k(self) -> impl Fn(CameraId, &str) -> i64 + Send + Sync + Clone + 'static {
        let rules = std::sync::Arc::new(self);
        move |camera, rendition| {
            i64::from(rules.effective(camera, rendition).hours) * 3600 * TIME_UNITS_PER_SEC
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effective_rule_is_the_cameras_then_the_areas_then_the_installations() {
        let e = |area, own| effective(168, area, own);
        assert_eq!(
            e(PRIVATE, None),
            Effective {
                hours: 168,
                source: Source::Installation
            }
        );
        assert_eq!(e(WORKPLACE, None).hours, 168);
        assert_eq!(
            e(PUBLIC_FACING, None),
            Effective {
                hours: 48,
                source: Source::Area
            }
        );
        assert_eq!(
            e(PUBLIC_FACING, Some(500)),
            Effective {
                hours: 500,
                source: Source::Camera
            }
        );
        assert_eq!(e(PRIVATE, Some(1)).source, Source::Camera);
        // A public-facing default never lengthens a shorter installation rule.
        assert_eq!(
            effective(24, PUBLIC_FACING, None),
            Effective {
                hours: 24,
                source: Source::Installation
            }
        );

        let rules = Rules {
            installation_hours: 100,
            areas: HashMap::from([
                (CameraId(1), PUBLIC_FACING.to_owned()),
                (CameraId(2), PRIVATE.to_owned()),
            ]),
            own: HashMap::from([((CameraId(2), "main".to_owned()), 3)]),
            original_hours: None,
        };
        assert_eq!(rules.effective(CameraId(1), "main").hours, 48);
        assert_eq!(rules.effective(CameraId(2), "main").hours, 3);
        assert_eq!(rules.effective(CameraId(2), "sub").hours, 100);
        assert_eq!(rules.effective(CameraId(9), "main").hours, 100);
        // The original rendition: 72 hours by default, the camera's own
        // rule for it when set, never longer than the camera's default.
        assert_eq!(
            rules.effective(CameraId(9), "original"),
            Effective {
                hours: 72,
                source: Source::Masks
            }
        );
        assert_eq!(rules.effective(CameraId(1), "original").hours, 48);
        let mut shorter = rules.clone();
        shorter.original_hours = Some(5);
        shorter
            .own
            .insert((CameraId(2), "original".to_owned()), 200);
        assert_eq!(shorter.effective(CameraId(1), "original").hours, 5);
        // Never longer than what everyone sees (camera 2: 3 hours).
        assert_eq!(shorter.effective(CameraId(2), "original").hours, 3);
        shorter.own.insert((CameraId(1), "original".to_owned()), 2);
        assert_eq!(
            shorter.effective(CameraId(1), "original"),
            Effective {
                hours: 2,
                source: Source::Camera
            }
        );
        // Masking a camera does not change how long it keeps video.
        assert_eq!(
            rules.effective(CameraId(2), "protected"),
            rules.effective(CameraId(2), "main")
        );
        assert_eq!(rules.effective(CameraId(1), "protected").hours, 48);
        let keep = rules.keep_90k();
        assert_eq!(keep(CameraId(2), "main"), 3 * 3600 * TIME_UNITS_PER_SEC);
    }

    #[test]
    fn rules_are_bounded_and_long_ones_need_a_reason() {
        let field = |h, j| check(h, j, 8760).unwrap_err().field;
        assert_eq!(field(0, None), "hours");
        assert_eq!(field(-5, None), "hours");
        assert_eq!(field(8761, Some("a long enough reason")), "hours");
        assert_eq!(field(721, None), "justification");
        assert_eq!(field(721, Some("  too short ")), "justification");
        assert_eq!(field(10, Some("bad\u{7}char")), "justification");
        assert_eq!(check(1, None, 8760).unwrap(), "");
        assert_eq!(check(720, None, 8760).unwrap(), "");
        assert_eq!(
            check(721, Some("  Thefts are reported weeks later "), 8760).unwrap(),
            "Thefts are reported weeks later"
        );
        assert_eq!(check(100, None, 50).unwrap_err().field, "hours");
        assert!(check_area("public_facing").is_ok());
        assert!(check_area("street")
            .unwrap_err()
            .starts_with("area must be one of"));
    }
}
