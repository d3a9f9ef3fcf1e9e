#!/usr/bin/python3
"""Markdown tables of the interop matrix from interop.sh's run directories (docs/interop.md).

usage: interop_table.py RUN_DIR [RUN_DIR...]

Reads RUN_DIR/interop.tsv and RUN_DIR/versions.txt of each run (one per server boot) and prints,
per server, a table with one row per case (topology, family, mode, client) and one column per
ALG: PASS with the data commands the client sent, FAIL with the problems, or the reason the
client cannot do it. Then the versions and the counts.
"""
import csv
import os
import sys


def commands(row):
    """The data commands without repeats: "EPRT" for two EPRTs, "EPRT, PORT" for a fall-back."""
    seen = []
    for cmd in row["commands"].split(","):
        if cmd and cmd not in seen:
            seen.append(cmd)
    return ", ".join(seen)


def cell(row):
    if row["verdict"] == "PASS":
        return "PASS (%s)" % commands(row)
    if row["verdict"] == "UNSUPPORTED":
        return "n/a: client"
    return "**FAIL**: %s (%s)" % (row["problems"], commands(row) or "no data command")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    rows, versions, algs = [], [], []
    for run in sys.argv[1:]:
        with open(os.path.join(run, "interop.tsv"), newline="") as tsv:
            for row in csv.DictReader(tsv, delimiter="\t", quoting=csv.QUOTE_NONE):
                rows.append(row)
                if row["alg"] not in algs:
                    algs.append(row["alg"])
        vpath = os.path.join(run, "versions.txt")
        if os.path.exists(vpath):
            with open(vpath) as vfile:
                versions += [line.strip() for line in vfile if line.strip() not in versions]
    servers = []
    table = {}
    reasons = {}
    for row in rows:
        if row["server"] not in servers:
            servers.append(row["server"])
        key = (row["server"], row["topo"], row["family"], row["mode"], row["client"])
        table.setdefault(key, {})[row["alg"]] = row
        if row["verdict"] == "UNSUPPORTED":
            reasons[row["client"] + " " + row["family"]] = row["problems"]
    counts = {alg: {} for alg in algs}
    for cells in table.values():
        for alg, row in cells.items():
            counts[alg][row["verdict"]] = counts[alg].get(row["verdict"], 0) + 1
    for server in servers:
        print("### %s\n" % server)
        print("| case (topology, family, mode, client) | " + " | ".join(algs) + " |")
        print("|---|" + "---|" * len(algs))
        for key, cells in table.items():
            if key[0] != server:
                continue
            name = " ".join(key[1:])
            row = " | ".join(cell(cells[a]) if a in cells else "not run" for a in algs)
            print("| %s | %s |" % (name, row))
        print()
    print("Counts: " + "; ".join(
        "%s %s" % (alg, ", ".join("%d %s" % (n, v) for v, n in sorted(counts[alg].items())))
        for alg in algs))
    print()
    for what, why in sorted(reasons.items()):
        print("- n/a (%s): %s" % (what, why))
    print("\nVersions:\n")
    for line in versions:
        print("- " + line)


if __name__ == "__main__":
    main()
