//! Weekly time profiles: intervals of local time in an IANA time zone, with
//! daylight-saving changes followed. Roles use them for their hours and
//! cameras for scheduled recording. Pure: the time is always passed in.

use serde::{Deserialize, Serialize};

use crate::{Time90k, TIME_UNITS_PER_SEC};

/// A day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Day {
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

impl Day {
    fn from_chrono(d: chrono::Weekday) -> Day {
        match d {
            chrono::Weekday::Mon => Day::Mon,
            chrono::Weekday::Tue => Day::Tue,
            chrono::Weekday::Wed => Day::Wed,
            chrono::Weekday::Thu => Day::Thu,
            chrono::Weekday::Fri => Day::Fri,
            chrono::Weekday::Sat => Day::Sat,
            chrono::Weekday::Sun => Day::Sun,
        }
    }
}

/// One weekly interval, `start` inclusive to `end` exclusive, as `HH:MM`
/// local time; `end` may be `24:00`. A night shift is two intervals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    /// The day.
    pub day: Day,
    /// Start, `HH:MM`.
    pub start: String,
    /// End, `HH:MM` (after `start`).
    pub end: String,
}

/// Weekly intervals in an IANA time zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeProfile {
    /// E.g. `Europe/Paris`; daylight-saving changes are followed.
    pub time_zone: String,
    /// The intervals.
    pub intervals: Vec<Interval>,
}

fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    ((h < 24 && m < 60) || (h == 24 && m == 0)).then_some(h * 60 + m)
}

impl TimeProfile {
    /// Checks the zone and every interval; the error says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        self.time_zone.parse::<chrono_tz::Tz>().map_err(|_| {
            format!(
                "unknown time zone {:?} (use an IANA name such as Europe/Paris)",
                self.time_zone
            )
        })?;
        if self.intervals.is_empty() {
            return Err("a time profile needs at least one interval".into());
        }
        for i in &self.intervals {
            let (Some(s), Some(e)) = (minutes(&i.start), minutes(&i.end)) else {
                return Err(format!(
                    "interval {:?} {}-{}: times must be HH:MM (00:00 to 24:00)",
                    i.day, i.start, i.end
                ));
            };
            if e <= s {
                return Err(format!(
                    "interval {:?} {}-{}: the end must be after the start (split a night shift at midnight)",
                    i.day, i.start, i.end
                ));
            }
        }
        Ok(())
    }

    /// Whether `now` falls in one of the intervals. An invalid profile is
    /// never active (default deny).
    pub fn active(&self, now: Time90k) -> bool {
        let Ok(tz) = self.time_zone.parse::<chrono_tz::Tz>() else {
            return false;
        };
        let secs = now.0.div_euclid(TIME_UNITS_PER_SEC);
        let Some(utc) = chrono::DateTime::from_timestamp(secs, 0) else {
            return false;
        };
        use chrono::{Datelike, Timelike};
        let local = utc.with_timezone(&tz);
        let day = Day::from_chrono(local.weekday());
        let minute = local.hour() * 60 + local.minute();
        self.intervals.iter().any(|i| {
            i.day == day
                && matches!((minutes(&i.start), minutes(&i.end)), (Some(s), Some(e)) if s <= minute && minute < e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Time90k {
        Time90k::parse_rfc3339(s).unwrap()
    }

    fn sunday(start: &str, end: &str) -> TimeProfile {
        TimeProfile {
            time_zone: "Europe/Paris".into(),
            intervals: vec![Interval {
                day: Day::Sun,
                start: start.into(),
                end: end.into(),
            }],
        }
    }

    #[test]
    fn spring_forward_shifts_the_utc_boundary() {
        // Sunday 2026-03-29, 02:00 Paris time jumps to 03:00 (UTC+1 → UTC+2).
        let p = sunday("03:00", "04:00");
        assert!(!p.active(t("2026-03-29T00:59:59Z")), "01:59:59 local");
        // 01:00Z is 03:00 local (summer time): the hour starts one UTC hour
        // earlier than it did a week before.
        assert!(p.active(t("2026-03-29T01:00:00Z")));
        assert!(p.active(t("2026-03-29T01:59:59Z")));
        assert!(!p.active(t("2026-03-29T02:00:00Z")));
        assert!(!p.active(t("2026-03-22T01:30:00Z")), "winter: 02:30 local");
        assert!(p.active(t("2026-03-22T02:30:00Z")), "winter: 03:30 local");
    }

    #[test]
    fn fall_back_repeats_local_hours() {
        // Sunday 2026-10-25, 03:00 Paris time falls back to 02:00: 02:xx local
        // happens twice, and both are in the interval.
        let p = sunday("02:00", "03:00");
        assert!(p.active(t("2026-10-25T00:30:00Z")), "first 02:30 (UTC+2)");
        assert!(p.active(t("2026-10-25T01:30:00Z")), "second 02:30 (UTC+1)");
        assert!(!p.active(t("2026-10-25T02:00:00Z")), "03:00 local");
    }

    #[test]
    fn an_invalid_profile_is_never_active() {
        let mut p = sunday("00:00", "24:00");
        assert!(p.active(t("2026-10-25T12:00:00Z")));
        p.time_zone = "Mars/Olympus".into();
        assert!(p.validate().is_err());
        assert!(!p.active(t("2026-10-25T12:00:00Z")));
    }
}
