import { describe, expect, it } from "vitest";
import { afterEach, vi } from "vitest";
import { ago, csvSeparatorFor, duration, instant, isoDate, kg, locale, localInputToInstant, percent, words } from "./format";

describe("formatting for the locale", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("falls back to the default locale when the OS reports none Intl knows (LANG=C)", () => {
    vi.stubGlobal("navigator", { language: "C" });
    expect(locale()).toBeUndefined();
    expect(() => kg(1234.5)).not.toThrow();
    vi.stubGlobal("navigator", { language: "da-DK" });
    expect(locale()).toBe("da-DK");
  });

  it("groups weights and keeps one decimal", () => {
    expect(kg(12345.67, "en-US")).toBe("12,345.7 kg");
    expect(kg(12345.67, "de-DE")).toBe("12.345,7 kg");
    expect(kg(null)).toBe("—");
  });

  it("shows yields as percentages", () => {
    expect(percent(0.9234, "en-US")).toBe("92.3%");
    expect(percent(null)).toBe("—");
    expect(percent(Number.NaN)).toBe("—");
  });

  it("shows an ISO date as the same calendar day in every time zone", () => {
    expect(isoDate("2026-03-01", "en-US")).toBe("Mar 1, 2026");
    expect(isoDate("not a date", "en-US")).toBe("not a date");
  });

  it("shows instants in local time", () => {
    expect(instant("2026-03-01T23:30:00.000Z", "en-GB", "Europe/Copenhagen")).toBe("2 Mar 2026, 00:30");
    expect(instant(null)).toBe("—");
  });

  it("writes durations with their two largest units", () => {
    expect(duration(40)).toBe("40 s");
    expect(duration(125)).toBe("2 min");
    expect(duration(7500)).toBe("2 h 5 min");
    expect(duration(3 * 86400 + 4 * 3600 + 59)).toBe("3 d 4 h");
    expect(duration(86400)).toBe("1 d");
  });

  it("says how long ago", () => {
    const now = new Date("2026-03-01T12:00:00Z");
    expect(ago("2026-03-01T11:59:30Z", now)).toBe("just now");
    expect(ago("2026-03-01T09:00:00Z", now)).toBe("3 h ago");
    expect(ago("2026-02-26T10:00:00Z", now)).toBe("3 d ago");
  });

  it("turns the as-of picker's local minute into the end of that minute in UTC", () => {
    const iso = localInputToInstant("2026-03-01T10:15");
    expect(iso).not.toBeNull();
    const d = new Date(iso!);
    // The input shows 10:15:00 and writes its value without the zero seconds: the second meant
    // is :00, not the whole minute (an entry at 10:15:30 is after it).
    expect([d.getMinutes(), d.getSeconds(), d.getMilliseconds()]).toEqual([15, 0, 999]);
    const precise = new Date(localInputToInstant("2026-03-01T10:15:07")!);
    expect([precise.getMinutes(), precise.getSeconds(), precise.getMilliseconds()]).toEqual([15, 7, 999]);
    expect(localInputToInstant("yesterday")).toBeNull();
  });

  it("puts names into words", () => {
    expect(words("skipped_steps")).toBe("Skipped steps");
    expect(words("netWeightKg")).toBe("Net weight kg");
  });

  it("picks the CSV separator Excel splits on for the locale", () => {
    expect(csvSeparatorFor("da-DK")).toBe("Semicolon");
    expect(csvSeparatorFor("de-DE")).toBe("Semicolon");
    expect(csvSeparatorFor("en-GB")).toBe("Comma");
    expect(csvSeparatorFor("en-US")).toBe("Comma");
  });
});
