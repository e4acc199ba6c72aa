//! Workspace schedules (SPEC §8): a standard five-field cron expression,
//! never firing more often than the configured minimum, read in an IANA
//! time zone (validated apart: a schedule keeps its zone when a change
//! leaves it out).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

use super::time::{Millis, MINUTE};
use super::validation::FieldError;

/// A validated cron expression: as given, and parsed.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub cron: String,
    cron_parsed: Cron,
}

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
///
/// Worked out from the expression's structure rather than by walking fire
/// times: in a five-field cron the minutes and hours are the same on every
/// day it fires, so the gaps are those between the minutes of one day, and
/// between the last minute of a firing day and the first of the next
/// firing day. Which days fire is read over 28 years (2001-2028), the span
/// in which every date falls on every weekday in leap and common years.
pub fn smallest_gap(cron: &Cron) -> Option<i64> {
    let p = &cron.pattern;
    let minutes: Vec<i64> = (0..24u32)
        .filter(|h| p.hour_match(*h).unwrap_or(false))
        .flat_map(|h| {
            (0..60u32)
                .filter(|m| p.minute_match(*m).unwrap_or(false))
                .map(move |m| i64::from(h * 60 + m))
        })
        .collect();
    let (first, last) = (*minutes.first()?, *minutes.last()?);
    let within_a_day = minutes.windows(2).map(|w| w[1] - w[0]).min();
    let mut day = chrono::NaiveDate::from_ymd_opt(2001, 1, 1)?;
    let end = chrono::NaiveDate::from_ymd_opt(2029, 1, 1)?;
    let (mut previous, mut across_days): (Option<i64>, Option<i64>) = (None, None);
    let mut n: i64 = 0;
    while day < end {
        use chrono::Datelike;
        let weekday = croner::Weekday::from_days_from_sunday(day.weekday().num_days_from_sunday());
        let fires = p.month_match(day.month()).unwrap_or(false)
            && p.day_match(day.year(), day.month(), day.day(), weekday)
                .unwrap_or(false);
        if fires {
            if let Some(prev) = previous {
                let gap = (n - prev) * 1440 - last + first;
                across_days = Some(across_days.map_or(gap, |g| g.min(gap)));
            }
            previous = Some(n);
        }
        day = day.succ_opt()?;
        n += 1;
    }
    previous?;
    // One firing day in 28 years has no gap to another: as far apart as it gets.
    Some(
        within_a_day
            .into_iter()
            .chain(across_days)
            .min()
            .unwrap_or(i64::MAX),
    )
}

impl Schedule {
    /// Validates a schedule: the expression, the zone, and the minimum gap
    /// between two runs (`min_interval`, in milliseconds).
    pub fn new(cron: &str, min_interval: Millis) -> Result<Self, FieldError> {
        let parsed = parse_cron(cron)?;
        let min_minutes = (min_interval / MINUTE).max(1);
        match smallest_gap(&parsed) {
            None => {
                return Err(FieldError::new(
                    "cron",
                    "invalid",
                    "the expression never fires",
                ))
            }
            Some(gap) if gap < min_minutes => {
                return Err(FieldError::new(
                    "cron",
                    "too_frequent",
                    format!(
                        "fires {gap} minute(s) apart; schedules may fire at most every {min_minutes} minutes"
                    ),
                ))
            }
            Some(_) => {}
        }
        Ok(Schedule {
            cron: cron.trim().to_owned(),
            cron_parsed: parsed,
        })
    }

    /// An expression read back from the database (validated when it was
    /// set; `None` if it no longer parses).
    pub fn from_db(cron: &str) -> Option<Self> {
        Some(Schedule {
            cron: cron.to_owned(),
            cron_parsed: parse_cron(cron).ok()?,
        })
    }

    /// The first fire time strictly after `after` in zone `tz`, in Unix
    /// milliseconds.
    pub fn next_after(&self, after: Millis, tz: Tz) -> Option<Millis> {
        let at = DateTime::<Utc>::from_timestamp_millis(after)?.with_timezone(&tz);
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

    fn field_code(r: Result<Schedule, FieldError>) -> (String, String) {
        let e = r.err().unwrap();
        (e.field, e.code)
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
            assert!(Schedule::new(cron, FIVE_MINUTES).is_ok(), "{cron}");
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
            let r = Schedule::new(cron, FIVE_MINUTES);
            let e = r.err().unwrap_or_else(|| panic!("{cron} accepted"));
            assert_eq!(e.field, "cron", "{cron}");
            assert_eq!(e.code, "invalid", "{cron}");
            assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn schedules_below_the_minimum_gap_are_refused() {
        assert_eq!(
            field_code(Schedule::new("* * * * *", FIVE_MINUTES)),
            ("cron".to_owned(), "too_frequent".to_owned())
        );
        // Only two fire times four minutes apart, once an hour: still refused.
        assert_eq!(
            field_code(Schedule::new("0,4 * * * *", FIVE_MINUTES)),
            ("cron".to_owned(), "too_frequent".to_owned())
        );
        // A daily schedule is fine; 23:58 and 00:01 the next day are not.
        assert!(Schedule::new("58 23 * * *", FIVE_MINUTES).is_ok());
        assert!(Schedule::new("1,58 0,23 * * *", FIVE_MINUTES).is_err());
        assert!(Schedule::new("0 * * * *", 2 * 60 * MINUTE).is_err());
        assert!(Schedule::new("0 */2 * * *", 2 * 60 * MINUTE).is_ok());
        // Rare gaps count: 23:56 on Feb 29 and 00:00 on Mar 1, leap years only.
        let rare = "0,5,10,15,20,25,30,35,40,45,50,56 0,2,4,6,8,10,12,14,16,18,20,23 1-29/2 2,3 *";
        assert_eq!(smallest_gap(&parse_cron(rare).unwrap()), Some(4));
        assert!(Schedule::new(rare, FIVE_MINUTES).is_err());
    }

    #[test]
    fn rare_schedules_are_found() {
        // Feb 29 that is a Monday (croner's `+`: day of month AND of week).
        assert!(Schedule::new("0 0 29 2 +1", FIVE_MINUTES).is_ok());
        assert_eq!(
            smallest_gap(&parse_cron("0 0 1 1 *").unwrap()),
            Some(365 * 1440)
        );
    }

    #[test]
    fn bad_time_zones_are_named() {
        let e = parse_timezone("Mars/Olympus").unwrap_err();
        assert_eq!((e.field.as_str(), e.code.as_str()), ("timezone", "invalid"));
        assert_eq!(
            parse_timezone("Europe/Paris").unwrap().name(),
            "Europe/Paris"
        );
    }

    #[test]
    fn next_fire_time_follows_the_zone() {
        // 2026-03-03T10:00:00Z
        let now = 1_772_532_000_000;
        let midnight = Schedule::new("0 0 * * *", FIVE_MINUTES).unwrap();
        let paris = parse_timezone("Europe/Paris").unwrap();
        // 2026-03-04T00:00Z in UTC; 2026-03-03T23:00Z in Paris.
        assert_eq!(midnight.next_after(now, Tz::UTC), Some(1_772_582_400_000));
        assert_eq!(midnight.next_after(now, paris), Some(1_772_578_800_000));
        // Strictly after: at a fire time, the next one.
        assert_eq!(
            midnight.next_after(1_772_582_400_000, Tz::UTC),
            Some(1_772_668_800_000)
        );
    }
}
