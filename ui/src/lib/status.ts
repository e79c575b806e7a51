// How statuses look: a colour, and a symbol and words so that colour is never the only cue.
import type { CampaignStatus } from "../bindings";

export type Tone = "start" | "mba" | "gate" | "rge" | "done";

/** Which part of the chain a status belongs to. */
export function toneOf(status: CampaignStatus | string): Tone {
  switch (status) {
    case "created":
      return "start";
    case "inbound_shipment_recorded":
    case "granulation_complete":
    case "metal_removal_complete":
    case "polymer_purification_complete":
      return "mba";
    case "extrusion_complete":
      return "gate";
    case "echa_approved":
    case "transferred_to_rge":
    case "manufacturing_started":
    case "manufacturing_complete":
      return "rge";
    default:
      return "done";
  }
}

/** A symbol per tone, distinct in shape. */
export const symbol: Record<Tone, string> = { start: "○", mba: "◆", gate: "▲", rge: "■", done: "✔" };

/** What each tone means, for the legend and screen readers. */
export const toneWords: Record<Tone, string> = {
  start: "created",
  mba: "at MBA",
  gate: "awaiting ECHA",
  rge: "approved / at RGE",
  done: "back at LEGO",
};

/** Every status in order with its label, for the filter. */
export const STATUSES: { value: CampaignStatus; label: string }[] = [
  { value: "created", label: "Created" },
  { value: "inbound_shipment_recorded", label: "Inbound shipment recorded" },
  { value: "granulation_complete", label: "Granulation complete" },
  { value: "metal_removal_complete", label: "Metal removal complete" },
  { value: "polymer_purification_complete", label: "Purification complete" },
  { value: "extrusion_complete", label: "Extrusion complete (awaiting ECHA)" },
  { value: "echa_approved", label: "ECHA approved" },
  { value: "transferred_to_rge", label: "Transferred to RGE" },
  { value: "manufacturing_started", label: "Manufacturing started" },
  { value: "manufacturing_complete", label: "Manufacturing complete" },
  { value: "returned_to_lego", label: "Returned to LEGO" },
  { value: "completed", label: "Completed" },
];

/** A status's label. */
export function statusLabel(status: string): string {
  return STATUSES.find((s) => s.value === status)?.label ?? status;
}
