//! Recording instants: UTC with millisecond precision, always written in one fixed-width
//! RFC 3339 form (`2026-02-03T08:15:00.000Z`) so the text sorts like the instant; the calendar
//! dates payloads carry, written strictly `YYYY-MM-DD`; and the sites' calendar, on which an
//! instant falls on a day ([`SITE_TIME_ZONE`]).

use std::fmt;
use std::time::SystemTime;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::field::FieldError;

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

    /// The day this instant falls on in the sites' calendar ([`SITE_TIME_ZONE`]): 00:30 on
    /// 1 July in Copenhagen is 1 July, though it is still 30 June in UTC.
    pub fn site_day(&self) -> IsoDate {
        IsoDate(self.0.with_timezone(&SITE_TIME_ZONE).date_naive())
    }
}

/// The time zone of the sites' calendar: where an instant, rather than a stated date, decides
/// the day something counts on (an entry of an older Pluto that stated no date, a correction
/// recorded after a period's last day). One zone for every laptop and every build, fixed here
/// rather than set per laptop, because the fold must put the same entry on the same day
/// everywhere; the chain's sites all keep Central European time. Entries made now state their
/// own date, typed at the site.
pub const SITE_TIME_ZONE: chrono_tz::Tz = chrono_tz::Europe::Copenhagen;

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
        // Digits by hand: chrono's `format` parses its pattern on every call, and a date is
        // written for every step of every projection a rebuild saves.
        let (year, month, day) = (self.0.year(), self.0.month(), self.0.day());
        if !(0..=9999).contains(&year) {
            return write!(f, "{}", self.0.format("%Y-%m-%d"));
        }
        let year = year.unsigned_abs();
        let digit = |n: u32| b'0' + (n % 10) as u8;
        let text = [
            digit(year / 1000),
            digit(year / 100),
            digit(year / 10),
            digit(year),
            b'-',
            digit(month / 10),
            digit(month),
            b'-',
            digit(day / 10),
            digit(day),
        ];
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
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

/// When `at` was, in words on this computer's clock: `at 10:42` today, `on 2026-03-01 at
/// 10:42` another day.
pub fn local_when(at: Timestamp) -> String {
    let local = at.datetime().with_timezone(&chrono::Local);
    if local.date_naive() == chrono::Local::now().date_naive() {
        local.format("at %H:%M").to_string()
    } else {
        local.format("on %Y-%m-%d at %H:%M").to_string()
    }
}

/// Parses an ISO calendar date, `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<IsoDate, FieldError> {
    let well_formed = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    // Digits by hand, checked above: chrono's parser reads its pattern on every call.
    let number =
        |range: std::ops::Range<usize>| s[range].bytes().fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
    well_formed
        .then(|| NaiveDate::from_ymd_opt(i32::try_from(number(0..4)).ok()?, number(5..7), number(8..10)))
        .flatten()
        .map(IsoDate)
        .ok_or_else(|| FieldError::new("date", format!("expected an ISO date (YYYY-MM-DD), got {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_and_read_as_chrono_does() {
        let mut day = NaiveDate::from_ymd_opt(1899, 12, 25).unwrap();
        while day.year() < 2101 {
            let text = IsoDate(day).to_string();
            assert_eq!(text, day.format("%Y-%m-%d").to_string());
            assert_eq!(parse_date(&text).unwrap(), IsoDate(day));
            day = day.succ_opt().unwrap();
        }
        assert_eq!(IsoDate(NaiveDate::from_ymd_opt(12, 3, 4).unwrap()).to_string(), "0012-03-04");
        assert_eq!(IsoDate(NaiveDate::from_ymd_opt(12_345, 1, 2).unwrap()).to_string(), "+12345-01-02");
        for bad in ["2026-02-30", "2026-13-01", "2026-00-10", "2026-2-01", "2026-02-1x", "２０２６-01-01"]
        {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        assert!(parse_date("2024-02-29").is_ok());
    }

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
