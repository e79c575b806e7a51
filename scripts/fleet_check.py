#!/usr/bin/env python3
"""Checks a fleet run of Pluto's sync, independently of the sync's code.

Reads the sync server's whole log over HTTP (GET /v1/events, page by page), every laptop's
export (one JSON event per line) and what each laptop was told is on the server ("device id",
tab, "every entry up to this sequence number"), and proves:

- the server's positions run 1, 2, 3, ... without a gap or a repeat;
- no entry appears twice on the server, by id or by (device, sequence number);
- every entry a laptop was told is on the server is there (sequence numbers 1..N of its device);
- every laptop holds exactly the server's log, each entry with the same content.

Exits 1 with the reasons when any of it fails. Only the Python standard library is used.
"""

import argparse
import json
import pathlib
import sys
import urllib.request


def server_log(base, token):
    """Every event of the server's log, in position order, with its position."""
    events, after = [], 0
    while True:
        request = urllib.request.Request(
            f"{base}/v1/events?after={after}&limit=1000",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            page = json.load(answer)
        events.extend((e["position"], e["event"]) for e in page["events"])
        if not page["hasMore"]:
            return events
        after = page["nextAfter"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="the sync server's address")
    parser.add_argument("--token", required=True, help="a token that may read the log")
    parser.add_argument("--exports", required=True, type=pathlib.Path, help="folder of the laptops' exports (*.jsonl)")
    parser.add_argument("--told", required=True, type=pathlib.Path, help="device id TAB sequence number, per line")
    args = parser.parse_args()
    problems = []

    log = server_log(args.server.rstrip("/"), args.token)
    positions = [p for p, _ in log]
    if positions != list(range(1, len(log) + 1)):
        problems.append("the server's positions are not 1..N without a gap")
    by_id = {}
    seqs = {}
    for _, event in log:
        if event["id"] in by_id:
            problems.append(f"{event['id']} is on the server twice")
        by_id[event["id"]] = event
        key = (event["deviceId"], event["deviceSeq"])
        if key in seqs:
            problems.append(f"device {key[0]} number {key[1]} is on the server twice")
        seqs[key] = event["id"]

    for line in args.told.read_text().splitlines():
        device, told = line.split("\t")
        missing = [n for n in range(1, int(told) + 1) if (device, n) not in seqs]
        if missing:
            problems.append(f"{device} was told its entries up to {told} are on the server; missing: {missing[:10]}")

    exports = sorted(args.exports.glob("*.jsonl"))
    if not exports:
        problems.append(f"no exports in {args.exports}")
    for export in exports:
        held = {}
        for line in export.read_text(encoding="utf-8").splitlines():
            if line.strip():
                event = json.loads(line)
                if event["id"] in held:
                    problems.append(f"{export.name} holds {event['id']} twice")
                held[event["id"]] = event
        for event_id in sorted(set(by_id) - set(held)):
            problems.append(f"{export.name} lacks {event_id}, which the server holds")
        for event_id in sorted(set(held) - set(by_id)):
            problems.append(f"{export.name} holds {event_id}, which the server does not")
        for event_id in sorted(set(held) & set(by_id)):
            if held[event_id] != by_id[event_id]:
                problems.append(f"{export.name} holds {event_id} with other content than the server")

    for problem in problems[:50]:
        print(f"fleet check: {problem}", file=sys.stderr)
    if problems:
        print(f"fleet check: FAILED, {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(
        f"fleet check: ok: {len(log)} entries on the server, positions 1..{len(log)} without a gap, "
        f"none twice; {len(exports)} laptops hold exactly them; every entry a laptop was told is on "
        "the server is there"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
