// Form logic shared by every entry form: which input suits a field, what a form starts with,
// and which refusal goes beside which input. Validation itself happens in Rust.
import type { CommandError, FieldKind, FieldSpec, Value } from "../bindings";

/** The HTML input that suits a field kind. */
export function inputFor(kind: FieldKind): { type: string; step?: string; min?: string; inputmode?: "decimal" | "numeric" } {
  switch (kind) {
    case "weight":
    case "hours":
      return { type: "number", step: "any", min: "0", inputmode: "decimal" };
    case "quantity":
      return { type: "number", step: "1", min: "1", inputmode: "numeric" };
    case "date":
      return { type: "date" };
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

/** A stored value as the text an input holds (null → ""). */
export function valueToInput(value: Value | undefined): string {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** What an input holds as text: number inputs bind numbers (or null when empty). */
export function inputText(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

/** The text of every input, without fields left empty, for a command. */
export function filled(values: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values)
      .map(([k, v]) => [k, inputText(v)] as const)
      .filter(([, v]) => v.trim() !== ""),
  );
}

/** Refusals keyed by the input they belong to. A correction's `changes.<field>.now` belongs to
 *  the "now" input; anything not matching an input is returned under "" for a banner. */
export function problemsByField(error: CommandError | null, inputs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!error) return out;
  const add = (key: string, message: string) => {
    out[key] = out[key] ? `${out[key]}; ${message}` : message;
  };
  for (const p of error.problems) {
    const field = /^changes\.[^.]+\.now$/.test(p.field) ? "now" : p.field;
    if (inputs.includes(field)) add(field, p.message);
    // A refusal of the step itself (order, gate, site policy) is the whole entry's: no prefix.
    else if (field === "eventType") add("", p.message);
    else add("", `${p.field}: ${p.message}`);
  }
  if (error.problems.length === 0) add("", error.message);
  return out;
}
