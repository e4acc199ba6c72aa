//! Time as Unix milliseconds inside, RFC 3339 with milliseconds outside.

use chrono::{DateTime, SecondsFormat, Utc};

pub type Millis = i64;

pub const SECOND: Millis = 1_000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;

/// The current time in Unix milliseconds, read from `SystemTime` directly:
/// through `chrono::Utc::now` it went into a calendar date and back, twice
/// on every authenticated request.
pub fn now_ms() -> Millis {
    use std::time::{SystemTime, UNIX_EPOCH};
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_millis() as Millis,
        // A clock before 1970: floored, as chrono's `timestamp_millis` does.
        Err(e) => -(e.duration().as_nanos().div_ceil(1_000_000) as Millis),
    }
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

/// The first and the last millisecond of years 0000 to 9999.
const FOUR_DIGIT_YEARS: std::ops::RangeInclusive<Millis> =
    -62_167_219_200_000..=253_402_300_799_999;

/// "00" to "99", for writing two digits at a time.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// The text of `ms` when its year has four digits (0000 to 9999). Every
/// workspace in a list has two timestamps at least, so this is unsigned
/// arithmetic on a range known to be in bounds and two digits at a time
/// (it was 285 instructions a timestamp with signed divisions, one digit
/// at a time).
fn four_digit_year(ms: Millis) -> Option<[u8; 24]> {
    if !FOUR_DIGIT_YEARS.contains(&ms) {
        return None;
    }
    let since_year_0 = (ms - FOUR_DIGIT_YEARS.start()) as u64;
    let (days, ms_of_day) = (since_year_0 / DAY as u64, since_year_0 % DAY as u64);
    let (year, month, day) = civil_from_days_since_year_0(days as u32);
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut pair = |at: usize, v: u32| {
        let i = 2 * v as usize;
        out[at..at + 2].copy_from_slice(&PAIRS[i..i + 2]);
    };
    let ms_of_day = ms_of_day as u32;
    let (seconds, millis) = (ms_of_day / 1_000, ms_of_day % 1_000);
    pair(0, year / 100);
    pair(2, year % 100);
    pair(5, month);
    pair(8, day);
    pair(11, seconds / 3_600);
    pair(14, seconds / 60 % 60);
    pair(17, seconds % 60);
    pair(20, millis / 10);
    out[22] = b'0' + (millis % 10) as u8;
    Some(out)
}

/// (year, month, day) of the proleptic Gregorian calendar, `days` after
/// 0000-01-01: the days-to-civil algorithm named at [`format`], in unsigned
/// arithmetic (its eras start on March 1st of years divisible by 400).
fn civil_from_days_since_year_0(days: u32) -> (u32, u32, u32) {
    // 0000-01-01 is 60 days before the first era starts (0000-03-01); one
    // era (146,097 days, 400 years) earlier keeps the count unsigned.
    let z = days + 146_097 - 60;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u32::from(month <= 2) - 400;
    (year, month, day)
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
            // SAFETY: `four_digit_year` writes ASCII only (digits, '-', ':',
            // '.', 'T', 'Z'), which is UTF-8.
            Some(text) => s.serialize_str(unsafe { std::str::from_utf8_unchecked(&text) }),
            None => s.serialize_str(&wide(self.0)),
        }
    }
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
    fn now_is_chronos_now_in_milliseconds() {
        let before = chrono::Utc::now().timestamp_millis();
        let now = super::now_ms();
        let after = chrono::Utc::now().timestamp_millis();
        assert!(
            before <= now && now <= after,
            "{before} <= {now} <= {after}"
        );
    }

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
        // The edges, and one millisecond past each (chrono's wider form).
        for ms in [
            first,
            last,
            first - 1,
            last + 1,
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
