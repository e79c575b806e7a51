import { describe, expect, it } from "vitest";
import type { Restatement } from "../bindings";
import { inFolder, isoDay, quarterOf, quarters, restatement } from "./period";

describe("quarters", () => {
  it("gives a day's quarter with its last day", () => {
    expect(quarterOf(new Date(2026, 1, 17))).toEqual({ label: "2026 Q1", from: "2026-01-01", to: "2026-03-31" });
    expect(quarterOf(new Date(2026, 11, 3))).toEqual({ label: "2026 Q4", from: "2026-10-01", to: "2026-12-31" });
    expect(quarterOf(new Date(2024, 4, 1)).to).toBe("2024-06-30");
  });

  it("lists the latest quarters across a year's turn, newest first", () => {
    expect(quarters(new Date(2027, 1, 2), 3).map((q) => q.label)).toEqual(["2027 Q1", "2026 Q4", "2026 Q3"]);
    expect(quarters(new Date(2026, 6, 31), 2).map((q) => q.from)).toEqual(["2026-07-01", "2026-04-01"]);
  });
});

describe("isoDay", () => {
  it("writes the local calendar day", () => {
    expect(isoDay(new Date(2026, 0, 5, 23, 59))).toBe("2026-01-05");
  });
});

describe("inFolder", () => {
  it("joins with the folder's own separator", () => {
    expect(inFolder("/home/ana/Downloads", "a.pdf")).toBe("/home/ana/Downloads/a.pdf");
    expect(inFolder("C:\\Users\\Ana\\Downloads", "a.pdf")).toBe("C:\\Users\\Ana\\Downloads\\a.pdf");
    expect(inFolder("/tmp/", "a.pdf")).toBe("/tmp/a.pdf");
    expect(inFolder("", "a.pdf")).toBe("a.pdf");
  });
});

describe("restatement", () => {
  const of = (amendment: Partial<Restatement["amendment"]>): Restatement => ({
    campaign: 0,
    step: "Granulation",
    amendment: {
      eventId: "evt_01KGE3H9000000000000000000",
      recordedAt: "2026-04-03T08:15:00.000Z",
      kind: "corrected",
      step: "granulation_complete",
      day: "2026-03-31",
      reason: "",
      ...amendment,
    },
  });

  it("says a late entry was recorded late, and for which day", () => {
    const text = restatement(of({ kind: "recordedLate" }), "en-GB");
    expect(text).toMatch(/^Granulation recorded late on 3 Apr 2026.*, for 31 Mar 2026$/);
  });

  it("says which day a correction moved the step from, and why", () => {
    const text = restatement(of({ day: "2026-04-01", movedFrom: "2026-03-31", reason: "Ticket dated wrong" }), "de-DE");
    expect(text).toContain("Granulation corrected on ");
    expect(text).toContain("(its day moved from 31.03.2026 to 01.04.2026): Ticket dated wrong");
  });
});
