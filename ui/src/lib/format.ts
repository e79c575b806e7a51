// Display formatting. Values are stored as the spec says (ISO dates, UTC instants, kg as
// numbers); only what is shown follows the OS locale.

/** The OS locale as the window reports it; `undefined` (the runtime's default) when it is not a
 *  language tag Intl accepts, as with "C" on a system without locales installed. */
export function locale(): string | undefined {
  const tag = typeof navigator === "undefined" ? undefined : navigator.language;
  if (!tag) return undefined;
  try {
    return Intl.NumberFormat.supportedLocalesOf([tag]).length > 0 ? tag : undefined;
  } catch {
    return undefined;
  }
}

/** The CSV separator a spreadsheet on this locale splits on: `;` where the decimal mark is a
 *  comma (Danish, German), `,` elsewhere. */
export function csvSeparatorFor(loc = locale()): "Comma" | "Semicolon" {
  return new Intl.NumberFormat(loc).format(1.5).includes(",") ? "Semicolon" : "Comma";
}

/** A weight in kg, grouped for the locale: "12,345.6 kg". Empty for a missing value. */
export function kg(value: number | null | undefined, loc = locale()): string {
  if (value === null || value === undefined) return "—";
  return `${new Intl.NumberFormat(loc, { maximumFractionDigits: 1 }).format(value)} kg`;
}

/** A ratio as a percentage with one decimal: 0.9234 → "92.3 %". */
export function percent(ratio: number | null | undefined, loc = locale()): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return "—";
  return new Intl.NumberFormat(loc, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(ratio);
}

/** A whole number grouped for the locale. */
export function count(n: number, loc = locale()): string {
  return new Intl.NumberFormat(loc, { maximumFractionDigits: 0 }).format(n);
}

/** An ISO calendar date (YYYY-MM-DD) in the locale's medium form, read as a calendar day (no time zone shift). */
export function isoDate(value: string, loc = locale()): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return value;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return new Intl.DateTimeFormat(loc, { dateStyle: "medium", timeZone: "UTC" }).format(d);
}

/** A recorded instant (RFC 3339, UTC) in local time: date and time to the minute. */
export function instant(value: string | null | undefined, loc = locale(), timeZone?: string): string {
  if (!value) return "—";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return value;
  return new Intl.DateTimeFormat(loc, { dateStyle: "medium", timeStyle: "short", timeZone }).format(d);
}

/** A span of seconds in the two largest units: "3 d 4 h", "2 h 5 min", "40 s". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return h > 0 ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  if (m > 0) return `${m} min`;
  return `${s} s`;
}

/** How long ago an instant was, relative to `now`: "just now", "5 min ago", "3 d ago". */
export function ago(value: string, now: Date = new Date()): string {
  const seconds = (now.getTime() - new Date(value).getTime()) / 1000;
  if (!Number.isFinite(seconds)) return value;
  if (seconds < 60) return "just now";
  return `${duration(seconds).split(" ").slice(0, 2).join(" ")} ago`;
}

/** The value of a `datetime-local` input that shows seconds (`step="1"`) as an RFC 3339 UTC
 *  instant for the "as of" query: the end of the chosen second, so entries made during it are
 *  included. The input leaves the seconds out of its value when they are 00 (as HTML writes such
 *  times), while it shows them: then the second meant is :00, not the whole minute. */
export function localInputToInstant(value: string): string | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2})?$/.exec(value);
  if (!m) return null;
  const d = new Date(m[2] ? `${value}.999` : `${value}:00.999`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** A snake_case or camelCase name in words: "skipped_steps" → "Skipped steps". */
export function words(name: string): string {
  const spaced = name.replace(/_/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}
