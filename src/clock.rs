//! Time as the store keeps it (Unix seconds, UTC) and as people read and type it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Seconds since the Unix epoch, UTC.
pub type Timestamp = i64;

/// The current time.
pub fn now() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The current time in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Formats as RFC 3339 in UTC, e.g. `2026-11-26T03:20:00Z`.
pub fn format(ts: Timestamp) -> String {
    OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ts.to_string())
}

/// Formats as a short UTC date and time for tables, e.g. `2026-11-26 03:20 UTC`.
pub fn format_short(ts: Timestamp) -> String {
    match OffsetDateTime::from_unix_timestamp(ts) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => ts.to_string(),
    }
}

/// Parses an RFC 3339 timestamp such as `2027-03-01T00:00:00Z`.
pub fn parse_rfc3339(s: &str) -> Result<Timestamp, String> {
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| format!("invalid time '{s}': use RFC 3339, e.g. 2027-03-01T00:00:00Z"))
}

/// Parses a duration written as a number and a unit: `30s`, `15m`, `12h`, `90d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|_| {
        format!("invalid duration '{s}': use a number and a unit, e.g. 30s, 15m, 12h or 90d")
    })
}

/// The UTC day of `ts` as `YYYYMMDD`, the unit of daily quotas.
pub fn utc_day(ts: Timestamp) -> u32 {
    OffsetDateTime::from_unix_timestamp(ts)
        .map(|t| {
            t.year() as u32 * 10_000 + u32::from(u8::from(t.month())) * 100 + u32::from(t.day())
        })
        .unwrap_or(0)
}

/// The `YYYYMMDD` day before `day` (calendar-aware: the day before 20261201 is 20261130).
pub fn day_before(day: u32) -> u32 {
    step_day(day, time::Date::previous_day).unwrap_or(day.saturating_sub(1))
}

/// The `YYYYMMDD` day after `day` (calendar-aware: the day after 20261130 is 20261201).
pub fn day_after(day: u32) -> u32 {
    step_day(day, time::Date::next_day).unwrap_or(day.saturating_add(1))
}

fn step_day(day: u32, step: fn(time::Date) -> Option<time::Date>) -> Option<u32> {
    let month = time::Month::try_from((day / 100 % 100) as u8).ok()?;
    let date =
        time::Date::from_calendar_date((day / 10_000) as i32, month, (day % 100) as u8).ok()?;
    let d = step(date)?;
    Some(d.year() as u32 * 10_000 + u32::from(u8::from(d.month())) * 100 + u32::from(d.day()))
}

/// The start of the UTC day after `ts`: when a daily quota resets.
pub fn next_utc_midnight(ts: Timestamp) -> Timestamp {
    ts.div_euclid(86_400) * 86_400 + 86_400
}

/// Formats a `YYYYMMDD` day as `YYYY-MM-DD`.
pub fn format_day(day: u32) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day / 10_000,
        day / 100 % 100,
        day % 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let ts = parse_rfc3339("2027-03-01T00:00:00Z").unwrap();
        assert_eq!(format(ts), "2027-03-01T00:00:00Z");
        assert!(parse_rfc3339("tomorrow").is_err());
    }

    #[test]
    fn durations_in_the_documented_units() {
        assert_eq!(parse_duration("30s").unwrap().as_secs(), 30);
        assert_eq!(parse_duration("15m").unwrap().as_secs(), 900);
        assert_eq!(parse_duration("12h").unwrap().as_secs(), 43_200);
        assert_eq!(parse_duration("90d").unwrap().as_secs(), 90 * 86_400);
        assert!(parse_duration("ninety days").is_err());
    }

    #[test]
    fn days_and_midnights() {
        let ts = parse_rfc3339("2026-11-26T23:59:59Z").unwrap();
        assert_eq!(utc_day(ts), 20261126);
        assert_eq!(format(next_utc_midnight(ts)), "2026-11-27T00:00:00Z");
        assert_eq!(utc_day(ts + 1), 20261127);
        assert_eq!(format_day(20261127), "2026-11-27");
        assert_eq!(day_before(20261127), 20261126);
        assert_eq!(day_before(20261201), 20261130);
        assert_eq!(day_before(20270101), 20261231);
        assert_eq!(day_before(20280301), 20280229);
        assert_eq!(day_after(20261130), 20261201);
        assert_eq!(day_after(20261231), 20270101);
    }
}
