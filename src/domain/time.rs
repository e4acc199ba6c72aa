//! Time as Unix milliseconds inside, RFC 3339 with milliseconds outside.

use chrono::{DateTime, SecondsFormat, Utc};

pub type Millis = i64;

pub const SECOND: Millis = 1_000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;

pub fn now_ms() -> Millis {
    Utc::now().timestamp_millis()
}

/// `2026-03-03T10:00:00.000Z`. Every timestamp of every answer goes
/// through here (five per workspace in a list), so the date is computed
/// directly (the days-to-civil algorithm of Howard Hinnant's `chrono`-
/// compatible date library) and the digits written into a buffer.
pub fn format(ms: Millis) -> String {
    match four_digit_year(ms) {
        Some(text) => String::from_utf8(text.to_vec()).expect("ASCII digits"),
        None => wide(ms),
    }
}

/// The text of `ms` when its year has four digits (0000 to 9999).
fn four_digit_year(ms: Millis) -> Option<[u8; 24]> {
    let (days, ms_of_day) = (ms.div_euclid(DAY), ms.rem_euclid(DAY));
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, ms_of_day / HOUR);
    put(14, 2, ms_of_day % HOUR / MINUTE);
    put(17, 2, ms_of_day % MINUTE / SECOND);
    put(20, 3, ms_of_day % SECOND);
    Some(out)
}

/// Outside four-digit years, chrono's own (signed, wider) form.
#[cold]
fn wide(ms: Millis) -> String {
    let dt = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    dt.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A point in time that serializes as [`format`] writes it, from a buffer
/// on the stack: an answer's timestamps need no string of their own (a list
/// page of workspaces formats a hundred).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub Millis);

impl Timestamp {
    pub fn opt(ms: Option<Millis>) -> Option<Timestamp> {
        ms.map(Timestamp)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match four_digit_year(self.0) {
            Some(text) => s.serialize_str(std::str::from_utf8(&text).expect("ASCII digits")),
            None => s.serialize_str(&wide(self.0)),
        }
    }
}

/// (year, month, day) of the proleptic Gregorian calendar, `days` after
/// 1970-01-01 (negative before).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub fn format_opt(ms: Option<Millis>) -> Option<String> {
    ms.map(format)
}

/// Parses an RFC 3339 timestamp (any offset) into Unix milliseconds.
pub fn parse(s: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_with_milliseconds_in_utc() {
        assert_eq!(super::format(1_772_532_000_000), "2026-03-03T10:00:00.000Z");
        assert_eq!(super::format(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::format(951_782_399_999), "2000-02-28T23:59:59.999Z");
        assert_eq!(super::format(4_107_542_400_007), "2100-03-01T00:00:00.007Z");
        // Outside four-digit years, chrono's own (signed, wider) form.
        assert_eq!(
            super::format(-62_198_755_200_000),
            "-0001-01-01T00:00:00.000Z"
        );
        assert_eq!(
            super::parse("2026-03-03T11:00:00.000+01:00"),
            Some(1_772_532_000_000)
        );
    }

    #[test]
    fn a_timestamp_serializes_as_format_writes_it() {
        for ms in [0, 1_772_532_000_000, 951_782_399_999, -62_198_755_200_000] {
            let json = serde_json::to_string(&super::Timestamp(ms)).unwrap();
            assert_eq!(json, format!("\"{}\"", super::format(ms)));
        }
    }

    #[test]
    fn formats_as_chrono_does_across_four_digit_years() {
        use chrono::{DateTime, SecondsFormat, Utc};
        // Year 0000 to 9999, leap days and century years included, with a
        // step that lands on every time of day over the run.
        let (first, last) = (-62_167_219_200_000_i64, 253_402_300_799_999_i64);
        let mut ms = first;
        while ms <= last {
            let want = DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Millis, true);
            assert_eq!(super::format(ms), want, "{ms}");
            ms += 1_234_567_891;
        }
        for ms in [
            first,
            last,
            951_868_800_000,
            951_782_400_000,
            4_107_456_000_000,
        ] {
            let want = DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Millis, true);
            assert_eq!(super::format(ms), want, "{ms}");
        }
    }
}
