//! Realistic campaign data: the payloads of a whole lifecycle with plausible weights, dates and
//! references. Used by tests, benchmarks, and the desktop app's training database.

use chrono::{Days, NaiveDate};
use serde_json::{json, Value};

use crate::event::Event;

use crate::event::STREAM_TYPE_CAMPAIGN;
use crate::ids::{CampaignId, DeviceId, EventId, UserId};
use crate::registry::fields::MaterialType;
use crate::registry::EventType;
use crate::time::Timestamp;

/// The parameters of one sample campaign; every payload derives from them.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleCampaign {
    /// LEGO's campaign code.
    pub code: String,
    /// PI or PCR.
    pub material: MaterialType,
    /// Net weight received at MBA.
    pub net_weight_kg: f64,
    /// Yield of granulation, metal removal, purification and extrusion (each in (0, 1]).
    pub yields: [f64; 4],
    /// Fraction lost in handling between consecutive steps (in [0, 1)).
    pub handling_loss: f64,
    /// Day the inbound shipment left LEGO's warehouse.
    pub ship_date: NaiveDate,
    /// Parts ordered from RGE.
    pub po_quantity: u32,
}

impl SampleCampaign {
    /// A varied but deterministic sample numbered `n`.
    pub fn numbered(n: u32) -> SampleCampaign {
        let f = |k: u32| f64::from((n.wrapping_mul(2_654_435_761).wrapping_add(k * 40_503)) % 1000) / 1000.0;
        SampleCampaign {
            code: format!("LEGO-{}-{:04}", 2026 + n / 10_000, n % 10_000),
            material: if n % 3 == 0 { MaterialType::Pi } else { MaterialType::Pcr },
            net_weight_kg: (2_000.0 + (f(1) * 18_000.0)).round(),
            yields: [0.90 + f(2) * 0.08, 0.94 + f(3) * 0.05, 0.85 + f(4) * 0.1, 0.92 + f(5) * 0.06],
            handling_loss: f(6) * 0.01,
            ship_date: NaiveDate::from_ymd_opt(2026, 1, 5).expect("valid date")
                + Days::new(u64::from(n % 300)),
            po_quantity: 10_000 + (n % 50) * 1_000,
        }
    }

    /// The payload of `event_type` in this campaign's lifecycle (`None` for types that are not
    /// steps).
    pub fn payload(&self, event_type: EventType) -> Option<Value> {
        let round = |x: f64| (x * 10.0).round() / 10.0;
        let day = |d: u64| (self.ship_date + Days::new(d)).to_string();
        // Weight into and out of each processing step, handling loss between them.
        let mut weights = Vec::new();
        let mut current = self.net_weight_kg;
        for y in self.yields {
            let start = round(current * (1.0 - self.handling_loss));
            let out = round(start * y);
            weights.push((start, out));
            current = out;
        }
        let step = |i: usize, ticket: &str| {
            json!({
                "ticketNumber": format!("MBA-{ticket}-{}", &self.code[5..]),
                "startingWeightKg": weights[i].0,
                "outputWeightKg": weights[i].1,
                "processHours": 4.0 + i as f64 * 2.5,
                "completedOn": day(4 + 3 * i as u64),
                "wasteCode": "07 02 13",
            })
        };
        let with = |mut v: Value, key: &str, val: Value| {
            v[key] = val;
            v
        };
        Some(match event_type {
            EventType::CampaignCreated => json!({
                "legoCampaignCode": self.code,
                "materialType": self.material.as_str(),
                "description": format!("{} bricks from {}", self.material.as_str(), if self.material == MaterialType::Pi { "Billund moulding" } else { "consumer take-back" }),
            }),
            EventType::InboundShipmentRecorded => json!({
                "grossWeightKg": round(self.net_weight_kg * 1.06),
                "netWeightKg": self.net_weight_kg,
                "estimatedAbsKg": round(self.net_weight_kg * 0.82),
                "carrier": "DHL Freight",
                "trackingRef": format!("DHL-{}", &self.code[5..]),
                "shipDate": day(0),
                "arrivalDate": day(2),
            }),
            EventType::GranulationCompleted => {
                with(step(0, "GR"), "contaminationNotes", json!("Labels and some paper residue"))
            }
            EventType::MetalRemovalCompleted => step(1, "MR"),
            EventType::PolymerPurificationCompleted => {
                with(step(2, "PP"), "wasteComposition", json!("PC/ABS blend, pigments"))
            }
            EventType::ExtrusionCompleted => {
                with(step(3, "EX"), "batchNumber", json!(format!("BATCH-{}", &self.code[5..])))
            }
            EventType::EchaApprovalRecorded => json!({
                "approvedBy": "ECHA test lab (J. Madsen)",
                "approvalDate": day(21),
                "notes": "REACH Annex XVII screening passed",
            }),
            EventType::TransferToRgeRecorded => json!({
                "trackingRef": format!("DSV-{}", &self.code[5..]),
                "carrier": "DSV",
                "shipDate": day(23),
                "receivedDate": day(25),
                "receivedWeightKg": round(weights[3].1 * 0.998),
            }),
            EventType::ManufacturingStarted => json!({
                "poNumber": format!("PO-{}", &self.code[5..]),
                "poQuantity": self.po_quantity,
                "startDate": day(27),
            }),
            EventType::ManufacturingCompleted => json!({
                "endDate": day(34),
                "actualQuantity": self.po_quantity - self.po_quantity / 50,
                "notes": "Minor flash on 2% of parts, scrapped",
            }),
            EventType::ReturnToLegoRecorded => json!({
                "trackingRef": format!("DHL-R-{}", &self.code[5..]),
                "carrier": "DHL Freight",
                "shipDate": day(36),
                "receivedDate": day(38),
                "quantity": self.po_quantity - self.po_quantity / 50,
            }),
            EventType::CampaignCompleted => json!({
                "completionDate": day(40),
                "completionNotes": "All parts received at LEGO",
            }),
            // A step this lifecycle does not plan yet uses the registry's example.
            other => return other.target_status().and(other.example()),
        })
    }
}

/// Another laptop's campaigns, `n` events in all, as a sync brings them from another site: each
/// campaign its lifecycle's steps in order, one event a millisecond from `since`. For tests and
/// measurements of large pulls.
pub fn another_laptops_events(n: usize, since: Timestamp) -> Vec<Event> {
    let device = DeviceId::generate();
    let user = UserId::parse("usr_other.laptop").expect("a valid user id");
    let mut out = Vec::with_capacity(n);
    let mut campaign = 0;
    while out.len() < n {
        campaign += 1;
        let id = CampaignId::generate();
        let sample = SampleCampaign::numbered(10_000 + campaign);
        for t in EventType::STEPS.into_iter().take(n - out.len()) {
            let created_at = Timestamp::from_millis(since.millis() + out.len() as i64);
            out.push(Event {
                id: EventId::generate(created_at.system_time()),
                stream_type: STREAM_TYPE_CAMPAIGN.into(),
                stream_id: id.clone(),
                event_type: t,
                schema_version: t.schema_version(),
                data: sample.payload(t).expect("steps have payloads"),
                user_id: user.clone(),
                device_id: device.clone(),
                device_seq: out.len() as u64 + 1,
                created_at,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Payload;

    #[test]
    fn every_sample_payload_passes_validation() {
        for n in 0..500 {
            let sample = SampleCampaign::numbered(n);
            for t in EventType::STEPS {
                let data = sample.payload(t).expect("steps have payloads");
                Payload::parse(t, &data).unwrap_or_else(|e| panic!("sample {n} {t}: {e}"));
            }
        }
    }
}
