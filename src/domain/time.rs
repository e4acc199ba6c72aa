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

/// `2026-03-03T10:00:00.000Z`.
pub fn format(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
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
        assert_eq!(
            super::parse("2026-03-03T11:00:00.000+01:00"),
            Some(1_772_532_000_000)
        );
    }
}
