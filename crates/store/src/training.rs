//! The training database: campaigns at every stage to practise on, apart from the real records.

use pluto_domain::samples::SampleCampaign;
use pluto_domain::{
    CampaignId, DeviceId, Event, EventId, EventType, Timestamp, UserId, STREAM_TYPE_CAMPAIGN,
};
use serde_json::Value;

use crate::append::Draft;

use crate::Store;

use crate::StoreError;

/// How many campaigns [`fill_training`] records.
pub const TRAINING_CAMPAIGNS: u32 = 24;

/// Fills an empty training database with campaigns at every stage, recorded by `user`: two of
/// them with corrections, and one with an anomaly (a step recorded twice, as when two laptops
/// record the same step offline), so coordinators can practise on everything they will meet.
pub fn fill_training(store: &mut Store, user: &UserId) -> Result<(), StoreError> {
    let mut ids = Vec::new();
    for n in 0..TRAINING_CAMPAIGNS {
        let sample = SampleCampaign::numbered(n + 1);
        let last = usize::try_from(n).unwrap_or(0) % EventType::STEPS.len();
        let mut campaign: Option<CampaignId> = None;
        for &t in &EventType::STEPS[..=last] {
            let data = sample.payload(t).expect("steps have payloads");
            let recorded = store.record(Draft::new(campaign.clone(), t, data, user.clone()))?;
            campaign = Some(recorded.event.stream_id);
        }
        ids.push(campaign.expect("every campaign is created"));
    }
    for (n, reason) in [
        (4, "Weighbridge ticket re-read: net weight was mistyped"),
        (9, "Corrected after the carrier's delivery note arrived"),
    ] {
        let id = &ids[n];
        let history = store.history(id)?;
        let events: Vec<&Event> = history.iter().collect();
        let inbound = events
            .iter()
            .find(|e| e.event_type == EventType::InboundShipmentRecorded)
            .expect("campaigns 4 and 9 have an inbound shipment");
        let gross = inbound.data["grossWeightKg"].as_f64().unwrap_or(0.0);
        let now = serde_json::Number::from_f64(((gross - 40.0) * 10.0).round() / 10.0).map(Value::Number);
        let changes = [("grossWeightKg".to_owned(), now.unwrap_or(Value::Null))];
        let data = pluto_domain::correction::build_correction(&events, &inbound.id, &changes, reason)?;
        store.record(Draft::new(Some(id.clone()), EventType::EventCorrected, data, user.clone()))?;
    }
    // A second laptop's copy of a step already recorded here: the fold keeps it as an anomaly.
    let id = &ids[6];
    let duplicate = store
        .history(id)?
        .into_iter()
        .find(|e| e.event_type == EventType::GranulationCompleted)
        .expect("campaign 6 is granulated");
    let at = Timestamp::now();
    let remote = Event {
        id: EventId::generate(at.system_time()),
        stream_type: STREAM_TYPE_CAMPAIGN.to_owned(),
        stream_id: id.clone(),
        event_type: EventType::GranulationCompleted,
        schema_version: EventType::GranulationCompleted.schema_version(),
        data: duplicate.data,
        user_id: UserId::parse("usr_second.laptop").expect("a valid user id"),
        device_id: DeviceId::generate(),
        device_seq: 1,
        created_at: at,
    };
    store.apply_remote(&[remote])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_training_database_has_every_stage_corrections_and_an_anomaly() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("training.sqlite3")).unwrap();
        fill_training(&mut store, &UserId::parse("usr_ana").unwrap()).unwrap();
        let page = store.list(&crate::query::ListQuery { limit: 100, ..Default::default() }).unwrap();
        assert_eq!(page.total, u64::from(TRAINING_CAMPAIGNS));
        let statuses: std::collections::BTreeSet<_> = page.rows.iter().map(|r| r.status).collect();
        assert_eq!(statuses.len(), 12, "every stage is represented: {statuses:?}");
        assert_eq!(page.rows.iter().filter(|r| r.anomaly_count > 0).count(), 1);
        assert_eq!(page.rows.iter().map(|r| r.event_count).sum::<u32>(), 12 * 2 * 13 / 2 + 2 + 1);
        assert!(store.verify().unwrap().is_empty());
    }
}
