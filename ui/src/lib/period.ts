// Calendar quarters for the period report's presets, as ISO days (YYYY-MM-DD), counted in the
// laptop's own calendar; and what restated a period, in words.
import type { Restatement } from "../bindings";
import { instant, isoDate, locale } from "./format";

/** A quarter: its label and its first and last day. */
export type Quarter = { label: string; from: string; to: string };

const iso = (y: number, m: number, d: number) => `${y}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;

/** A day as ISO `YYYY-MM-DD`, in the laptop's own calendar (not UTC). */
export function isoDay(day: Date): string {
  return iso(day.getFullYear(), day.getMonth() + 1, day.getDate());
}

/** The quarter that holds `day`. */
export function quarterOf(day: Date): Quarter {
  const y = day.getFullYear();
  const q = Math.floor(day.getMonth() / 3) + 1;
  const lastMonth = q * 3;
  // Day 0 of the next month is the last day of this one.
  const lastDay = new Date(y, lastMonth, 0).getDate();
  return { label: `${y} Q${q}`, from: iso(y, lastMonth - 2, 1), to: iso(y, lastMonth, lastDay) };
}

/** The `n` quarters up to and including the one that holds `today`, newest first. */
export function quarters(today: Date, n: number): Quarter[] {
  const first = Math.floor(today.getMonth() / 3) * 3;
  // Date counts a negative month back into the years before.
  return Array.from({ length: n }, (_, i) => quarterOf(new Date(today.getFullYear(), first - 3 * i, 1)));
}

/** `name` in the folder `dir`, joined with the separator the folder's path already uses. */
export function inFolder(dir: string, name: string): string {
  if (!dir) return name;
  const sep = dir.includes("\\") && !dir.includes("/") ? "\\" : "/";
  return dir.endsWith(sep) ? `${dir}${name}` : `${dir}${sep}${name}`;
}

/** What restated a closed period, in words: the step and what happened to it, when, and why
 *  ("Granulation recorded late on 3 Apr 2026, 10:15, for 31 Mar 2026"). */
export function restatement(r: Restatement, loc = locale()): string {
  const a = r.amendment;
  const what = a.kind === "recordedLate" ? "recorded late" : a.kind;
  let text = `${r.step} ${what} on ${instant(a.recordedAt, loc)}`;
  if (a.kind === "recordedLate") text += `, for ${isoDate(a.day, loc)}`;
  if (a.movedFrom) text += ` (its day moved from ${isoDate(a.movedFrom, loc)} to ${isoDate(a.day, loc)})`;
  return a.reason ? `${text}: ${a.reason}` : text;
}
