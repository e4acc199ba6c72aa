//! Time as Unix milliseconds inside, RFC 3339 with milliseconds outside.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};

pub type Millis = i64;

pub const SECOND: Millis = 1_000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;

pub fn now_ms() -> Millis {
    Utc::now().timestamp_millis()
}

/// `2026-03-03T10:00:00.000Z`. Every timestamp of every answer goes
/// through here (five per workspace in a list), so the digits are written
/// directly instead of through the formatting machinery.
pub fn format(ms: Millis) -> String {
    let dt = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    let year = dt.year();
    if !(0..=9999).contains(&year) {
        return dt.to_rfc3339_opts(SecondsFormat::Millis, true);
    }
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, dt.month());
    put(8, 2, dt.day());
    put(11, 2, dt.hour());
    put(14, 2, dt.minute());
    put(17, 2, dt.second());
    put(20, 3, dt.timestamp_subsec_millis().min(999));
    String::from_utf8(out.to_vec()).expect("ASCII digits")
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
}
