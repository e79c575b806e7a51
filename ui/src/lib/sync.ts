import type { SyncStatus } from "../bindings";
import { ago, count } from "./format";

/** After this many days without a successful sync the indicator turns red. */
export const STALE_SYNC_DAYS = 3;

/** What the status bar says about sync: the state, how it reads (colour and symbol), and what waits. */
export type SyncWords = { state: string; tone: "ok" | "warn" | "bad"; waiting: string };

const entries = (n: number) => `${count(n)} ${n === 1 ? "entry" : "entries"}`;

/** The sync indicator in words: green only when everything recorded here is on the server. */
export function syncWords(s: SyncStatus, now: Date = new Date()): SyncWords {
  const pending = s.state.pending;
  const onlyHere = `${entries(pending)} only on this laptop`;
  if (!s.configured) {
    return { state: "Local only", tone: "warn", waiting: pending === 0 ? "No sync server set up" : onlyHere };
  }
  const last = s.state.lastSuccessAt;
  const daysSince = last ? (now.getTime() - new Date(last).getTime()) / 86_400_000 : null;
  const waiting = pending === 0 ? "All on the server" : `${onlyHere}, ${last ? `last sent ${ago(last, now)}` : "never sent"}`;
  if (daysSince !== null && daysSince >= STALE_SYNC_DAYS) {
    return { state: `No sync for ${Math.floor(daysSince)} days`, tone: "bad", waiting };
  }
  if (s.online === null) return { state: "Connecting…", tone: "warn", waiting };
  if (s.state.lastError) return { state: s.online ? "Sync problem" : "Offline", tone: s.online ? "bad" : "warn", waiting };
  return { state: "Online", tone: pending === 0 ? "ok" : "warn", waiting };
}
