import type { SyncStatus } from "../bindings";
import { ago, count } from "./format";

/** After this many days without a successful sync the indicator turns red. */
export const STALE_SYNC_DAYS = 3;

/** What the status bar says about sync: the state, how it reads (colour and symbol), what waits,
 *  and why the last attempt failed, in the words the sync gave (shown, not only as a tooltip). */
export type SyncWords = { state: string; tone: "ok" | "warn" | "bad"; waiting: string; reason: string | null };

const entries = (n: number) => `${count(n)} ${n === 1 ? "entry" : "entries"}`;

/** The sync indicator in words: green only when everything recorded here is on the server, red
 *  while the server refuses any of it (a refused entry is on no server, however online). */
export function syncWords(s: SyncStatus, now: Date = new Date()): SyncWords {
  const { pending, rejected } = s.state;
  const onlyHere = `${entries(pending)} only on this laptop`;
  if (!s.configured) {
    return { state: "Local only", tone: "warn", waiting: pending === 0 ? "No sync server set up" : onlyHere, reason: null };
  }
  const last = s.state.lastSuccessAt;
  const daysSince = last ? (now.getTime() - new Date(last).getTime()) / 86_400_000 : null;
  const onServer = rejected > 0 ? "everything else on the server" : "All on the server";
  const waiting = pending === 0 ? onServer : `${onlyHere}, ${last ? `last sent ${ago(last, now)}` : "never sent"}`;
  const refused = rejected > 0 ? `${entries(rejected)} refused by the server` : null;
  const reason = s.state.lastError === null ? null : shortReason(s.state.lastError);
  if (daysSince !== null && daysSince >= STALE_SYNC_DAYS) {
    return { state: `No sync for ${Math.floor(daysSince)} days`, tone: "bad", waiting, reason };
  }
  if (s.online === null) return { state: "Connecting…", tone: refused ? "bad" : "warn", waiting, reason: null };
  if (reason) return { state: s.online ? "Sync problem" : "Offline", tone: s.online || refused ? "bad" : "warn", waiting, reason };
  if (refused) return { state: refused, tone: "bad", waiting, reason: null };
  return { state: "Online", tone: pending === 0 ? "ok" : "warn", waiting, reason: null };
}

const UNREACHABLE = /^cannot reach the sync server at \S+: (.*?)(?:; your entries are kept.*)?$/s;

/** What the status bar shows of why a sync failed: for an unreachable server only why (the state
 *  already says Offline, and the settings name the server), so it fits beside the state; any
 *  other reason whole. The full message stays in the tooltip. */
export function shortReason(message: string): string {
  return UNREACHABLE.exec(message)?.[1] ?? message;
}
