//! The form in which the store keeps a campaign's [`Flows`] (the period mass balance's view of it): a few bytes per step instead of
//! JSON, because a rebuild writes it for every campaign and a period report reads it for every
//! campaign. Little-endian, in this order:
//!
//! - the format's version (one byte, [`FORMAT`]);
//! - the number of steps (one byte), then each step: its status's code (one byte, [`CampaignStatus::code`]), its day (`i32`,
//!   days from the Common Era), a byte telling which of the optional fields follow (1: kg in,
//!   2: kg out, 4: parts, 8: received on), then those fields (`f64`, `f64`, `u32`, `i32` day);
//! - the number of amendments (`u32`), then each amendment: its event's ULID (16 bytes), when it
//!   was recorded (`i64` milliseconds since the Unix epoch), its kind (one byte: 0 corrected,
//!   1 voided, 2 recorded late; plus 4 when the day it moved from follows), the code of the step
//!   it changed (one byte), that step's day (`i32`), the day it moved from (`i32`, when flagged),
//!   and its reason (`u32` length, then UTF-8).
//!
//! A reader that meets a format version it does not know says so instead of guessing. A new
//! format comes with a new store schema version, whose migration has the flows folded again from
//! the events, so a build never meets an unknown form in a file it opens.

use chrono::{Datelike, NaiveDate};
use ulid::Ulid;

use pluto_domain::flows::{Amendment, AmendmentKind, FlowStep, Flows};
use pluto_domain::{CampaignStatus, EventId, IsoDate, Timestamp};

/// The version of the form [`encode`] writes (2: amendments of every kind, and the day a
/// correction moved a step from; store schema 15).
pub const FORMAT: u8 = 2;

const KG_IN: u8 = 1;
const KG_OUT: u8 = 2;
const PARTS: u8 = 4;
const RECEIVED_ON: u8 = 8;

const CORRECTED: u8 = 0;
const VOIDED: u8 = 1;
const RECORDED_LATE: u8 = 2;
const KIND: u8 = 3;
const MOVED_FROM: u8 = 4;

/// Why stored flows could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoredFlowsError {
    /// Written in a form this build does not know.
    #[error("stored in form {0}; this build reads form {FORMAT}")]
    UnknownFormat(u8),
    /// Cut short: the bytes end inside a value.
    #[error("{0} bytes are missing at byte {1}")]
    Truncated(usize, usize),
    /// Bytes left over after the last amendment.
    #[error("{0} bytes follow the last amendment")]
    Trailing(usize),
    /// A value out of its range: a status code, a day, a flag, a reason that is not UTF-8.
    #[error("{0} at byte {1} is not valid")]
    Invalid(&'static str, usize),
}

/// The stored form (see the module's description).
pub fn encode(flows: &Flows) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + flows.steps.len() * 22 + 4);
    out.push(FORMAT);
    // A campaign has at most one entry per status, so the count fits a byte.
    out.push(u8::try_from(flows.steps.len()).expect("at most one step per status"));
    for s in &flows.steps {
        out.push(s.step.code());
        out.extend_from_slice(&day(s.day).to_le_bytes());
        let flags = flag(s.kg_in.is_some(), KG_IN)
            | flag(s.kg_out.is_some(), KG_OUT)
            | flag(s.parts.is_some(), PARTS)
            | flag(s.received_on.is_some(), RECEIVED_ON);
        out.push(flags);
        if let Some(kg) = s.kg_in {
            out.extend_from_slice(&kg.to_le_bytes());
        }
        if let Some(kg) = s.kg_out {
            out.extend_from_slice(&kg.to_le_bytes());
        }
        if let Some(parts) = s.parts {
            out.extend_from_slice(&parts.to_le_bytes());
        }
        if let Some(on) = s.received_on {
            out.extend_from_slice(&day(on).to_le_bytes());
        }
    }
    out.extend_from_slice(&len(flows.amendments.len()).to_le_bytes());
    for a in &flows.amendments {
        out.extend_from_slice(&a.event_id.ulid().to_bytes());
        out.extend_from_slice(&a.recorded_at.millis().to_le_bytes());
        let kind = match a.kind {
            AmendmentKind::Corrected => CORRECTED,
            AmendmentKind::Voided => VOIDED,
            AmendmentKind::RecordedLate => RECORDED_LATE,
        };
        out.push(kind | flag(a.moved_from.is_some(), MOVED_FROM));
        out.push(a.step.code());
        out.extend_from_slice(&day(a.day).to_le_bytes());
        if let Some(from) = a.moved_from {
            out.extend_from_slice(&day(from).to_le_bytes());
        }
        out.extend_from_slice(&len(a.reason.len()).to_le_bytes());
        out.extend_from_slice(a.reason.as_bytes());
    }
    out
}

/// Reads flows written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<Flows, StoredFlowsError> {
    let mut r = Reader { bytes, at: 0 };
    let format = r.u8()?;
    if format != FORMAT {
        return Err(StoredFlowsError::UnknownFormat(format));
    }
    let mut flows = Flows::default();
    for _ in 0..r.u8()? {
        let step = r.status()?;
        let day = r.day()?;
        let at = r.at;
        let flags = r.u8()?;
        if flags & !(KG_IN | KG_OUT | PARTS | RECEIVED_ON) != 0 {
            return Err(StoredFlowsError::Invalid("a step's flags", at));
        }
        flows.steps.push(FlowStep {
            step,
            day,
            kg_in: (flags & KG_IN != 0).then(|| r.f64()).transpose()?,
            kg_out: (flags & KG_OUT != 0).then(|| r.f64()).transpose()?,
            parts: (flags & PARTS != 0).then(|| r.u32()).transpose()?,
            received_on: (flags & RECEIVED_ON != 0).then(|| r.day()).transpose()?,
        });
    }
    for _ in 0..r.u32()? {
        let event_id = EventId::from_ulid(Ulid::from_bytes(r.take::<16>()?));
        let recorded_at = Timestamp::from_millis(i64::from_le_bytes(r.take()?));
        let at = r.at;
        let flags = r.u8()?;
        let kind = match (flags & KIND, flags & !(KIND | MOVED_FROM)) {
            (CORRECTED, 0) => AmendmentKind::Corrected,
            (VOIDED, 0) => AmendmentKind::Voided,
            (RECORDED_LATE, 0) => AmendmentKind::RecordedLate,
            _ => return Err(StoredFlowsError::Invalid("an amendment's kind", at)),
        };
        let step = r.status()?;
        let day = r.day()?;
        let moved_from = (flags & MOVED_FROM != 0).then(|| r.day()).transpose()?;
        let length = r.u32()? as usize;
        let at = r.at;
        let reason = std::str::from_utf8(r.slice(length)?)
            .map_err(|_| StoredFlowsError::Invalid("an amendment's reason", at))?
            .to_owned();
        flows.amendments.push(Amendment { event_id, recorded_at, kind, step, day, moved_from, reason });
    }
    match bytes.len() - r.at {
        0 => Ok(flows),
        left => Err(StoredFlowsError::Trailing(left)),
    }
}

fn flag(set: bool, bit: u8) -> u8 {
    if set {
        bit
    } else {
        0
    }
}

fn day(d: IsoDate) -> i32 {
    d.0.num_days_from_ce()
}

fn len(n: usize) -> u32 {
    u32::try_from(n).expect("lengths stay far below 4 GiB")
}

/// A cursor over stored bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn slice(&mut self, n: usize) -> Result<&'a [u8], StoredFlowsError> {
        let left = self.bytes.len() - self.at;
        if left < n {
            return Err(StoredFlowsError::Truncated(n - left, self.at));
        }
        let slice = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(slice)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], StoredFlowsError> {
        Ok(self.slice(N)?.try_into().expect("N bytes"))
    }

    fn u8(&mut self) -> Result<u8, StoredFlowsError> {
        Ok(self.take::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, StoredFlowsError> {
        Ok(u32::from_le_bytes(self.take()?))
    }

    fn f64(&mut self) -> Result<f64, StoredFlowsError> {
        Ok(f64::from_le_bytes(self.take()?))
    }

    fn status(&mut self) -> Result<CampaignStatus, StoredFlowsError> {
        let at = self.at;
        CampaignStatus::from_code(self.u8()?).ok_or(StoredFlowsError::Invalid("a step", at))
    }

    fn day(&mut self) -> Result<IsoDate, StoredFlowsError> {
        let at = self.at;
        NaiveDate::from_num_days_from_ce_opt(i32::from_le_bytes(self.take()?))
            .map(IsoDate)
            .ok_or(StoredFlowsError::Invalid("a day", at))
    }
}

#[cfg(test)]
mod tests {
    use pluto_domain::registry::flow::Flow;
    use proptest::prelude::*;

    use super::*;

    const CHAIN: [CampaignStatus; 10] = [
        CampaignStatus::InboundShipmentRecorded,
        CampaignStatus::GranulationComplete,
        CampaignStatus::MetalRemovalComplete,
        CampaignStatus::PolymerPurificationComplete,
        CampaignStatus::ExtrusionComplete,
        CampaignStatus::EchaApproved,
        CampaignStatus::TransferredToRge,
        CampaignStatus::ManufacturingStarted,
        CampaignStatus::ManufacturingComplete,
        CampaignStatus::ReturnedToLego,
    ];

    fn on(days: i64) -> IsoDate {
        IsoDate(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + chrono::Duration::days(days))
    }

    /// A campaign's flows: some of its steps with any of their quantities, some corrected or
    /// voided, reasons in any script.
    fn arb_flows() -> impl Strategy<Value = Flows> {
        let quantity = (
            proptest::option::of(0.0f64..1e6),
            proptest::option::of(0.0f64..1e6),
            proptest::option::of(any::<u32>()),
            proptest::option::of(0i64..900),
        );
        let step = (0i64..900, quantity);
        let kind = prop_oneof![
            Just(AmendmentKind::Corrected),
            Just(AmendmentKind::Voided),
            Just(AmendmentKind::RecordedLate)
        ];
        let amendment =
            (kind, proptest::option::of(0i64..900), 0usize..10, -100_000i64..100_000, "\\PC{0,40}");
        (proptest::collection::vec(step, 0..=10), proptest::collection::vec(amendment, 0..4)).prop_map(
            |(steps, amendments)| {
                let mut flows = Flows::default();
                for (status, (day, (kg_in, kg_out, parts, received))) in CHAIN.into_iter().zip(steps) {
                    flows.record(
                        status,
                        on(day),
                        Flow { kg_in, kg_out, parts, received_on: received.map(on), hours: None },
                    );
                }
                for (kind, moved_from, step, minutes, reason) in amendments {
                    let Some(s) = flows.steps.get(step % flows.steps.len().max(1)).cloned() else { continue };
                    let at = Timestamp::from_millis(1_767_225_600_000 + minutes * 60_000);
                    flows.amend(Amendment {
                        event_id: EventId::generate(at.system_time()),
                        recorded_at: at,
                        kind,
                        step: s.step,
                        day: s.day,
                        moved_from: moved_from.map(on),
                        reason,
                    });
                }
                flows
            },
        )
    }

    proptest! {
        #[test]
        fn stored_flows_read_back_as_they_were_written(flows in arb_flows()) {
            let stored = encode(&flows);
            prop_assert_eq!(decode(&stored).unwrap(), flows);
            // Every cut of it is refused rather than misread.
            for cut in 0..stored.len() {
                prop_assert!(decode(&stored[..cut]).is_err(), "cut at {cut} of {}", stored.len());
            }
        }
    }

    #[test]
    fn stored_flows_that_are_not_as_written_are_refused_with_the_reason() {
        let mut flows = Flows::default();
        let inbound = Flow { kg_out: Some(3360.2), ..Flow::default() };
        flows.record(CampaignStatus::InboundShipmentRecorded, on(9), inbound);
        let at = Timestamp::from_millis(1_768_900_000_000);
        let reason = "Weighbridge ticket re-read".to_owned();
        let (step, day) = (CampaignStatus::InboundShipmentRecorded, on(9));
        flows.amend(Amendment {
            event_id: EventId::generate(at.system_time()),
            recorded_at: at,
            kind: AmendmentKind::Corrected,
            step,
            day,
            moved_from: None,
            reason,
        });
        let stored = encode(&flows);
        assert_eq!(decode(&stored).unwrap(), flows);
        let refused = |bytes: &[u8]| decode(bytes).unwrap_err().to_string();

        let mut newer = stored.clone();
        newer[0] = 3;
        assert_eq!(refused(&newer), "stored in form 3; this build reads form 2");
        assert_eq!(refused(&stored[..stored.len() - 3]), "3 bytes are missing at byte 54");
        assert_eq!(refused(&[stored.as_slice(), &[0, 0]].concat()), "2 bytes follow the last amendment");
        let mut step = stored.clone();
        step[2] = 99;
        assert_eq!(refused(&step), "a step at byte 2 is not valid");
        let mut flags = stored.clone();
        flags[7] = 0x80;
        assert_eq!(refused(&flags), "a step's flags at byte 7 is not valid");
        let mut kind = stored.clone();
        kind[44] = 3;
        assert_eq!(refused(&kind), "an amendment's kind at byte 44 is not valid");
    }
}
