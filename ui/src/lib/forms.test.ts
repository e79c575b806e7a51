import { describe, expect, it } from "vitest";
import type { CommandError } from "../bindings";
import { displayValue, emptyValues, filled, inputFor, numberInput, numberText, problemsByField, valueToInput } from "./forms";

describe("entry forms", () => {
  it("chooses inputs by field kind", () => {
    expect(inputFor("weight")).toEqual({ type: "text", inputmode: "decimal" });
    expect(inputFor("quantity")).toEqual({ type: "text", inputmode: "numeric" });
    expect(inputFor("date", new Date(2026, 5, 15, 23, 30))).toEqual({ type: "date", max: "2026-06-15" });
    expect(inputFor("text").type).toBe("text");
  });

  it("starts empty and sends only what was filled in", () => {
    const values = emptyValues([
      { name: "netWeightKg", kind: "weight", required: true, label: "Net weight", long: false },
      { name: "carrier", kind: "text", required: false, label: "Carrier", long: false },
    ]);
    expect(values).toEqual({ netWeightKg: "", carrier: "" });
    expect(filled({ ...values, netWeightKg: "950" })).toEqual({ netWeightKg: "950" });
    // Number inputs bind numbers, and null when emptied.
    expect(filled({ netWeightKg: 950.5, quantity: null, carrier: " " })).toEqual({ netWeightKg: "950.5" });
  });

  it("shows stored values as input text", () => {
    expect(valueToInput(950.5)).toBe("950.5");
    expect(valueToInput("2026-03-01")).toBe("2026-03-01");
    expect(valueToInput(null)).toBe("");
  });

  it("puts each refusal beside its input and the rest in a banner", () => {
    const error: CommandError = {
      kind: "refused",
      message: "…",
      problems: [
        { field: "netWeightKg", message: "must not exceed the gross weight (1000)" },
        { field: "changes.outputWeightKg.now", message: "expected a weight" },
        { field: "legoCampaignCode", message: "required" },
      ],
    };
    const byField = problemsByField(error, ["netWeightKg", "now"]);
    expect(byField.netWeightKg).toBe("must not exceed the gross weight (1000)");
    expect(byField.now).toBe("expected a weight");
    expect(byField[""]).toBe("legoCampaignCode: required");
    // A form with an input per field takes a correction's refusal at that field.
    expect(problemsByField(error, ["outputWeightKg"]).outputWeightKg).toBe("expected a weight");
  });

  it("shows a refusal of the step itself as a banner in its own words", () => {
    const message = "site RGE may not record Extrusion: the sync server's site policy lets site RGE record …";
    const error: CommandError = { kind: "refused", message, problems: [{ field: "eventType", message }] };
    expect(problemsByField(error, ["ticketNumber"])).toEqual({ "": message });
    expect(problemsByField(error, ["ticketNumber", "eventType"])).toEqual({ eventType: message });
  });

  it("shows a refusal without a field as a banner", () => {
    const error: CommandError = { kind: "refused", message: "cannot record GranulationCompleted: …", problems: [] };
    expect(problemsByField(error, ["x"])).toEqual({ "": "cannot record GranulationCompleted: …" });
  });
});

describe("numbers as coordinators type them", () => {
  it("reads the decimal comma of Danish and German laptops", () => {
    for (const loc of ["da-DK", "de-DE"]) {
      expect(numberText("3360,2", loc)).toBe("3360.2");
      expect(numberText("3.360,2", loc)).toBe("3360.2");
      expect(numberText(" 950 ", loc)).toBe("950");
      // The keypad's dot, as a decimal point, reaches the check as typed (and reads right there).
      expect(numberText("3360.2", loc)).toBe("3360.2");
    }
    expect(numberText("3 360,2", "da-DK")).toBe("3360.2");
  });

  it("reads English grouping, and never turns a misplaced separator into another number", () => {
    expect(numberText("3,360.2", "en-GB")).toBe("3360.2");
    expect(numberText("3360.2", "en-GB")).toBe("3360.2");
    // "3360,2" is not an English number: it goes to the check as typed and is refused by name.
    expect(numberText("3360,2", "en-GB")).toBe("3360,2");
    expect(numberText("3,36", "en-GB")).toBe("3,36");
    expect(numberText("1,2,3", "da-DK")).toBe("1,2,3");
    expect(numberText("twelve", "da-DK")).toBe("twelve");
  });

  it("sends a typed optional weight that cannot be read instead of dropping it", () => {
    const fields = [
      { name: "netWeightKg", kind: "weight", required: true, label: "Net weight", long: false },
      { name: "estimatedAbsKg", kind: "weight", required: false, label: "Estimated ABS", long: false },
      { name: "carrier", kind: "text", required: true, label: "Carrier", long: false },
    ] as const;
    const sent = filled({ netWeightKg: "3360,2", estimatedAbsKg: "12,5,0", carrier: "DHL, Freight" }, [...fields], "da-DK");
    expect(sent).toEqual({ netWeightKg: "3360.2", estimatedAbsKg: "12,5,0", carrier: "DHL, Freight" });
  });

  it("shows stored numbers the way the laptop types them", () => {
    expect(numberInput(3360.2, "da-DK")).toBe("3360,2");
    expect(numberInput(3360.2, "en-GB")).toBe("3360.2");
    expect(displayValue(6.5, "hours")).toMatch(/^6[.,]5 h$/);
    expect(displayValue(null, "weight")).toBe("—");
  });
});
