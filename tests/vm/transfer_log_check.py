#!/usr/bin/python3
"""Checks ftp-algd's transfer log against the transfers a job made (tests/vm/transfers.sh).

usage: transfer_log_check.py LOG USER:COMMAND:NAME:MODE:SIZE:CLIENT [...]
Each expected transfer must have exactly one record with that user, command, name and mode
("active"/"passive"), final reply 226, a data connection whose inside side is CLIENT (the
address NAT sent it to, or that opened it), and conntrack's byte count in the file's direction
between SIZE and SIZE plus 5% plus 100 bytes per packet: accounting counts whole IP packets
(headers), and retransmissions too (a 3 MB RETR under TCG once showed 1.4% more than the file).
Prints one line per expected transfer; exit status 0 when all are there, 1 otherwise.
"""
import json
import sys


def inside_sides(record):
    data = record["data"]
    return {data["original"]["src"], data["original"]["dst"],
            data["reply"]["src"], data["reply"]["dst"]}


def check(records, want):
    user, command, name, mode, size, client = want.split(":")
    size = int(size)
    found = [r for r in records if r.get("user") == user and r.get("command") == command
             and r.get("name") == name]
    if len(found) != 1:
        return "%d records for %s %s %s" % (len(found), user, command, name)
    record = found[0]
    problems = []
    if record.get("mode") != mode:
        problems.append("mode %s" % record.get("mode"))
    if record.get("reply") != 226:
        problems.append("reply %s" % record.get("reply"))
    if not isinstance(record.get("data"), dict):
        return "no data connection: %s" % json.dumps(record)
    if client not in inside_sides(record):
        problems.append("data connection without %s" % client)
    upload = command in ("STOR", "STOU", "APPE")
    flow = record.get("to_server" if upload else "to_client")
    if not isinstance(flow, dict):
        problems.append("no counters (nf_conntrack_acct off?)")
    elif not size <= flow["bytes"] <= size * 1.05 + 100 * flow["packets"]:
        problems.append("bytes %d over %d packets for a %d-byte file"
                        % (flow["bytes"], flow["packets"], size))
    if problems:
        return "; ".join(problems) + ": " + json.dumps(record)
    return ""


def main():
    records = []
    with open(sys.argv[1]) as log:
        for line in log:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == "transfer":
                records.append(record)
    failed = 0
    for want in sys.argv[2:]:
        problem = check(records, want)
        print("%s %s" % (want, "ok" if not problem else "FAIL " + problem))
        failed += bool(problem)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
