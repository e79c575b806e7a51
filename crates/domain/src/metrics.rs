//! Derived figures a coordinator reads off a campaign: yield of each processing step, handling
//! loss between steps, overall yield, and how long each step took by the dates its entries
//! state.

use serde::Serialize;

use crate::flows::StepDay;
use crate::registry::status::Tone;
use crate::registry::EventType;
use crate::state::CampaignState;
use crate::time::Timestamp;

/// The weight after one stage of the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct WeightPoint {
    /// Stage label: the step's (`Inbound Shipment`, `Granulation`, …), or for the weight received
    /// at the end of a transfer the status it reaches (`Transferred to RGE`).
    pub stage: String,
    /// The tone of the status the stage's step reaches.
    pub tone: Tone,
    /// Weight after it.
    pub weight_kg: f64,
}

/// One processing step's yield.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StepYield {
    /// Step label.
    pub step: String,
    /// Weight in.
    pub starting_weight_kg: f64,
    /// Weight out.
    pub output_weight_kg: f64,
    /// Output / starting.
    pub yield_ratio: f64,
    /// Process hours, when recorded.
    pub process_hours: Option<f64>,
}

/// Weight lost between one stage's output and the next stage's input (handling, transport).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct HandlingLoss {
    /// Stage whose output is measured.
    pub from: String,
    /// Stage whose input is measured.
    pub to: String,
    /// Output of `from`.
    pub from_weight_kg: f64,
    /// Input of `to`.
    pub to_weight_kg: f64,
    /// `from - to` (negative means the next stage weighed in more), written to a tenth of a
    /// kilogram: a difference of two weights carries binary noise.
    #[serde(serialize_with = "crate::quantity::serialize_tenths")]
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub loss_kg: f64,
    /// Loss as a fraction of `from`.
    pub loss_ratio: f64,
}

/// How long a step took: from the day of the step recorded before it to its own day.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StepDuration {
    /// Step label.
    pub step: String,
    /// The day of the step before it.
    pub from: StepDay,
    /// Its own day.
    pub to: StepDay,
    /// Whole days between the two (negative when the stated dates run backwards).
    pub days: i64,
}

/// The mass balance and timing of a campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MassBalance {
    /// Weight after each stage whose entry weighs it, in the order of the chain.
    pub points: Vec<WeightPoint>,
    /// Yield of each recorded processing step.
    pub step_yields: Vec<StepYield>,
    /// Loss between consecutive stages.
    pub handling_losses: Vec<HandlingLoss>,
    /// Current weight / inbound net weight.
    pub overall_yield: Option<f64>,
    /// Days each recorded step took since the one before it, by the dates the entries state.
    pub step_durations: Vec<StepDuration>,
    /// Seconds since the current status was reached, as of `now`.
    pub seconds_in_current_status: i64,
}

impl MassBalance {
    /// Computes the figures of `state`, timing the current status up to `now`.
    pub fn of(state: &CampaignState, now: Timestamp) -> MassBalance {
        let s = &state.steps;
        let mut points = Vec::new();
        let mut step_yields = Vec::new();
        let mut handling_losses = Vec::new();
        // (label, where in the chain, weight in, weight out) of each stage, in chain order, as
        // each step's entry weighs it: weight put out alone brings material in, weight in and
        // out is a process, weight taken in alone is the receiver's at the end of a transfer.
        let mut stages: Vec<(&str, Tone, Option<f64>, f64)> = Vec::new();
        for event_type in EventType::STEPS {
            let (Some(flow), Some(status)) = (s.flow(event_type), event_type.target_status()) else {
                continue;
            };
            match (flow.kg_in, flow.kg_out) {
                (None, Some(out)) => stages.push((status.step_label(), status.tone(), None, out)),
                (Some(start), Some(out)) => {
                    let label = status.step_label();
                    stages.push((label, status.tone(), Some(start), out));
                    step_yields.push(StepYield {
                        step: label.to_owned(),
                        starting_weight_kg: start,
                        output_weight_kg: out,
                        yield_ratio: out / start,
                        process_hours: flow.hours,
                    });
                }
                (Some(received), None) => {
                    stages.push((status.label(), status.tone(), Some(received), received))
                }
                (None, None) => {}
            }
        }
        for (i, &(label, tone, weight_in, weight_out)) in stages.iter().enumerate() {
            points.push(WeightPoint { stage: label.to_owned(), tone, weight_kg: weight_out });
            if let (Some(prev), Some(weight_in)) = (i.checked_sub(1).map(|j| &stages[j]), weight_in) {
                let loss = prev.3 - weight_in;
                handling_losses.push(HandlingLoss {
                    from: prev.0.to_owned(),
                    to: label.to_owned(),
                    from_weight_kg: prev.3,
                    to_weight_kg: weight_in,
                    loss_kg: loss,
                    loss_ratio: loss / prev.3,
                });
            }
        }
        let overall_yield = match (state.current_weight_kg, state.inbound_net_weight_kg) {
            (Some(current), Some(inbound)) => Some(current / inbound),
            _ => None,
        };
        let mut step_durations = Vec::new();
        let mut previous = state.created_at.map(|at| StepDay::of(None, at));
        for event_type in EventType::STEPS.iter().skip(1) {
            if let Some(at) = s.recorded_at(*event_type) {
                let day = StepDay::of(s.happened_on(*event_type), at);
                if let Some(from) = previous {
                    step_durations.push(StepDuration {
                        step: event_type.target_status().map_or("", |st| st.step_label()).to_owned(),
                        from,
                        to: day,
                        days: (day.date.0 - from.date.0).num_days(),
                    });
                }
                previous = Some(day);
            }
        }
        MassBalance {
            points,
            step_yields,
            handling_losses,
            overall_yield,
            step_durations,
            seconds_in_current_status: ((now.millis() - state.status_since.millis()) / 1000).max(0),
        }
    }
}
