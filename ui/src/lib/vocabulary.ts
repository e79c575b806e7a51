// The domain's words, order and tones, as Rust sends them with the app's info: the UI keeps no
// copy of its own. `setVocabulary` runs before anything that names a status is shown.
import type { CampaignStatus, MaterialTerm, StatusTerm, Tone, Vocabulary } from "../bindings";

let current: Vocabulary = { statuses: [], tones: [], materials: [] };

/** Adopts the vocabulary the app's info carries. */
export function setVocabulary(vocabulary: Vocabulary): void {
  current = vocabulary;
}

/** Every status, in progression order. */
export function statuses(): StatusTerm[] {
  return current.statuses;
}

/** Every material, in the order forms offer them. */
export function materials(): MaterialTerm[] {
  return current.materials;
}

/** A status's name as lists show it. */
export function statusLabel(status: CampaignStatus): string {
  return current.statuses.find((s) => s.status === status)?.label ?? status;
}

/** Which part of the chain a status belongs to. */
export function toneOf(status: CampaignStatus): Tone {
  return current.statuses.find((s) => s.status === status)?.tone ?? "done";
}

/** A tone's symbol, distinct in shape, so that colour is never the only cue. */
export function symbol(tone: Tone): string {
  return current.tones.find((t) => t.tone === tone)?.symbol ?? "";
}

/** What a tone means, for the legend and screen readers. */
export function toneWords(tone: Tone): string {
  return current.tones.find((t) => t.tone === tone)?.words ?? tone;
}
