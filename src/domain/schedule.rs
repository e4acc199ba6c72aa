//! Workspace schedules (SPEC §8): a standard five-field cron expression in
//! an IANA time zone, never firing more often than the configured minimum.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

use super::time::{Millis, MINUTE};
use super::validation::FieldError;

/// A parsed schedule: the expression as given and its zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub cron: String,
    cron_parsed: Cron,
    pub timezone: Tz,
}

/// How many fire times [`smallest_gap`] looks at at most: every gap of a
/// cron expression shows within its first firing day (the minutes of a day
/// are the same on every day it fires) or between two consecutive firing
/// days, and 5,000 fire times cover at least 17 days of the most frequent
/// schedule a 5-minute minimum lets through.
const GAP_WINDOW: usize = 5_000;

/// `"0 0 * * *"`: five fields (minute, hour, day of month, month, day of
/// week), names (`MON`, `JAN`), ranges, steps, lists, the `@daily` family
/// and croner's `L`, `W` and `#`. Six-field (seconds) and year fields are
/// refused.
pub fn parse_cron(raw: &str) -> Result<Cron, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 200 {
        return Err(FieldError::new(
            "cron",
            "invalid",
            "must be a five-field cron expression such as \"0 0 * * *\"",
        ));
    }
    let fields = raw.split_whitespace().count();
    if !raw.starts_with('@') && fields != 5 {
        return Err(FieldError::new(
            "cron",
            "invalid",
            format!(
                "must have five fields (minute hour day-of-month month day-of-week), not {fields}"
            ),
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(raw)
        .map_err(|e| FieldError::new("cron", "invalid", format!("invalid cron expression: {e}")))
}

/// An IANA time zone name (`UTC`, `Europe/Paris`).
pub fn parse_timezone(raw: &str) -> Result<Tz, FieldError> {
    Tz::from_str(raw).map_err(|_| {
        FieldError::new(
            "timezone",
            "invalid",
            "must be an IANA time zone name such as \"UTC\" or \"Europe/Paris\"",
        )
    })
}

/// The smallest gap between two consecutive fire times, in minutes,
/// counted in UTC; `None` when the expression never fires (`0 0 31 2 *`).
/// Stops early once a gap below `stop_below` is found.
pub fn smallest_gap(cron: &Cron, stop_below: i64) -> Option<i64> {
    let start = Utc.with_ymd_and_hms(2001, 1, 1, 0, 0, 0).single()?;
    let end = start + chrono::Duration::days(4 * 366);
    let mut times = cron
        .iter_after(start)
        .take_while(|t| *t < end)
        .take(GAP_WINDOW);
    let mut prev = times.next()?;
    let mut smallest: Option<i64> = None;
    for t in times {
        let gap = (t - prev).num_minutes();
        smallest = Some(smallest.map_or(gap, |s| s.min(gap)));
        if gap < stop_below {
            break;
        }
        prev = t;
    }
    // One fire time in four years (`0 0 29 2 *`): as far apart as it gets.
    Some(smallest.unwrap_or(i64::MAX))
}

impl Schedule {
    /// Validates a schedule: the expression, the zone, and the minimum gap
    /// between two runs (`min_interval`, in milliseconds).
    pub fn new(cron: &str, timezone: &str, min_interval: Millis) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let parsed = parse_cron(cron).map_err(|e| errors.push(e)).ok();
        let tz = parse_timezone(timezone).map_err(|e| errors.push(e)).ok();
        let (Some(parsed), Some(tz)) = (parsed, tz) else {
            return Err(errors);
        };
        let min_minutes = (min_interval / MINUTE).max(1);
        match smallest_gap(&parsed, min_minutes) {
            None => {
                return Err(vec![FieldError::new(
                    "cron",
                    "invalid",
                    "the expression never fires",
                )])
            }
            Some(gap) if gap < min_minutes => {
                return Err(vec![FieldError::new(
                    "cron",
                    "too_frequent",
                    format!(
                        "fires {gap} minute(s) apart; schedules may fire at most every {min_minutes} minutes"
                    ),
                )])
            }
            Some(_) => {}
        }
        Ok(Schedule {
            cron: cron.trim().to_owned(),
            cron_parsed: parsed,
            timezone: tz,
        })
    }

    /// A schedule read back from the database (validated when it was set;
    /// `None` if it no longer parses, e.g. a zone removed from the tz data).
    pub fn from_db(cron: &str, timezone: &str) -> Option<Self> {
        Some(Schedule {
            cron: cron.to_owned(),
            cron_parsed: parse_cron(cron).ok()?,
            timezone: parse_timezone(timezone).ok()?,
        })
    }

    /// The first fire time strictly after `after`, in Unix milliseconds.
    pub fn next_after(&self, after: Millis) -> Option<Millis> {
        let at = DateTime::<Utc>::from_timestamp_millis(after)?.with_timezone(&self.timezone);
        self.cron_parsed
            .find_next_occurrence(&at, false)
            .ok()
            .map(|t| t.timestamp_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_MINUTES: Millis = 5 * MINUTE;

    fn field_codes(r: Result<Schedule, Vec<FieldError>>) -> Vec<(String, String)> {
        r.err()
            .unwrap()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn standard_expressions_are_accepted() {
        for cron in [
            "0 0 * * *",
            "*/5 * * * *",
            "30 9 * * MON-FRI",
            "@daily",
            "0 12 1 JAN *",
        ] {
            assert!(Schedule::new(cron, "UTC", FIVE_MINUTES).is_ok(), "{cron}");
        }
    }

    #[test]
    fn malformed_expressions_say_why() {
        for cron in [
            "",
            "* * * *",
            "0 0 0 * * *",
            "61 * * * *",
            "a b c d e",
            "0 0 31 2 *",
        ] {
            let r = Schedule::new(cron, "UTC", FIVE_MINUTES);
            let errs = r.err().unwrap_or_else(|| panic!("{cron} accepted"));
            assert_eq!(errs[0].field, "cron", "{cron}");
            assert_eq!(errs[0].code, "invalid", "{cron}");
            assert!(!errs[0].message.is_empty());
        }
    }

    #[test]
    fn schedules_below_the_minimum_gap_are_refused() {
        assert_eq!(
            field_codes(Schedule::new("* * * * *", "UTC", FIVE_MINUTES)),
            [("cron".to_owned(), "too_frequent".to_owned())]
        );
        // Only two fire times four minutes apart, once an hour: still refused.
        assert_eq!(
            field_codes(Schedule::new("0,4 * * * *", "UTC", FIVE_MINUTES)),
            [("cron".to_owned(), "too_frequent".to_owned())]
        );
        // A daily schedule is fine; 23:58 and 00:01 the next day are not.
        assert!(Schedule::new("58 23 * * *", "UTC", FIVE_MINUTES).is_ok());
        assert!(Schedule::new("1,58 0,23 * * *", "UTC", FIVE_MINUTES).is_err());
        assert!(Schedule::new("0 * * * *", "UTC", 2 * 60 * MINUTE).is_err());
        assert!(Schedule::new("0 */2 * * *", "UTC", 2 * 60 * MINUTE).is_ok());
    }

    #[test]
    fn bad_time_zones_are_named() {
        assert_eq!(
            field_codes(Schedule::new("0 0 * * *", "Mars/Olympus", FIVE_MINUTES)),
            [("timezone".to_owned(), "invalid".to_owned())]
        );
    }

    #[test]
    fn next_fire_time_follows_the_zone() {
        // 2026-03-03T10:00:00Z
        let now = 1_772_532_000_000;
        let utc = Schedule::new("0 0 * * *", "UTC", FIVE_MINUTES).unwrap();
        assert_eq!(utc.next_after(now), Some(1_772_582_400_000)); // 2026-03-04T00:00Z
        let paris = Schedule::new("0 0 * * *", "Europe/Paris", FIVE_MINUTES).unwrap();
        assert_eq!(paris.next_after(now), Some(1_772_578_800_000)); // 2026-03-03T23:00Z
                                                                    // Strictly after: at a fire time, the next one.
        assert_eq!(utc.next_after(1_772_582_400_000), Some(1_772_668_800_000));
    }
}
