#!/usr/bin/env python3
"""Turns the raw outputs of bench/run-offline.sh into offline.md and offline.csv.

Usage: offline_report.py RESULTS_DIR RUNS COMMAND_LINE
"""
import csv
import json
import os
import re
import statistics
import sys


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def exists(results, name):
    return os.path.exists(os.path.join(results, name))


def timing(results, name):
    """(median wall s, CPU s = user + system) of the timed runs of NAME."""
    hyper = os.path.join(results, name + ".hyperfine.json")
    if os.path.exists(hyper):
        run = json.loads(read(hyper))["results"][0]
        return run["median"], run["user"] + run["system"]
    rows = [line.split() for line in read(os.path.join(results, name + ".times")).splitlines()
            if line.strip()]
    walls = [float(r[0]) for r in rows]
    cpus = [float(r[1]) + float(r[2]) for r in rows]
    return statistics.median(walls), statistics.median(cpus)


def callgrind_total(path):
    for line in read(path).splitlines():
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    return None


def si(value):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f}{unit}"
    return f"{value:.0f}"


def machine():
    model = "unknown CPU"
    try:
        for line in read("/proc/cpuinfo").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return f"{model}, {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def main():
    results, runs, command_line = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    md = []
    rows = []  # CSV: section, name, metric, value

    def add(section, name, metric, value):
        rows.append([section, name, metric, value])

    md.append("# ftp-alg offline benchmark")
    md.append("")
    md.append(f"Command: `{command_line}`  ")
    md.append(f"Machine: {machine()}  ")
    if exists(results, "capture.txt"):
        md.append(f"Capture: {read(os.path.join(results, 'capture.txt')).strip()}")
    md.append("")

    # --- Engine::Process (Google Benchmark). ---
    engine = json.loads(read(os.path.join(results, "engine.json")))
    md.append("## Engine::Process, one core (Google Benchmark: median of 3 repetitions, CPU time)")
    md.append("")
    md.append("| benchmark | packets/s | ns/packet | announcements/s | sessions |")
    md.append("|---|---:|---:|---:|---:|")
    for bench in engine["benchmarks"]:
        if bench.get("aggregate_name", "median") != "median":
            continue
        name = bench.get("run_name", bench["name"])
        pps = bench.get("items_per_second", 0.0)
        ns = bench.get("per_packet", 0.0) * 1e9
        ann = bench.get("announcements")
        sessions = bench.get("sessions")
        md.append(f"| {name} | {si(pps)} | {ns:.0f} | {si(ann) if ann else '-'} | "
                  f"{int(sessions) if sessions else '-'} |")
        add("engine", name, "packets_per_second", f"{pps:.0f}")
        add("engine", name, "ns_per_packet", f"{ns:.1f}")
        if ann:
            add("engine", name, "announcements_per_second", f"{ann:.0f}")
    md.append("")

    # --- Replay against the floor. ---
    summary = json.loads(read(os.path.join(results, "replay-summary.json")))
    records = summary["records"]
    control = summary["control_packets"]
    timed = [("replay", "ftp-alg-replay BIG.pcap --snat 192.0.2.0/24=198.51.100.1 -q "
              "--events /dev/null"),
             ("replay-no-events", "ftp-alg-replay BIG.pcap --snat 192.0.2.0/24=198.51.100.1 -q"),
             ("floor", "pcap_read_floor BIG.pcap (libpcap read loop: the floor)"),
             ("floor-parse", "pcap_read_floor BIG.pcap --parse (+ ParseTcpPacket)")]
    measured = {name: timing(results, name) for name, _ in timed
                if exists(results, name + ".times") or exists(results, name + ".hyperfine.json")}
    floor_wall, floor_cpu = measured["floor"]
    how = "hyperfine" if exists(results, "floor.hyperfine.json") else f"median of {runs} runs"
    md.append(f"## Replay vs floor ({records} records, {control} control packets; {how}; "
              "whole process)")
    md.append("")
    md.append("| command | wall s | CPU s | records/s (CPU) | records/s (wall) | "
              "ratio to floor (CPU) | ratio to floor (wall) |")
    md.append("|---|---:|---:|---:|---:|---:|---:|")
    for name, label in timed:
        if name not in measured:
            continue
        wall, cpu = measured[name]
        md.append(f"| `{label}` | {wall:.3f} | {cpu:.3f} | {si(records / cpu)} | "
                  f"{si(records / wall)} | {cpu / floor_cpu:.1f} | {wall / floor_wall:.1f} |")
        add("replay", name, "wall_seconds", f"{wall:.4f}")
        add("replay", name, "cpu_seconds", f"{cpu:.4f}")
        add("replay", name, "records_per_second_cpu", f"{records / cpu:.0f}")
        add("replay", name, "records_per_second_wall", f"{records / wall:.0f}")
        add("replay", name, "ratio_to_floor_cpu", f"{cpu / floor_cpu:.2f}")
        add("replay", name, "ratio_to_floor_wall", f"{wall / floor_wall:.2f}")
    counters = summary.get("counters", {})
    md.append("")
    md.append(f"Replay summary: {summary.get('data_connections_expected')} of "
              f"{summary.get('data_connections')} data connections predicted, "
              f"{counters.get('expectations')} expectations, {counters.get('rewrites')} rewrites, "
              f"{counters.get('packets_modified')} packets modified, "
              f"{counters.get('refusals')} refusals.")
    md.append("")

    # --- Memory per session. ---
    md.append("## Memory per session (each logged in, one pending PORT expectation)")
    md.append("")
    md.append("| sessions | Engine::ApproximateMemory B/session | heap B/session (mallinfo2) | "
              "RSS B/session | target |")
    md.append("|---:|---:|---:|---:|---:|")
    for sessions in (10000, 100000):
        path = os.path.join(results, f"memory-{sessions}.json")
        if not os.path.exists(path):
            continue
        bench = json.loads(read(path))["benchmarks"][0]
        approx = bench["approx_B_per_session"]
        heap = bench["heap_B_per_session"]
        rss = bench["rss_B_per_session"]
        md.append(f"| {sessions} | {approx:.0f} | {heap:.0f} | {rss:.0f} | 1024 |")
        add("memory", str(sessions), "approx_bytes_per_session", f"{approx:.0f}")
        add("memory", str(sessions), "heap_bytes_per_session", f"{heap:.0f}")
        add("memory", str(sessions), "rss_bytes_per_session", f"{rss:.0f}")
    if exists(results, "sizes.txt"):
        md.append("")
        md.append("sizeof() of the per-session structures (bytes):")
        md.append("")
        md.append("```")
        md.append(read(os.path.join(results, "sizes.txt")).rstrip())
        md.append("```")
        for line in read(os.path.join(results, "sizes.txt")).splitlines():
            match = re.match(r"^(.*\S)\s+(\d+)$", line)
            if match:
                add("sizeof", match.group(1).strip(), "bytes", match.group(2))
    md.append("")

    # --- Instruction counts. ---
    if exists(results, "callgrind.engine-steady"):
        md.append("## Instructions (valgrind --tool=callgrind; repeatable on a noisy machine)")
        md.append("")
        md.append("| path | instructions/packet |")
        md.append("|---|---:|")
        for mix, label in (("steady", "Engine::Process, steady mix"),
                           ("port", "Engine::Process, PORT cycle (PORT, 200, ACK)"),
                           ("227", "Engine::Process, 227 cycle (PASV, 227, ACK)")):
            total = callgrind_total(os.path.join(results, f"callgrind.engine-{mix}"))
            if total:
                md.append(f"| {label} | {total / 20000:.0f} |")
                add("instructions", f"engine-{mix}", "per_packet", f"{total / 20000:.0f}")
        small = read(os.path.join(results, "small-capture.txt"))
        small_records = int(re.search(r"(\d+) records", small).group(1))
        small_control = int(re.search(r"(\d+) control packets", small).group(1))
        path = os.path.join(results, "callgrind.engine-capture")
        if os.path.exists(path):
            per_packet = callgrind_total(path) / small_control
            md.append(f"| Engine::Process, every control packet of the {small_records}-record "
                      f"capture (daemon configuration) | {per_packet:.0f} |")
            add("instructions", "engine-capture", "per_packet", f"{per_packet:.0f}")
        per_record = {}
        for name in ("replay", "floor"):
            path = os.path.join(results, f"callgrind.{name}")
            if os.path.exists(path):
                per_record[name] = callgrind_total(path) / small_records
                md.append(f"| whole {name} process, per record ({small_records}-record capture) | "
                          f"{per_record[name]:.0f} |")
                add("instructions", name, "per_record", f"{per_record[name]:.0f}")
        if len(per_record) == 2:
            ratio = per_record["replay"] / per_record["floor"]
            md.append(f"| ratio replay / floor | {ratio:.1f} |")
            add("instructions", "replay/floor", "ratio", f"{ratio:.2f}")
        md.append("")

    with open(os.path.join(results, "offline.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(results, "offline.csv"), "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["section", "name", "metric", "value"])
        writer.writerows(rows)
    print("\n".join(md))


if __name__ == "__main__":
    main()
