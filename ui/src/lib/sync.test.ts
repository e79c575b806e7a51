import { describe, expect, it } from "vitest";
import type { SyncStatus } from "../bindings";
import { shortReason, syncWords } from "./sync";

const now = new Date("2026-12-02T12:00:00Z");
function status(over: Partial<SyncStatus> = {}, state: Partial<SyncStatus["state"]> = {}): SyncStatus {
  return {
    configured: true,
    running: true,
    serverUrl: "https://sync.example",
    caFile: null,
    online: true,
    deviceId: "dev_01M8VC1AAHJ2P562RF7Z0JWS1C",
    ...over,
    state: {
      pending: 0,
      rejected: 0,
      highestLocalSeq: 3,
      serverContiguousUpTo: 3,
      cursor: 10,
      lastSuccessAt: "2026-12-02T11:59:30Z",
      lastAttemptAt: "2026-12-02T11:59:30Z",
      lastError: null,
      pullRefused: 0,
      serverNewerTypes: [],
      newerEntries: 0,
      lastRewind: null,
      ...state,
    },
  };
}

describe("the sync indicator", () => {
  it("is green only when everything is on the server", () => {
    expect(syncWords(status(), now)).toEqual({ state: "Online", tone: "ok", waiting: "All on the server", reason: null });
  });

  it("is amber while entries wait, saying how many and since when", () => {
    const words = syncWords(status({}, { pending: 3, lastSuccessAt: "2026-11-30T12:00:00Z" }), now);
    expect(words.tone).toBe("warn");
    expect(words.waiting).toBe("3 entries only on this laptop, last sent 2 d ago");
  });

  it("is amber without a server, never green", () => {
    const words = syncWords(status({ configured: false, online: null }, { pending: 13, lastSuccessAt: null }), now);
    expect(words).toEqual({ state: "Local only", tone: "warn", waiting: "13 entries only on this laptop", reason: null });
  });

  it("turns red after days without a sync", () => {
    const words = syncWords(status({ online: false }, { pending: 1, lastSuccessAt: "2026-11-28T08:00:00Z", lastError: "offline" }), now);
    expect(words.state).toBe("No sync for 4 days");
    expect(words.tone).toBe("bad");
  });

  it("says offline in amber, and a refusal by the server in red", () => {
    expect(syncWords(status({ online: false }, { lastError: "connection refused" }), now).tone).toBe("warn");
    expect(syncWords(status({ online: true }, { lastError: "401" }), now)).toMatchObject({ state: "Sync problem", tone: "bad" });
  });

  it("is never green while the server refuses entries, and never says all is on it", () => {
    const words = syncWords(status({}, { rejected: 5 }), now);
    expect(words).toEqual({ state: "5 entries refused by the server", tone: "bad", waiting: "everything else on the server", reason: null });
    expect(syncWords(status({ online: false }, { rejected: 1, lastError: "cannot reach the sync server" }), now).tone).toBe("bad");
  });

  it("gives why a failed attempt failed, to show beside the state", () => {
    const why = "nothing answers at that address: the sync server is not running there, or the address is wrong";
    const message = `cannot reach the sync server at http://127.0.0.1:40619: ${why}; your entries are kept and will be sent when it is reachable`;
    expect(syncWords(status({ online: false }, { lastError: message }), now)).toMatchObject({ state: "Offline", reason: why });
    const refused = "the sync server does not accept this laptop's device token (revoked); ask for a new token";
    expect(shortReason(refused)).toBe(refused);
  });
});
