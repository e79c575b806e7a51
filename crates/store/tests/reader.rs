//! A reading connection beside the writer (the window's reads): it sees every committed entry,
//! and anything that would write fails without touching the store.

use pluto_domain::samples::SampleCampaign;
use std::path::Path;

use pluto_domain::{CampaignId, EventType, UserId};
use pluto_store::{Draft, Store};

/// A laptop's store with one campaign created, its writer and a reader beside it.
struct Laptop {
    writer: Store,
    reader: Store,
    user: UserId,
    sample: SampleCampaign,
    id: CampaignId,
}

impl Laptop {
    fn with_a_campaign(dir: &Path) -> Laptop {
        let path = dir.join("laptop.sqlite3");
        let mut writer = Store::open(&path).unwrap();
        let reader = Store::open_reader(&path).unwrap();
        let user = UserId::parse("usr_ana").unwrap();
        let sample = SampleCampaign::numbered(1);
        let created = EventType::CampaignCreated;
        let id = writer
            .record(Draft::new(None, created, sample.payload(created).unwrap(), user.clone()))
            .unwrap()
            .event
            .stream_id;
        Laptop { writer, reader, user, sample, id }
    }
}

#[test]
fn a_reader_sees_what_the_writer_committed_and_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let Laptop { mut writer, reader, user, sample, id } = Laptop::with_a_campaign(dir.path());
    assert_eq!(reader.campaign(&id).unwrap().unwrap().event_count, 1, "committed, so seen");
    assert_eq!(reader.device_id(), writer.device_id());

    // The reader refuses the write; the writer's store is as it was and goes on.
    let mut reader = reader;
    let inbound = EventType::InboundShipmentRecorded;
    let draft = Draft::new(Some(id.clone()), inbound, sample.payload(inbound).unwrap(), user.clone());
    let refused = reader.record(draft.clone()).unwrap_err().to_string();
    assert!(refused.contains("readonly") || refused.contains("read-only"), "{refused}");
    assert_eq!(writer.history(&id).unwrap().len(), 1);
    writer.record(draft).unwrap();
    assert_eq!(reader.campaign(&id).unwrap().unwrap().event_count, 2);
    assert!(writer.verify().unwrap().is_empty());
}

/// Reads made in one snapshot see the same store however many entries the writer commits
/// between them, so a view made of several queries never shows a campaign at two stages; the
/// next snapshot sees the commits.
#[test]
fn reads_in_one_snapshot_see_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let Laptop { mut writer, reader, user, sample, id } = Laptop::with_a_campaign(dir.path());
    let inbound = EventType::InboundShipmentRecorded;
    let seen = reader
        .snapshot(|r| {
            let before = r.campaign(&id)?.unwrap().status;
            writer.record(Draft::new(
                Some(id.clone()),
                inbound,
                sample.payload(inbound).unwrap(),
                user.clone(),
            ))?;
            let after = r.campaign(&id)?.unwrap().status;
            Ok::<_, pluto_store::StoreError>((before, after))
        })
        .unwrap();
    assert_eq!(seen.0, seen.1, "one snapshot, one status");
    assert_eq!(reader.campaign(&id).unwrap().unwrap().status, inbound.target_status().unwrap());
}

#[test]
fn a_reader_needs_a_store_that_exists() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.sqlite3");
    assert!(Store::open_reader(&missing).is_err());
    assert!(!missing.exists(), "nothing is created");
}
