//! Channel timestamps → UTC. Platforms send epoch seconds, epoch milliseconds, RFC 3339,
//! or a local wall-clock time without a zone (Ele.me's `2026-11-25T12:00:00`), which is
//! read in the channel's configured UTC offset.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

pub fn from_epoch_seconds(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp(secs, 0)
}

pub fn from_epoch_millis(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis(ms)
}

/// RFC 3339, or a zone-less local time (`T` or space separated) in `offset_minutes`.
pub fn from_text(text: &str, offset_minutes: i32) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    let offset = FixedOffset::east_opt(offset_minutes * 60)?;
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .and_then(|naive| offset.from_local_datetime(&naive).single())
    .map(|dt| dt.with_timezone(&Utc))
}

/// An integer epoch value whose unit is told by its size: 10 digits are seconds,
/// 13 are milliseconds (channels mix both).
pub fn from_epoch_auto(value: i64) -> Option<DateTime<Utc>> {
    if value.abs() >= 100_000_000_000 {
        from_epoch_millis(value)
    } else {
        from_epoch_seconds(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let want = from_epoch_seconds(1_764_043_200).unwrap(); // 2025-11-25T04:00:00Z
        assert_eq!(from_epoch_auto(1_764_043_200), Some(want));
        assert_eq!(from_epoch_auto(1_764_043_200_000), Some(want));
        assert_eq!(from_text("2025-11-25T12:00:00+08:00", 0), Some(want));
        assert_eq!(from_text("2025-11-25T12:00:00", 480), Some(want));
        assert_eq!(from_text("2025-11-25 12:00:00", 480), Some(want));
        assert_eq!(from_text("yesterday", 480), None);
    }
}
