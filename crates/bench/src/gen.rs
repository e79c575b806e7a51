//! Synthetic but realistic campaign histories: campaigns go through their lifecycle step by step
//! (with plausible weights, dates and quantities), stop at various stages, and now and then get a
//! correction of an earlier step, exactly as the strict entry rules of `pluto-domain` accept
//! them.
//!
//! The same simulation feeds two paths: [`Population`] plans entries that the append benchmark
//! records with `Store::record`, and [`RemoteLog`] turns them into complete events (ids, devices,
//! per-device sequences, timestamps) for `Store::apply_remote`. Everything derives from a seed,
//! so a run is reproducible, and only the campaigns in flight are held in memory.

use chrono::{Days, NaiveDate};
use pluto_domain::quantity::tenths;
use pluto_domain::{
    CampaignId, DeviceId, Event, EventId, EventType, FieldKind, Timestamp, UserId, STREAM_TYPE_CAMPAIGN,
};
use serde_json::{json, Value};

/// SplitMix64: tiny, fast and good enough to vary synthetic data; avoids a `rand` dependency.
pub struct Rng(u64);

impl Rng {
    /// A generator whose whole sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Share of campaigns that run to `CampaignCompleted`; the others stop at a uniformly drawn
/// earlier stage, so the store holds campaigns at every status.
const COMPLETED_SHARE: f64 = 0.7;

/// Chance that a step is followed, later, by a correction of one of the campaign's events.
/// With the stage mix above this gives about 12 events per campaign, corrections included.
const CORRECTION_CHANCE: f64 = 0.2;

const CARRIERS: &[&str] = &["DHL Freight", "DB Schenker", "Kuehne+Nagel", "DSV Road", "Maersk"];
const SITES: &[&str] = &["Billund", "Kladno", "Nyíregyháza", "Monterrey", "Jiaxing"];
const REASONS: &[&str] = &[
    "re-weighed at MBA after the scale was recalibrated",
    "typo in the form",
    "figure confirmed by the site's final report",
    "supplier sent a corrected delivery note",
];

fn days_before(day: NaiveDate, n: u64) -> NaiveDate {
    day.checked_sub_days(Days::new(n)).unwrap_or(day)
}

/// A recorded event of a simulated campaign, with its payload as corrections left it.
struct Known {
    id: EventId,
    event_type: EventType,
    data: Value,
}

/// The event a simulated campaign wants recorded next.
pub struct Planned {
    /// Its type.
    pub event_type: EventType,
    /// Its payload.
    pub data: Value,
    /// For a correction: which known event it corrects, the field and the new value.
    change: Option<(usize, &'static str, Value)>,
}

/// One campaign's simulated life: how far it will go and what has been recorded so far.
struct CampaignSim {
    /// `None` until its `CampaignCreated` is recorded (a local entry gets its id from the store).
    id: Option<CampaignId>,
    serial: u64,
    final_rank: usize,
    known: Vec<Known>,
    corrections_due: u32,
    weight_kg: f64,
    quantity: u32,
    revisions: u32,
}

impl CampaignSim {
    fn new(serial: u64, rng: &mut Rng) -> Self {
        let last = EventType::STEPS.len() - 1;
        let final_rank = if rng.chance(COMPLETED_SHARE) { last } else { rng.below(last as u64) as usize };
        CampaignSim {
            id: None,
            serial,
            final_rank,
            known: Vec::new(),
            corrections_due: 0,
            weight_kg: 0.0,
            quantity: 0,
            revisions: 0,
        }
    }

    fn steps_recorded(&self) -> usize {
        self.known.len()
    }

    /// The next entry, or `None` when the campaign has reached its final stage and owes no
    /// correction. `day` is the calendar day the entry is made on.
    fn plan(&mut self, rng: &mut Rng, day: NaiveDate) -> Option<Planned> {
        if self.corrections_due > 0 {
            return Some(self.plan_correction(rng));
        }
        if self.steps_recorded() > self.final_rank {
            return None;
        }
        let event_type = EventType::STEPS[self.steps_recorded()];
        let data = self.step_payload(event_type, rng, day);
        Some(Planned { event_type, data, change: None })
    }

    /// Takes note of a planned entry once it is recorded as `id`.
    fn recorded(&mut self, planned: Planned, id: &EventId, rng: &mut Rng) {
        match planned.change {
            Some((target, field, now)) => {
                self.corrections_due -= 1;
                if let Value::Object(fields) = &mut self.known[target].data {
                    fields.insert(field.to_owned(), now);
                }
            }
            None => {
                self.known.push(Known { id: id.clone(), event_type: planned.event_type, data: planned.data });
                if rng.chance(CORRECTION_CHANCE) {
                    self.corrections_due += 1;
                }
            }
        }
    }

    fn step_payload(&mut self, event_type: EventType, rng: &mut Rng, day: NaiveDate) -> Value {
        let serial = self.serial;
        let processing = |sim: &mut Self, rng: &mut Rng, prefix: &str| {
            let start = sim.weight_kg;
            let output = tenths(start * rng.between(0.95, 0.99));
            sim.weight_kg = output;
            json!({
                "ticketNumber": format!("MBA-{prefix}-{serial:07}"),
                "startingWeightKg": start,
                "outputWeightKg": output,
                "processHours": tenths(rng.between(2.0, 12.0)),
                "completedOn": day.to_string(),
            })
        };
        let mut data = match event_type {
            EventType::CampaignCreated => json!({
                "legoCampaignCode": format!("LEGO-{serial:07}"),
                "materialType": if rng.chance(0.5) { "PI" } else { "PCR" },
                "description": format!("Recycled ABS from {}", rng.pick(SITES)),
            }),
            EventType::InboundShipmentRecorded => {
                let gross = tenths(rng.between(800.0, 2500.0));
                let net = tenths(gross * rng.between(0.90, 0.97));
                self.weight_kg = net;
                json!({
                    "grossWeightKg": gross,
                    "netWeightKg": net,
                    "estimatedAbsKg": tenths(net * rng.between(0.6, 0.7)),
                    "carrier": rng.pick(CARRIERS),
                    "trackingRef": format!("IN-{serial:07}-{}", rng.below(10_000)),
                    "shipDate": days_before(day, 2 + rng.below(5)).to_string(),
                    "arrivalDate": day.to_string(),
                })
            }
            EventType::GranulationCompleted => processing(self, rng, "G"),
            EventType::MetalRemovalCompleted => processing(self, rng, "M"),
            EventType::PolymerPurificationCompleted => processing(self, rng, "P"),
            EventType::ExtrusionCompleted => processing(self, rng, "E"),
            EventType::EchaApprovalRecorded => json!({
                "approvedBy": "ECHA testing lab",
                "approvalDate": day.to_string(),
            }),
            EventType::TransferToRgeRecorded => {
                self.weight_kg = tenths(self.weight_kg * rng.between(0.995, 1.0));
                json!({
                    "trackingRef": format!("RGE-{serial:07}"),
                    "carrier": rng.pick(CARRIERS),
                    "shipDate": days_before(day, 1 + rng.below(3)).to_string(),
                    "receivedDate": day.to_string(),
                    "receivedWeightKg": self.weight_kg,
                })
            }
            EventType::ManufacturingStarted => {
                self.quantity = 10_000 + rng.below(190_000) as u32;
                json!({
                    "poNumber": format!("PO-{serial:07}"),
                    "poQuantity": self.quantity,
                    "startDate": day.to_string(),
                })
            }
            EventType::ManufacturingCompleted => {
                self.quantity = (f64::from(self.quantity) * rng.between(0.97, 1.0)) as u32;
                json!({ "endDate": day.to_string(), "actualQuantity": self.quantity })
            }
            EventType::ReturnToLegoRecorded => json!({
                "trackingRef": format!("RET-{serial:07}"),
                "carrier": rng.pick(CARRIERS),
                "shipDate": days_before(day, 1 + rng.below(3)).to_string(),
                "receivedDate": day.to_string(),
                "quantity": self.quantity,
            }),
            EventType::CampaignCompleted => {
                json!({ "completionDate": day.to_string(), "completionNotes": "All parts received by LEGO." })
            }
            // Corrections are planned by plan_correction; a type without a plan of its own here
            // records the registry's example.
            other => other.example().unwrap_or_default(),
        };
        // Optional notes on some processing steps, so payload sizes vary as in real entries.
        if matches!(event_type, EventType::GranulationCompleted | EventType::PolymerPurificationCompleted)
            && rng.chance(0.3)
        {
            let field = match event_type {
                EventType::GranulationCompleted => "contaminationNotes",
                _ => "wasteComposition",
            };
            data[field] = json!("Traces of PP and paper labels; within tolerance.");
        }
        if event_type == EventType::ExtrusionCompleted {
            data["batchNumber"] = json!(format!("B-{serial:07}"));
        }
        data
    }

    /// A correction of a random known event, changing one field whose new value keeps the
    /// event valid, with `was` equal to the field's current effective value.
    fn plan_correction(&mut self, rng: &mut Rng) -> Planned {
        let target = rng.below(self.known.len() as u64) as usize;
        self.revisions += 1;
        let revision = self.revisions;
        let known = &self.known[target];
        let number = |field: &str| known.data.get(field).and_then(Value::as_f64).unwrap_or(1.0);
        let (field, now): (&'static str, Value) = match known.event_type {
            // Weights are corrected upwards, a little: a lower weight than the next step took in
            // would be refused (material cannot appear between two steps).
            EventType::InboundShipmentRecorded => {
                let net = tenths(number("netWeightKg") * 1.002);
                if net <= number("grossWeightKg") {
                    ("netWeightKg", json!(net))
                } else {
                    // Net weight may not exceed the gross weight.
                    ("grossWeightKg", json!(tenths(number("grossWeightKg") + 1.5)))
                }
            }
            EventType::GranulationCompleted
            | EventType::MetalRemovalCompleted
            | EventType::PolymerPurificationCompleted
            | EventType::ExtrusionCompleted => {
                let output = tenths(number("outputWeightKg") * 1.002);
                if output <= number("startingWeightKg") {
                    ("outputWeightKg", json!(output))
                } else {
                    // A process cannot put out more than it took in.
                    ("processHours", json!(tenths(number("processHours") + 0.5)))
                }
            }
            EventType::TransferToRgeRecorded => {
                ("receivedWeightKg", json!(tenths(number("receivedWeightKg") * 0.99)))
            }
            EventType::ManufacturingStarted => ("poQuantity", json!(number("poQuantity") as u64 + 100)),
            EventType::ManufacturingCompleted => {
                ("actualQuantity", json!(number("actualQuantity") as u64 + 25))
            }
            EventType::ReturnToLegoRecorded => ("quantity", json!(number("quantity") as u64 + 10)),
            EventType::CampaignCreated => {
                ("description", json!(format!("Recycled ABS, revision {revision}")))
            }
            EventType::EchaApprovalRecorded => ("notes", json!(format!("Lab report revision {revision}"))),
            EventType::CampaignCompleted => {
                ("completionNotes", json!(format!("Closing report revision {revision}")))
            }
            // A type without a plan of its own here: its first text field changes.
            other => {
                let text = other.fields().iter().find(|f| f.kind == FieldKind::Text);
                (text.map_or("notes", |f| f.name), json!(format!("Revision {revision}")))
            }
        };
        let was = known.data.get(field).cloned().unwrap_or(Value::Null);
        let data = json!({
            "correctsEventId": known.id,
            "correctsEventType": known.event_type,
            "reason": rng.pick(REASONS),
            "changes": { field: { "was": was, "now": now } },
        });
        Planned { event_type: EventType::EventCorrected, data, change: Some((target, field, now)) }
    }
}

/// Campaigns in flight at once by default. Entries of that many campaigns interleave, as on a real site,
/// so a batch of remote events touches hundreds of campaigns.
const IN_FLIGHT: usize = 1000;

/// The campaigns in flight and the rule for starting new ones.
pub struct Population {
    rng: Rng,
    active: Vec<CampaignSim>,
    started: u64,
    max_campaigns: u64,
    in_flight: usize,
}

impl Population {
    /// Up to `max_campaigns` campaigns in all, `in_flight` of them at once.
    pub fn new(seed: u64, max_campaigns: u64, in_flight: usize) -> Self {
        Population { rng: Rng::new(seed), active: Vec::new(), started: 0, max_campaigns, in_flight }
    }

    /// Picks a campaign in flight and plans its next entry; `None` once every campaign allowed
    /// has finished. Returns the campaign's slot (for [`Population::recorded`]) and its id, if it
    /// has one yet.
    pub fn plan(&mut self, day: NaiveDate) -> Option<(usize, Option<CampaignId>, Planned)> {
        loop {
            while self.active.len() < self.in_flight && self.started < self.max_campaigns {
                self.started += 1;
                self.active.push(CampaignSim::new(self.started, &mut self.rng));
            }
            if self.active.is_empty() {
                return None;
            }
            let slot = self.rng.below(self.active.len() as u64) as usize;
            match self.active[slot].plan(&mut self.rng, day) {
                Some(planned) => return Some((slot, self.active[slot].id.clone(), planned)),
                None => {
                    self.active.swap_remove(slot);
                }
            }
        }
    }

    /// Takes note that the entry planned for `slot` was recorded as `event`.
    pub fn recorded(&mut self, slot: usize, planned: Planned, event: &Event) {
        let sim = &mut self.active[slot];
        sim.id.get_or_insert_with(|| event.stream_id.clone());
        sim.recorded(planned, &event.id, &mut self.rng);
    }

    /// The generator, for callers that vary their own details (devices, clocks) from the seed.
    fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }
}

/// Crockford base32, the ULID alphabet.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The text of a ULID made of a millisecond timestamp and 80 random bits. Built here rather
/// than with `EventId::generate`, whose process-wide generator would keep every id after the
/// simulated clock once any real-time id (a store's device id) had been made.
fn ulid_text(millis: i64, rng: &mut Rng) -> String {
    let random = (u128::from(rng.next_u64()) << 16 | u128::from(rng.next_u64() >> 48)) & ((1 << 80) - 1);
    let value = (millis as u128) << 80 | random;
    (0..26).map(|i| CROCKFORD[((value >> (125 - 5 * i)) & 31) as usize] as char).collect()
}

/// Devices the remote events come from: laptops at the different sites.
const DEVICES: usize = 20;

/// The simulated clock starts on 2024-01-01 and moves up to a minute per event, so a million
/// events span about a year of recording.
const CLOCK_START_MS: i64 = 1_704_067_200_000;
const MAX_GAP_MS: u64 = 60_000;

/// A stream of complete events, as another laptop's sync or an export would deliver them, in
/// recording order: each with a fresh id later than the previous one, a device among
/// [`DEVICES`] and that device's next sequence number.
pub struct RemoteLog {
    population: Population,
    clock_ms: i64,
    devices: Vec<(DeviceId, UserId, u64)>,
    emitted: u64,
    max_events: u64,
    created: u64,
}

impl RemoteLog {
    /// At most `max_events` events of at most `max_campaigns` campaigns, [`IN_FLIGHT`] at once.
    pub fn new(seed: u64, max_events: u64, max_campaigns: u64) -> Self {
        Self::with_in_flight(seed, max_events, max_campaigns, IN_FLIGHT)
    }

    /// As [`RemoteLog::new`], with `in_flight` campaigns active at once.
    pub fn with_in_flight(seed: u64, max_events: u64, max_campaigns: u64, in_flight: usize) -> Self {
        let mut population = Population::new(seed, max_campaigns, in_flight);
        let devices = (0..DEVICES)
            .map(|n| {
                let device = DeviceId::parse(&format!("dev_{}", ulid_text(CLOCK_START_MS, population.rng())))
                    .expect("a valid ULID");
                let user = UserId::parse(&format!("usr_operator{n}")).expect("a valid user id");
                (device, user, 0)
            })
            .collect();
        RemoteLog { population, clock_ms: CLOCK_START_MS, devices, emitted: 0, max_events, created: 0 }
    }

    /// Campaigns that have at least one event so far.
    pub fn campaigns(&self) -> u64 {
        self.created
    }

    /// The next `size` events (fewer at the end, none when the log is exhausted).
    pub fn batch(&mut self, size: usize) -> Vec<Event> {
        self.by_ref().take(size).collect()
    }
}

impl Iterator for RemoteLog {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        if self.emitted >= self.max_events {
            return None;
        }
        self.clock_ms += 1 + self.population.rng().below(MAX_GAP_MS) as i64;
        // The day at the sites, as a coordinator's laptop there states it.
        let day = Timestamp::from_millis(self.clock_ms).site_day().0;
        let (slot, campaign, planned) = self.population.plan(day)?;
        let rng = self.population.rng();
        let id = EventId::parse(&format!("evt_{}", ulid_text(self.clock_ms, rng))).expect("a valid ULID");
        let stream_id = campaign.unwrap_or_else(|| {
            CampaignId::parse(&format!("cmp_{}", ulid_text(self.clock_ms, rng))).expect("a valid ULID")
        });
        let device = rng.below(DEVICES as u64) as usize;
        let (device_id, user_id, seq) = &mut self.devices[device];
        *seq += 1;
        let event = Event {
            id,
            stream_type: STREAM_TYPE_CAMPAIGN.to_owned(),
            stream_id,
            event_type: planned.event_type,
            schema_version: planned.event_type.schema_version(),
            data: planned.data.clone(),
            user_id: user_id.clone(),
            device_id: device_id.clone(),
            device_seq: *seq,
            created_at: Timestamp::from_millis(self.clock_ms),
        };
        if event.event_type == EventType::CampaignCreated {
            self.created += 1;
        }
        self.population.recorded(slot, planned, &event);
        self.emitted += 1;
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every generated event passes the store's own checks, ids increase, and per-device
    /// sequences have no gaps: otherwise the benchmarks would measure refusals.
    #[test]
    fn remote_events_are_valid_and_ordered() {
        let mut log = RemoteLog::new(7, 30_000, u64::MAX);
        let events: Vec<Event> = log.by_ref().collect();
        assert_eq!(events.len(), 30_000);
        assert!(events.windows(2).all(|w| w[0].id < w[1].id && w[0].created_at < w[1].created_at));
        for event in &events {
            event.check().unwrap_or_else(|e| panic!("{e}: {}", event.data));
        }
        let mut streams: std::collections::BTreeMap<_, Vec<&Event>> = Default::default();
        for event in &events {
            streams.entry(event.stream_id.clone()).or_default().push(event);
        }
        assert_eq!(streams.len() as u64, log.campaigns());
        for stream in streams.values() {
            let state = pluto_domain::fold(stream.iter().copied()).expect("a non-empty stream");
            assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
        }
        assert!(events.iter().any(|e| e.event_type == EventType::EventCorrected));
        assert!(events.iter().any(|e| e.event_type == EventType::CampaignCompleted));
    }
}
