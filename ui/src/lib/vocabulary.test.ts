import { describe, expect, it } from "vitest";
import { setVocabulary, statusLabel, symbol, toneOf, toneWords } from "./vocabulary";

describe("the vocabulary Rust sends", () => {
  it("names statuses and tones by what it was given, and keeps no words of its own", () => {
    expect(statusLabel("granulation_complete")).toBe("granulation_complete");
    setVocabulary({
      statuses: [{ status: "granulation_complete", label: "Granulation complete", stepLabel: "Granulation", tone: "mba" }],
      tones: [{ tone: "mba", symbol: "◆", words: "at MBA" }],
      materials: [{ material: "PI", label: "Post-Industrial" }],
    });
    expect(statusLabel("granulation_complete")).toBe("Granulation complete");
    expect(toneOf("granulation_complete")).toBe("mba");
    expect([symbol("mba"), toneWords("mba")]).toEqual(["◆", "at MBA"]);
  });
});
