// Form logic shared by every entry form: which input suits a field, what a form starts with,
// and which refusal goes beside which input. Validation itself happens in Rust.
import type { CommandError, FieldKind, FieldSpec, Value } from "../bindings";
import { count, isoDate, kg, locale } from "./format";

/** The HTML input that suits a field kind. Numbers are text inputs: a browser's number input
 *  empties what it cannot read ("3360,2" on some builds), and an emptied optional field would be
 *  saved as missing; as text, what was typed always reaches the check and is refused by name. */
export function inputFor(kind: FieldKind, now: Date = new Date()): { type: string; inputmode?: "decimal" | "numeric"; max?: string } {
  switch (kind) {
    case "weight":
    case "hours":
      return { type: "text", inputmode: "decimal" };
    case "quantity":
      return { type: "text", inputmode: "numeric" };
    case "date":
      // Every date is a day something happened: the picker offers none after today.
      return { type: "date", max: localToday(now) };
    default:
      return { type: "text" };
  }
}

/** The unit shown after an input. */
export function unitOf(kind: FieldKind): string {
  return kind === "weight" ? "kg" : kind === "hours" ? "h" : kind === "quantity" ? "pcs" : "";
}

/** A form's starting values: every field empty. */
export function emptyValues(fields: FieldSpec[]): Record<string, string> {
  return Object.fromEntries(fields.map((f) => [f.name, ""]));
}

/** Today on this laptop as an ISO date (the local calendar day, not UTC's). */
export function localToday(now: Date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** A form's starting values: the defaults the store carries forward (as this locale types them),
 *  today in every required date, the rest empty. */
export function startValues(fields: FieldSpec[], defaults: Partial<Record<string, Value>> = {}, now: Date = new Date(), loc = locale()): Record<string, string> {
  const start = emptyValues(fields);
  for (const f of fields) {
    const d = defaults[f.name];
    if (typeof d === "number" && NUMERIC.includes(f.kind)) start[f.name] = numberInput(d, loc);
    else if (typeof d === "string") start[f.name] = d;
    else if (f.kind === "date" && f.required) start[f.name] = localToday(now);
  }
  return start;
}

/** The process loss a step's starting and output weights give (what the step itself lost, not
 *  the handling loss between steps), while they are typed; null until both read as numbers. */
export function liveLoss(values: Record<string, unknown>, loc = locale()): { kg: number; share: number } | null {
  const read = (v: unknown) => {
    const text = numberText(inputText(v), loc);
    return /^\d+(\.\d+)?$/.test(text) ? Number(text) : null;
  };
  const start = read(values.startingWeightKg);
  const output = read(values.outputWeightKg);
  if (start === null || output === null || start <= 0) return null;
  return { kg: start - output, share: (start - output) / start };
}

/** A stored value as the text an input holds (null → ""). */
export function valueToInput(value: Value | undefined): string {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** What an input holds as text: number inputs bind numbers (or null when empty). */
export function inputText(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

const NUMERIC: FieldKind[] = ["weight", "hours", "quantity"];

/** A number as typed on this laptop ("3360,2" in Danish or German, "3,360.2" or "3360.2" in
 *  English) in the form the checks read ("3360.2"). Text it cannot read as a number of the
 *  locale comes back unchanged, so the check refuses it by name: nothing typed is ever dropped. */
export function numberText(text: string, loc = locale()): string {
  const t = text.trim().replace(/[\s\u00a0\u202f]/g, "");
  const parts = new Intl.NumberFormat(loc).formatToParts(12345.6);
  const group = parts.find((p) => p.type === "group")?.value.replace(/[\s\u00a0\u202f]/g, "") ?? "";
  const decimal = parts.find((p) => p.type === "decimal")?.value ?? ".";
  const [whole = "", fraction, ...more] = t.split(decimal);
  if (more.length > 0) return text;
  let digits = whole;
  if (group !== "" && whole.includes(group)) {
    const grouped = whole.split(group);
    if (!/^\d{1,3}$/.test(grouped[0] ?? "") || grouped.slice(1).some((g) => !/^\d{3}$/.test(g))) return text;
    digits = grouped.join("");
  }
  const normal = fraction === undefined ? digits : `${digits}.${fraction}`;
  return /^\d+(\.\d+)?$/.test(normal) ? normal : text;
}

/** A stored number as a person of this locale types it (decimal comma in Danish and German). */
export function numberInput(value: number, loc = locale()): string {
  return new Intl.NumberFormat(loc, { useGrouping: false, maximumFractionDigits: 6 }).format(value);
}

/** The text of every input, without fields left empty, for a command; numbers as the checks
 *  read them (see `numberText`). */
export function filled(values: Record<string, unknown>, fields: FieldSpec[] = [], loc = locale()): Record<string, string> {
  const kinds = new Map(fields.map((f) => [f.name, f.kind]));
  return Object.fromEntries(
    Object.entries(values)
      .map(([k, v]) => {
        const text = inputText(v);
        const kind = kinds.get(k);
        return [k, kind && NUMERIC.includes(kind) ? numberText(text, loc) : text] as const;
      })
      .filter(([, v]) => v.trim() !== ""),
  );
}

/** A value as the history and the printable record show it: weights, counts and dates in the
 *  locale's form with their unit, text as it is. */
export function displayValue(value: Value | undefined, kind?: FieldKind): string {
  if (value === null || value === undefined) return "—";
  if (kind === "weight" && typeof value === "number") return kg(value);
  if (kind === "quantity" && typeof value === "number") return `${count(value)} pcs`;
  if (kind === "date" && typeof value === "string") return isoDate(value);
  if (kind === "hours" && typeof value === "number") return `${numberInput(value)} h`;
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Refusals keyed by the input they belong to. A correction's `changes.<field>.now` belongs to
 *  that field's input (or a single "now" input); anything not matching an input is returned under
 *  "" for a banner. */
export function problemsByField(error: CommandError | null, inputs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!error) return out;
  const add = (key: string, message: string) => {
    out[key] = out[key] ? `${out[key]}; ${message}` : message;
  };
  for (const p of error.problems) {
    const changed = /^changes\.([^.]+)\.now$/.exec(p.field)?.[1];
    const field = changed === undefined ? p.field : inputs.includes(changed) ? changed : "now";
    if (inputs.includes(field)) add(field, p.message);
    // A refusal of the step itself (order, gate, site policy) is the whole entry's: no prefix.
    else if (field === "eventType") add("", p.message);
    else add("", `${p.field}: ${p.message}`);
  }
  if (error.problems.length === 0) add("", error.message);
  return out;
}
