//! Canonical identifiers: `cmp_<ULID>` campaigns, `evt_<ULID>` events, `dev_<ULID>` devices and
//! `usr_…` users.
//!
//! Ids are validated when parsed, so a malformed id from a file, a form or the network is refused
//! at the edge with a message that shows the expected shape. Event ids are ULIDs: they sort by
//! recording time, which is the order the fold applies events in.

use std::fmt;
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::{Generator, Ulid};

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, got {got:?}")]
pub struct IdError {
    /// The shape that was expected, in words.
    pub expected: &'static str,
    /// The text that was refused.
    pub got: String,
}

macro_rules! ulid_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $expected:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(feature = "specta", derive(specta::Type), specta(transparent))]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// Parses and validates an id.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                // Only the canonical form (upper case, no ambiguous letters): another spelling of
                // the same ULID would be a second id for one event.
                let ok = s
                    .strip_prefix($prefix)
                    .is_some_and(|rest| Ulid::from_string(rest).is_ok_and(|u| u.to_string() == rest));
                if ok {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(IdError { expected: $expected, got: s.to_owned() })
                }
            }

            /// Wraps a ULID.
            pub fn from_ulid(ulid: Ulid) -> Self {
                Self(format!(concat!($prefix, "{}"), ulid))
            }

            /// The ULID inside the id.
            pub fn ulid(&self) -> Ulid {
                Ulid::from_string(&self.0[$prefix.len()..]).expect("validated at construction")
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

ulid_id!(
    /// A campaign (one stream of events): `cmp_` followed by a ULID.
    CampaignId,
    "cmp_",
    "a campaign id like cmp_01HQJK5W3N8XKZ0G2Y5V7R9T1A (cmp_ and a 26-character ULID in capitals)"
);
ulid_id!(
    /// An event: `evt_` followed by a ULID that sorts by recording time.
    EventId,
    "evt_",
    "an event id like evt_01HQJK5W3N8XKZ0G2Y5V7R9T1A (evt_ and a 26-character ULID in capitals)"
);
ulid_id!(
    /// One installation of the app or CLI: `dev_` followed by a ULID.
    DeviceId,
    "dev_",
    "a device id like dev_01HQJK5W3N8XKZ0G2Y5V7R9T1A (dev_ and a 26-character ULID in capitals)"
);

/// A person who records events: `usr_` followed by letters, digits, `.`, `_`, `-` or `@`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "specta", derive(specta::Type), specta(transparent))]
pub struct UserId(String);

impl UserId {
    const EXPECTED: &'static str =
        "a user id like usr_alex (usr_ and up to 64 letters, digits, '.', '_', '-' or '@')";

    /// Parses and validates a user id.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = s.strip_prefix("usr_").is_some_and(|rest| {
            !rest.is_empty()
                && rest.len() <= 64
                && rest.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        });
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError { expected: Self::EXPECTED, got: s.to_owned() })
        }
    }

    /// Builds a user id from a person's name or login, keeping only the characters ids allow.
    pub fn from_name(name: &str) -> Result<Self, IdError> {
        let slug: String = name
            .trim()
            .to_lowercase()
            .chars()
            .map(|c| if c.is_whitespace() { '.' } else { c })
            .filter(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
            .take(64)
            .collect();
        Self::parse(&format!("usr_{slug}"))
    }

    /// The person's name as far as the id keeps it, for people to read: `usr_ana.jensen-k3x9q2`
    /// (the app's ids: the name, then 6 characters that keep two Ana Jensens apart) reads
    /// `Ana Jensen`. An id that is an e-mail address or a login reads as it is, without `usr_`.
    pub fn display_name(&self) -> String {
        let rest = &self.0["usr_".len()..];
        if rest.contains('@') {
            return rest.to_owned();
        }
        let name = match rest.rsplit_once('-') {
            Some((name, suffix))
                if !name.is_empty()
                    && suffix.len() == 6
                    && suffix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) =>
            {
                name
            }
            _ => rest,
        };
        let words: Vec<String> = name
            .split(['.', '_'])
            .filter(|w| !w.is_empty())
            .map(|word| {
                let parts: Vec<String> = word
                    .split('-')
                    .map(|part| {
                        let mut chars = part.chars();
                        chars
                            .next()
                            .map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
                    })
                    .collect();
                parts.join("-")
            })
            .collect();
        if words.is_empty() {
            rest.to_owned()
        } else {
            words.join(" ")
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for UserId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl Serialize for UserId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One generator per process, so ids made in the same millisecond still sort in creation order.
static GENERATOR: Mutex<Generator> = Mutex::new(Generator::new());

/// A new ULID for `at`, strictly greater than every ULID this process generated before.
pub fn next_ulid(at: SystemTime) -> Ulid {
    let mut generator = GENERATOR.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    match generator.generate_from_datetime(at) {
        Ok(ulid) => ulid,
        // 2^80 ids in one millisecond: take the next one anyway rather than fail an entry.
        Err(overflow) => overflow.commit_overflow_increment(),
    }
}

impl CampaignId {
    /// A new campaign id.
    pub fn generate() -> Self {
        Self::from_ulid(next_ulid(SystemTime::now()))
    }
}

impl DeviceId {
    /// A new device id.
    pub fn generate() -> Self {
        Self::from_ulid(next_ulid(SystemTime::now()))
    }
}

impl EventId {
    /// A new event id for an event recorded at `at`.
    pub fn generate(at: SystemTime) -> Self {
        Self::from_ulid(next_ulid(at))
    }

    /// The smallest event id that sorts after this one.
    pub fn successor(&self) -> Self {
        let next = self.ulid().increment().unwrap_or_else(|max| max);
        Self::from_ulid(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_ids_and_refuses_malformed_ones() {
        let id = EventId::generate(SystemTime::now());
        assert_eq!(EventId::parse(id.as_str()).unwrap(), id);
        assert!(EventId::parse("evt_123").is_err());
        assert!(EventId::parse(&id.as_str().replace("evt_", "cmp_")).is_err());
        let err = CampaignId::parse("cmp_").unwrap_err();
        assert!(err.to_string().contains("cmp_ and a 26-character ULID"), "{err}");
        // Another spelling of the same ULID would be a second id for the same event.
        let lower = format!("evt_{}", id.as_str()[4..].to_lowercase());
        let err = EventId::parse(&lower).unwrap_err();
        assert!(err.to_string().contains("in capitals"), "{err}");
    }

    #[test]
    fn generated_event_ids_sort_in_creation_order() {
        let at = SystemTime::now();
        let ids: Vec<EventId> = (0..1000).map(|_| EventId::generate(at)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids[0].successor() > ids[0]);
    }

    #[test]
    fn user_ids_read_as_names() {
        let name = |id: &str| UserId::parse(id).unwrap().display_name();
        assert_eq!(name("usr_ana.jensen-k3x9q2"), "Ana Jensen");
        assert_eq!(name("usr_søren.østergaard-01abcz"), "Søren Østergaard");
        assert_eq!(name("usr_jens-peter.müller-7h2kq0"), "Jens-Peter Müller");
        assert_eq!(name("usr_alex"), "Alex");
        assert_eq!(name("usr_ana@lego.com"), "ana@lego.com");
        assert_eq!(name("usr_--"), "--");
        // A last part that is not the app's 6-character suffix is part of the name.
        assert_eq!(name("usr_mary-ann"), "Mary-Ann");
    }

    #[test]
    fn user_ids_are_derived_from_names() {
        assert_eq!(UserId::from_name("Alex Berg").unwrap().as_str(), "usr_alex.berg");
        assert!(UserId::from_name("  ").is_err());
        assert!(UserId::parse("usr_a b").is_err());
    }
}
