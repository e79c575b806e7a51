import { describe, expect, it } from "vitest";
import type { CommandError } from "../bindings";
import { emptyValues, filled, inputFor, problemsByField, valueToInput } from "./forms";

describe("entry forms", () => {
  it("chooses inputs by field kind", () => {
    expect(inputFor("weight")).toMatchObject({ type: "number", step: "any" });
    expect(inputFor("quantity")).toMatchObject({ type: "number", step: "1" });
    expect(inputFor("date").type).toBe("date");
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
        { field: "netWeightKg", message: "must not exceed grossWeightKg (1000)" },
        { field: "changes.netWeightKg.now", message: "expected a weight" },
        { field: "legoCampaignCode", message: "required" },
      ],
    };
    const byField = problemsByField(error, ["netWeightKg", "now"]);
    expect(byField.netWeightKg).toBe("must not exceed grossWeightKg (1000)");
    expect(byField.now).toBe("expected a weight");
    expect(byField[""]).toBe("legoCampaignCode: required");
  });

  it("shows a refusal of the step itself as a banner in its own words", () => {
    const message = "site RGE may not record ExtrusionCompleted: the sync server's site policy lets site RGE record …";
    const error: CommandError = { kind: "refused", message, problems: [{ field: "eventType", message }] };
    expect(problemsByField(error, ["ticketNumber"])).toEqual({ "": message });
    expect(problemsByField(error, ["ticketNumber", "eventType"])).toEqual({ eventType: message });
  });

  it("shows a refusal without a field as a banner", () => {
    const error: CommandError = { kind: "refused", message: "cannot record GranulationCompleted: …", problems: [] };
    expect(problemsByField(error, ["x"])).toEqual({ "": "cannot record GranulationCompleted: …" });
  });
});
