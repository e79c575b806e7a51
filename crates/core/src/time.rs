//! Recording instants: UTC with millisecond precision, always written in one fixed-width
//! RFC 3339 form (`2026-02-03T08:15:00.000Z`) so the text sorts like the instant; and the
//! calendar dates payloads carry, written strictly `YYYY-MM-DD`.

use std::fmt;
use std::time::SystemTime;

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::FieldError;

/// An instant at which something was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "specta", derive(specta::Type), specta(transparent))]
pub struct Timestamp(#[cfg_attr(feature = "specta", specta(type = String))] DateTime<Utc>);

impl Timestamp {
    /// Now, truncated to the millisecond.
    pub fn now() -> Self {
        Self::from_millis(Utc::now().timestamp_millis())
    }

    /// The instant `ms` milliseconds after the Unix epoch (clamped to the representable range).
    pub fn from_millis(ms: i64) -> Self {
        Self(Utc.timestamp_millis_opt(ms).single().unwrap_or(DateTime::<Utc>::MIN_UTC))
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// Parses any RFC 3339 instant (any offset), normalised to UTC and truncated to milliseconds.
    pub fn parse(s: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(s)
            .map(|dt| Self::from_millis(dt.timestamp_millis()))
            .map_err(|e| format!("expected an RFC 3339 date and time like 2026-02-03T08:15:00Z ({e})"))
    }

    /// The instant as a `SystemTime` (for ULID generation).
    pub fn system_time(&self) -> SystemTime {
        SystemTime::from(self.0)
    }

    /// The instant as a chrono value.
    pub fn datetime(&self) -> DateTime<Utc> {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A calendar date written strictly as `YYYY-MM-DD` (chrono alone also accepts `2026-2-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "specta", derive(specta::Type), specta(transparent))]
pub struct IsoDate(#[cfg_attr(feature = "specta", specta(type = String))] pub NaiveDate);

impl fmt::Display for IsoDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl Serialize for IsoDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IsoDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_date(&s).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// Parses an ISO calendar date, `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<IsoDate, FieldError> {
    let well_formed = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    well_formed
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
        .map(IsoDate)
        .ok_or_else(|| FieldError::new("date", format!("expected an ISO date (YYYY-MM-DD), got {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_is_fixed_width_and_round_trips() {
        let t = Timestamp::from_millis(1_770_000_000_000);
        assert_eq!(t.to_string(), "2026-02-02T02:40:00.000Z");
        assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
        let offset = Timestamp::parse("2026-02-02T03:40:00.000+01:00").unwrap();
        assert_eq!(offset, t);
        assert!(Timestamp::parse("yesterday").is_err());
    }
}
