//! A simulated laptop for the sync server's benchmarks: one device id (the one its token is
//! issued for), and its events in recording order, with `deviceSeq` 1, 2, 3, … without gaps.
//!
//! Each campaign runs through its twelve steps with the payloads of
//! [`pluto_domain::samples::SampleCampaign`], already in the canonical form the server stores, so
//! that the server measures storing valid events and never refusals or rewrites.

use std::time::Duration;

use pluto_domain::samples::SampleCampaign;
use pluto_domain::{
    CampaignId, DeviceId, Event, EventId, EventType, Payload, Timestamp, UserId, STREAM_TYPE_CAMPAIGN,
};

/// 2026-01-01T00:00:00Z: events were recorded in the past, so the server flags no clock skew.
const CLOCK_START_MS: i64 = 1_767_225_600_000;

/// The simulated time between two entries on one laptop.
const ENTRY_GAP: Duration = Duration::from_secs(60);

/// One laptop's event source.
pub struct Laptop {
    device: DeviceId,
    user: UserId,
    /// The sample numbers of this laptop's campaigns start here, so laptops record different
    /// campaigns with different figures.
    first_sample: u32,
    campaign: Option<(CampaignId, SampleCampaign)>,
    campaigns: u32,
    seq: u64,
}

impl Laptop {
    /// Laptop number `n`, with a new device id.
    pub fn new(n: u32) -> Self {
        Laptop {
            device: DeviceId::generate(),
            user: UserId::parse(&format!("usr_coordinator{n}")).expect("a valid user id"),
            first_sample: n.wrapping_mul(10_007),
            campaign: None,
            campaigns: 0,
            seq: 0,
        }
    }

    /// The device id its token must be issued for.
    pub fn device(&self) -> &DeviceId {
        &self.device
    }

    /// The next `n` events.
    pub fn batch(&mut self, n: usize) -> Vec<Event> {
        (0..n).map(|_| self.next_event()).collect()
    }

    fn next_event(&mut self) -> Event {
        let step = (self.seq % EventType::STEPS.len() as u64) as usize;
        if step == 0 {
            let sample = SampleCampaign::numbered(self.first_sample.wrapping_add(self.campaigns));
            self.campaigns += 1;
            self.campaign = Some((CampaignId::generate(), sample));
        }
        let (campaign, sample) = self.campaign.as_ref().expect("set at each campaign's first step");
        self.seq += 1;
        let event_type = EventType::STEPS[step];
        let data = sample.payload(event_type).expect("every step has a sample payload");
        let data = Payload::parse(event_type, &data).expect("sample payloads are valid").to_value();
        let created_at =
            Timestamp::from_millis(CLOCK_START_MS + self.seq as i64 * ENTRY_GAP.as_millis() as i64);
        Event {
            id: EventId::generate(created_at.system_time()),
            stream_type: STREAM_TYPE_CAMPAIGN.to_owned(),
            stream_id: campaign.clone(),
            event_type,
            schema_version: event_type.schema_version(),
            data,
            user_id: self.user.clone(),
            device_id: self.device.clone(),
            device_seq: self.seq,
            created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_valid_gapless_and_of_this_device() {
        let mut laptop = Laptop::new(3);
        let events = laptop.batch(30);
        for (i, event) in events.iter().enumerate() {
            event.check().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(event.device_seq, i as u64 + 1);
            assert_eq!(&event.device_id, laptop.device());
        }
        assert_eq!(events.iter().filter(|e| e.event_type == EventType::CampaignCreated).count(), 3);
        assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    }
}
