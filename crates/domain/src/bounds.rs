//! What an event may claim: the ranges its envelope's times, id and sequence number must lie in,
//! and its size. Checked wherever an event arrives from elsewhere (the server's push, a laptop's
//! pull), so that no event can freeze a campaign with an id from the far future, date itself
//! before Pluto existed, or take a device's sequence numbers to their end.
//!
//! Nothing here orders anything: the canonical order is the server's (see [`mod@crate::fold`]).

use std::time::Duration;

use crate::event::Event;
use crate::field::FieldError;
use crate::ids::EventId;
use crate::time::Timestamp;

/// No Pluto entry was recorded before 2024-01-01: an earlier time or id is not honest.
pub const EARLIEST_MS: i64 = 1_704_067_200_000;

/// How far ahead of the receiver's clock an event's `createdAt` or id time may lie. A laptop's
/// clock may run up to a day ahead; the second day leaves room for the receiver's own error.
pub const MAX_AHEAD: Duration = Duration::from_secs(2 * 24 * 60 * 60);

/// How far an event id's time may lie before its `createdAt`. Pluto makes both from one reading
/// of the clock; only when another laptop's clock ran ahead does it give a new entry the next id
/// after that laptop's latest one, which lies *after* its `createdAt`.
pub const MAX_ID_BEFORE_CREATED: Duration = Duration::from_secs(60 * 60);

/// The largest event, in bytes of its JSON envelope: far above any real entry, small enough that
/// a page of events always fits what a laptop reads in one answer.
pub const MAX_EVENT_BYTES: usize = 128 * 1024;

/// Checks the times an event claims against `now`, the receiver's clock: `createdAt` and the
/// id's time (the first 48 bits of its ULID) lie between 2024-01-01 and `ahead` past `now`,
/// and the id's time no more than [`MAX_ID_BEFORE_CREATED`] before `createdAt`.
pub fn check_times(event: &Event, now: Timestamp, ahead: Duration) -> Result<(), FieldError> {
    let latest = now.millis().saturating_add(millis(ahead));
    let in_range = |field: &str, ms: i64| {
        if ms < EARLIEST_MS {
            return Err(FieldError::new(
                field,
                format!(
                    "lies before 2024-01-01 ({}), before Pluto recorded anything",
                    Timestamp::from_millis(ms)
                ),
            ));
        }
        if ms > latest {
            return Err(FieldError::new(
                field,
                format!(
                    "lies in the future ({}, more than {} hours after {now}); the recording laptop's clock is wrong",
                    Timestamp::from_millis(ms),
                    ahead.as_secs() / 3600
                ),
            ));
        }
        Ok(())
    };
    in_range("createdAt", event.created_at.millis())?;
    let id_ms = id_millis(&event.id);
    in_range("id", id_ms)?;
    let before_ms = event.created_at.millis().saturating_sub(id_ms);
    if before_ms > millis(MAX_ID_BEFORE_CREATED) {
        return Err(FieldError::new(
            "id",
            format!(
                "the id's time ({}) lies {} hours before createdAt ({}); an event's id is made when it is \
                 recorded, never more than {} minutes before it",
                Timestamp::from_millis(id_ms),
                before_ms / 3_600_000,
                event.created_at,
                MAX_ID_BEFORE_CREATED.as_secs() / 60
            ),
        ));
    }
    Ok(())
}

/// Whether `id`'s time lies no further ahead of `now` than an honest clock's could: a new entry
/// may take the next id after it.
pub fn is_plausible_id(id: &EventId, now: Timestamp) -> bool {
    id_millis(id) <= now.millis().saturating_add(millis(MAX_AHEAD))
}

/// Checks an event's size in bytes of JSON against [`MAX_EVENT_BYTES`].
pub fn check_size(bytes: usize) -> Result<(), FieldError> {
    if bytes > MAX_EVENT_BYTES {
        return Err(FieldError::new(
            "event",
            format!("an event is at most {MAX_EVENT_BYTES} bytes of JSON, this one has {bytes}; shorten its texts"),
        ));
    }
    Ok(())
}

fn id_millis(id: &EventId) -> i64 {
    i64::try_from(id.ulid().timestamp_ms()).unwrap_or(i64::MAX)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    // Ids made from their parts: the process's id generator never goes back, so a test must not
    // move it into the future.
    use crate::ids::{CampaignId, DeviceId, UserId};

    fn event(id_ms: i64, created_ms: i64) -> Event {
        Event {
            id: EventId::from_ulid(ulid::Ulid::from_parts(id_ms as u64, 1)),
            stream_type: "campaign".into(),
            stream_id: CampaignId::generate(),
            event_type: crate::registry::EventType::CampaignCreated,
            schema_version: 1,
            data: serde_json::json!({}),
            user_id: UserId::parse("usr_ana").unwrap(),
            device_id: DeviceId::generate(),
            device_seq: 1,
            created_at: Timestamp::from_millis(created_ms),
        }
    }

    #[test]
    fn times_from_before_pluto_or_far_in_the_future_are_refused() {
        let now = Timestamp::from_millis(1_800_000_000_000);
        let day = 86_400_000;
        assert!(check_times(&event(now.millis(), now.millis()), now, MAX_AHEAD).is_ok());
        // A laptop whose clock runs a day ahead is still believed.
        let ahead = now.millis() + day;
        assert!(check_times(&event(ahead, ahead), now, MAX_AHEAD).is_ok());
        let far = now.millis() + 3 * day;
        assert_eq!(check_times(&event(far, now.millis()), now, MAX_AHEAD).unwrap_err().field, "id");
        assert_eq!(check_times(&event(now.millis(), far), now, MAX_AHEAD).unwrap_err().field, "createdAt");
        let early = EARLIEST_MS - 1;
        let error = check_times(&event(early, early), now, MAX_AHEAD).unwrap_err();
        assert!(error.message.contains("before 2024-01-01"), "{error}");
        // Backdated ids: the id's time well before createdAt.
        let error =
            check_times(&event(now.millis() - 2 * 3_600_000, now.millis()), now, MAX_AHEAD).unwrap_err();
        assert_eq!(error.field, "id");
    }

    #[test]
    fn the_largest_id_is_not_plausible() {
        let now = Timestamp::from_millis(1_800_000_000_000);
        let max = EventId::parse("evt_7ZZZZZZZZZZZZZZZZZZZZZZZZZ").unwrap();
        assert!(!is_plausible_id(&max, now));
        assert!(is_plausible_id(&EventId::from_ulid(ulid::Ulid::from_parts(now.millis() as u64, 1)), now));
    }
}
