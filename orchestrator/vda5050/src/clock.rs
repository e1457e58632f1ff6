//! Message timestamps: ISO 8601 in UTC, formatted from and parsed to
//! milliseconds since the Unix epoch.

use borderlane_model::Ms;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats `now` (milliseconds since the Unix epoch) as an ISO 8601 UTC
/// timestamp with milliseconds, such as `2026-11-23T17:30:00.000Z`.
pub fn format_timestamp(now: Ms) -> String {
    let secs = (now / 1000) as i64;
    let millis = now % 1000;
    match OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            millis
        ),
        Err(_) => "9999-12-31T23:59:59.999Z".to_string(),
    }
}

/// Parses an ISO 8601 (RFC 3339) timestamp to milliseconds since the Unix
/// epoch; `None` if it is not one or lies before 1970.
pub fn parse_timestamp(text: &str) -> Option<Ms> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    let nanos = t.unix_timestamp_nanos();
    if nanos < 0 {
        return None;
    }
    u64::try_from(nanos / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let ms = 1_795_000_123_456;
        let s = format_timestamp(ms);
        assert!(s.ends_with(".456Z"), "{s}");
        assert_eq!(parse_timestamp(&s), Some(ms));
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
