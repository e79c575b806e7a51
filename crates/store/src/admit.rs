//! What a laptop does not take from a server: every pulled event passes the rules the server
//! applies to what it receives, so that an impersonated, misconfigured or older server cannot
//! make this laptop fold what an honest server would have refused. An event that fails is kept
//! aside as a pull refusal (with the field and the reason) and never folded.
//!
//! - the envelope's times and id lie between 2024 and a few days past this laptop's clock, and
//!   the event is at most 128 KiB ([`pluto_domain::bounds`]);
//! - an event under this laptop's own device id is one it wrote;
//! - the site the server attests for an event may record its type (the server's last policy);
//! - a campaign is created once, and nothing has an id before its creation;
//! - a correction or void names its target's real type and campaign, and a review of an entry
//!   comes from a site that may review it.
//!
//! What an event names is judged, as the server judged it, by the log before it: the events the
//! server has served this laptop (and the page's earlier ones), never entries this laptop holds
//! unconfirmed, so every laptop takes the same events whatever else it holds.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension};

use super::rows::event_by_id;
use super::Result;
use pluto_domain::event::Event;
use pluto_domain::field::FieldError;
use pluto_domain::ids::{CampaignId, DeviceId, EventId};
use pluto_domain::incoming::Incoming;
use pluto_domain::policy::SitePolicy;
use pluto_domain::registry::{EventType, Payload};
use pluto_domain::time::Timestamp;
use pluto_protocol::PulledEvent;

/// The checks of one pulled page, with what the page itself has admitted so far (a later event
/// of the page may name an earlier one).
pub(super) struct PullChecks<'a> {
    conn: &'a Connection,
    device: &'a DeviceId,
    policy: Option<SitePolicy>,
    now: Timestamp,
    /// Each campaign's confirmed creation, as far as this page has looked it up or admitted it.
    creations: HashMap<CampaignId, Option<EventId>>,
    /// Events admitted in this page: their campaign, type, and the type they change.
    admitted: HashMap<EventId, (CampaignId, EventType, Option<EventType>)>,
}

impl<'a> PullChecks<'a> {
    /// Checks against the store on `conn` of the laptop `device`, whose last known site policy
    /// is `policy`.
    pub(super) fn new(conn: &'a Connection, device: &'a DeviceId, policy: Option<SitePolicy>) -> Self {
        let policy = policy.filter(|p| !p.sites.is_empty());
        Self {
            conn,
            device,
            policy,
            now: Timestamp::now(),
            creations: HashMap::new(),
            admitted: HashMap::new(),
        }
    }

    /// Whether `incoming`, served as `pulled`, may be taken; `Err` names the field and why not.
    pub(super) fn admit(
        &mut self,
        pulled: &PulledEvent,
        incoming: &Incoming,
    ) -> Result<Result<(), FieldError>> {
        let event = &incoming.event;
        let bounds = pluto_domain::bounds::check_size(pulled.event.get().len()).and_then(|()| {
            pluto_domain::bounds::check_times(event, self.now, 2 * pluto_domain::bounds::MAX_AHEAD)
        });
        if let Err(error) = bounds {
            return Ok(Err(error));
        }
        if &event.device_id == self.device && event_by_id(self.conn, event.id.as_str())?.is_none() {
            return Ok(Err(FieldError::new(
                "deviceId",
                format!(
                    "{} is this laptop's own device id, but this laptop never wrote {}: the server may be \
                     impersonated, or restored with another laptop's entries",
                    event.device_id, event.id
                ),
            )));
        }
        if event.event_type == EventType::Newer {
            return Ok(Ok(()));
        }
        let acts_on = match self.target(event, incoming.payload.as_ref())? {
            Ok(acts_on) => acts_on,
            Err(error) => return Ok(Err(error)),
        };
        if let Err(error) = self.creation(event)? {
            return Ok(Err(error));
        }
        let unjudged = event.event_type == EventType::AnomalyReviewed && acts_on.is_none();
        if let (Some(policy), Some(site), false) = (&self.policy, &pulled.site, pulled.admin || unjudged) {
            let types = policy.sites.iter().find(|(name, _)| name.eq_ignore_ascii_case(site)).map(|(_, t)| t);
            let allows =
                |t: EventType| types.is_some_and(|types| types.iter().any(|name| name == t.as_str()));
            if let Err(message) = SitePolicy::judge(site, event.event_type, acts_on, allows) {
                return Ok(Err(FieldError::new(
                    "eventType",
                    format!("{message}, yet the server served it as recorded there; it is kept aside"),
                )));
            }
        }
        let changes = acts_on.filter(|_| event.event_type.acts_on_others());
        self.admitted.insert(event.id.clone(), (event.stream_id.clone(), event.event_type, changes));
        if event.event_type == EventType::CampaignCreated {
            self.creations.insert(event.stream_id.clone(), Some(event.id.clone()));
        }
        Ok(Ok(()))
    }

    /// The type a correction or void changes, or the type of the entry a review is about (or
    /// that entry's changed type; `None` when the entry is not held), once what it names is
    /// checked.
    fn target(
        &self,
        event: &Event,
        payload: Option<&Payload>,
    ) -> Result<Result<Option<EventType>, FieldError>> {
        let (named, claimed) = match payload {
            Some(Payload::EventCorrected(c)) => (&c.corrects_event_id, Some(c.corrects_event_type)),
            Some(Payload::EntryVoided(v)) => (&v.voids_event_id, Some(v.voids_event_type)),
            Some(Payload::AnomalyReviewed(r)) => (&r.event_id, None),
            _ => return Ok(Ok(None)),
        };
        let field = event.event_type.target_field().unwrap_or("eventId");
        let held = match self.admitted.get(named) {
            Some(held) => Some(held.clone()),
            None => confirmed(self.conn, named)?.map(|e| {
                let changes = e
                    .event_type
                    .target_type_field()
                    .and_then(|f| EventType::parse(e.data.get(f)?.as_str()?).ok());
                (e.stream_id, e.event_type, changes)
            }),
        };
        // The target may arrive later (it reached its laptop by file): the fold keeps a correction
        // or void waiting for it, and who may review it cannot be judged yet.
        let Some((stream, actual, changes)) = held else {
            return Ok(Ok(claimed));
        };
        if stream != event.stream_id {
            return Ok(Err(FieldError::new(
                format!("data.{field}"),
                format!("{named} belongs to campaign {stream}, not to {}", event.stream_id),
            )));
        }
        match claimed {
            Some(claimed) if claimed != actual => Ok(Err(FieldError::new(
                format!("data.{}", event.event_type.target_type_field().unwrap_or("eventType")),
                format!("{named} is a {actual}, not a {claimed}"),
            ))),
            Some(claimed) => Ok(Ok(Some(claimed))),
            None => Ok(Ok(Some(changes.unwrap_or(actual)))),
        }
    }

    /// A campaign is created once, and nothing has an id before its creation.
    fn creation(&mut self, event: &Event) -> Result<Result<(), FieldError>> {
        let created = match self.creations.get(&event.stream_id) {
            Some(known) => known.clone(),
            None => {
                let stored = self
                    .conn
                    .prepare_cached(
                        "SELECT id FROM events WHERE stream_id = ?1 AND event_type = 'CampaignCreated'
                           AND server_position IS NOT NULL ORDER BY id LIMIT 1",
                    )?
                    .query_row([event.stream_id.as_str()], |r| r.get::<_, String>(0))
                    .optional()?
                    .and_then(|id| EventId::parse(&id).ok());
                self.creations.insert(event.stream_id.clone(), stored.clone());
                stored
            }
        };
        let Some(created) = created.filter(|c| *c != event.id) else {
            return Ok(Ok(()));
        };
        if event.event_type == EventType::CampaignCreated {
            return Ok(Err(FieldError::new(
                "eventType",
                format!(
                    "campaign {} was already created by {created}; a campaign is created once",
                    event.stream_id
                ),
            )));
        }
        if event.id < created {
            return Ok(Err(FieldError::new(
                "id",
                format!("{} sorts before the creation of campaign {} ({created})", event.id, event.stream_id),
            )));
        }
        Ok(Ok(()))
    }
}

/// The event `id` if the server has served it to this laptop.
fn confirmed(conn: &Connection, id: &EventId) -> Result<Option<Event>> {
    let served: bool = conn
        .prepare_cached("SELECT server_position IS NOT NULL FROM events WHERE id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))
        .optional()?
        .unwrap_or(false);
    if served {
        event_by_id(conn, id.as_str())
    } else {
        Ok(None)
    }
}
