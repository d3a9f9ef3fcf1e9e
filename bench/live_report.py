#!/usr/bin/env python3
"""Tables (Markdown, CSV) and the scaling plot of the live benchmark (bench/run-live.sh).

usage: live_report.py --run RUN/bench --out RESULTS [--command TEXT] [--vm-seconds S] ...
Reads the guest's raw files (counters.jsonl, workload-*.json, scale-sessions.tsv,
expect-scale.txt, ftp-algd-scale.log) and writes RESULTS/live.md, live.csv, live.png.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess

MODES = ["ftp-algd", "ftp-algd-workers", "kernel", "none"]
LABEL = {"ftp-algd": "ftp-algd, 1 worker", "ftp-algd-workers": "ftp-algd, N workers",
         "kernel": "kernel helper", "none": "no ALG (PASV, open fw)"}
# The figures whose spread over the alternations (live-job.sh LIVE_REPEAT) is reported as ratios.
RATIO_KEYS = [("transfers_per_s", "transfers/s"), ("rtt_median_ms", "PORT/PASV RTT median"),
              ("rtt_p99_ms", "RTT p99"), ("gateway_cpu_s_per_1000_ctl", "gateway CPU / 1000 ctl pkts")]


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def fmt(v, digits=2):
    if v is None:
        return "-"
    if isinstance(v, int):
        return "{:,}".format(v)
    if abs(v) >= 100:
        return "{:,.0f}".format(v)
    return ("{:.%df}" % digits).format(v)


def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return a / b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", default="bench/run-live.sh")
    ap.add_argument("--vm-seconds", type=float, default=0)
    ap.add_argument("--sessions", default="")
    ap.add_argument("--duration", default="")
    ap.add_argument("--transfers", default="")
    ap.add_argument("--data-mb", default="")
    ap.add_argument("--scale", default="")
    a = ap.parse_args()
    run = a.run
    rows = [json.loads(l) for l in open(os.path.join(run, "counters.jsonl")) if l.strip()]
    csv = [("section", "mode", "sessions", "metric", "value", "ratio_to_kernel")]
    md = []

    # --- workload ---------------------------------------------------------------------------
    wl = {}
    wl_reps = {}  # (mode, N, alternation) -> figures
    for r in rows:
        if r["phase"] != "workload":
            continue
        name = "workload-%s-%d.json" % (r["mode"], r["sessions"])
        if "rep" in r:
            name = "workload-%s-%d-r%d.json" % (r["mode"], r["sessions"], r["rep"])
        path = os.path.join(run, name)
        if not os.path.exists(path):
            continue
        w = json.load(open(path))
        hz = w["hz"]
        t = w["cpu_ticks"]
        d = w["daemon_ticks"]
        ctl = r["ctl_packets"] or 0
        kernel_s = (t["system"] + t["irq"] + t["softirq"]) / hz
        daemon_s = (d["utime"] + d["stime"]) / hz
        gateway_s = kernel_s + d["utime"] / hz  # the daemon's stime is in /proc/stat's system
        m = {
            "transfers_per_s": w["transfers_per_s"],
            "rtt_median_ms": w["rtt_median_ms"], "rtt_p99_ms": w["rtt_p99_ms"],
            "port_median_ms": w["port_median_ms"], "port_p99_ms": w["port_p99_ms"],
            "pasv_median_ms": w["pasv_median_ms"], "pasv_p99_ms": w["pasv_p99_ms"],
            "gateway_cpu_s_per_1000_ctl": 1000 * gateway_s / ctl if ctl else None,
            "daemon_cpu_s_per_1000_ctl": 1000 * daemon_s / ctl if ctl and r["mode"].startswith("ftp-algd") else None,
            "daemon_cpu_s": daemon_s, "window_s": w.get("window_s"),
            "guest_busy_cpu_s": (t["user"] + t["system"] + t["irq"] + t["softirq"]) / hz,
            "daemon_rss_mib": (r["daemon_rss_bytes"] / 2**20) if r.get("daemon_rss_bytes") else None,
            "ctl_packets": ctl, "daemon_packets": r.get("daemon_packets"),
            "related_packets": r["related_packets"],
            "dropped_syns": r.get("dropped_syns"), "syns_to_gateway": r.get("syns_to_gateway"),
            "transfers": w["transfers"], "errors": w["errors"] + w["login_errors"],
            "errors_port": w.get("errors_port"), "errors_pasv": w.get("errors_pasv"),
            "transfer_phase_s": w["transfer_phase_s"], "rtt_n": w["rtt_n"],
        }
        m["error_texts"] = w.get("error_texts", [])
        wl_reps[(r["mode"], r["sessions"], r.get("rep", 1))] = m
        # The detailed tables show the first alternation; the ratios below use them all.
        wl.setdefault((r["mode"], r["sessions"]), m)
    ns = sorted({n for _, n in wl})
    keys = ["transfers_per_s", "rtt_median_ms", "rtt_p99_ms", "port_median_ms", "port_p99_ms",
            "pasv_median_ms", "pasv_p99_ms", "gateway_cpu_s_per_1000_ctl",
            "daemon_cpu_s_per_1000_ctl", "guest_busy_cpu_s", "daemon_rss_mib", "ctl_packets",
            "daemon_packets", "related_packets", "transfers", "errors", "transfer_phase_s",
            "daemon_cpu_s", "window_s", "errors_port", "errors_pasv", "dropped_syns",
            "syns_to_gateway"]
    for (mode, n), m in sorted(wl.items()):
        k = wl.get(("kernel", n), {})
        for key in keys:
            csv.append(("workload", mode, n, key, m[key], ratio(m[key], k.get(key))))

    md.append("### Workload through the masquerading gateway")
    md.append("")
    md.append("Each of N concurrent sessions logs in, then does up to %s transfers (3 of 4 a RETR of a "
              "1.2 KB file, every 4th an NLST) within %s s; with a helper the data command "
              "alternates PORT/PASV, without one it is PASV only. In brackets: the ratio to the "
              "kernel helper. Gateway CPU = the guest's system+irq+softirq time (every namespace: "
              "it includes the client's and server's socket calls) + the daemon's user time, per "
              "1000 control packets (port 21, mangle FORWARD counters)." % (a.transfers, a.duration))
    md.append("")
    md.append("| mode | N | transfers/s | PORT/PASV RTT median ms | RTT p99 ms | gateway CPU s / 1000 ctl pkts | daemon CPU s / 1000 ctl pkts | daemon RSS MiB | errors |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in ns:
        for mode in MODES:
            m = wl.get((mode, n))
            if not m:
                continue
            k = wl.get(("kernel", n), {})

            def cell(key, digits=2):
                v = m[key]
                rr = ratio(v, k.get(key))
                return fmt(v, digits) + ("" if rr is None or mode == "kernel" else " (%.2f)" % rr)
            md.append("| %s | %d | %s | %s | %s | %s | %s | %s | %d |" % (
                LABEL[mode], n, cell("transfers_per_s", 1), cell("rtt_median_ms", 1),
                cell("rtt_p99_ms", 1), cell("gateway_cpu_s_per_1000_ctl", 3),
                fmt(m["daemon_cpu_s_per_1000_ctl"], 3), fmt(m["daemon_rss_mib"], 1), m["errors"]))
    md.append("")
    md.append("PORT and PASV separately (median / p99 ms):")
    md.append("")
    md.append("| mode | N | PORT median | PORT p99 | PASV median | PASV p99 | RTT samples | control packets | packets the daemon saw | daemon CPU s (idle in other modes) / window s | errors PORT/PASV | SYNs dropped in FORWARD / to the gateway |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in ns:
        for mode in MODES:
            m = wl.get((mode, n))
            if m:
                md.append("| %s | %d | %s | %s | %s | %s | %d | %d | %s | %s / %s | %s/%s | %s/%s |" % (
                    LABEL[mode], n, fmt(m["port_median_ms"], 1), fmt(m["port_p99_ms"], 1),
                    fmt(m["pasv_median_ms"], 1), fmt(m["pasv_p99_ms"], 1), m["rtt_n"],
                    m["ctl_packets"], fmt(m["daemon_packets"]), fmt(m["daemon_cpu_s"], 2),
                    fmt(m["window_s"], 1), m["errors_port"], m["errors_pasv"],
                    fmt(m["dropped_syns"]), fmt(m["syns_to_gateway"])))
    errs = [(k, m["error_texts"]) for k, m in wl.items() if m["error_texts"]]
    if errs:
        md.append("")
        md.append("Errors seen: " + "; ".join("%s N=%d: %s" % (k[0], k[1], " / ".join(e[:2])) for k, e in errs))
    md.append("")

    reps = sorted({k[2] for k in wl_reps})
    if len(reps) > 1:
        md.append("### Ratios over %d alternations: median [min-max]" % len(reps))
        md.append("")
        md.append("Each alternation runs every mode once in turn, so a ratio compares runs a few "
                  "seconds apart. To the kernel helper of the same alternation; the last column "
                  "is N workers / 1 worker (transfers/s).")
        md.append("")
        md.append("| mode | N | " + " | ".join(t for _, t in RATIO_KEYS) + " | N workers / 1 worker |")
        md.append("|---|---:|" + "---:|" * (len(RATIO_KEYS) + 1))

        def spread(values):
            values = [v for v in values if v is not None]
            if not values:
                return "-"
            return "%.2f [%.2f-%.2f]" % (statistics.median(values), min(values), max(values))
        for n in ns:
            for mode in [m for m in MODES if m != "kernel"]:
                cells = []
                for key, _ in RATIO_KEYS:
                    rs = [ratio(wl_reps[(mode, n, k)][key], wl_reps[(("kernel"), n, k)][key])
                          for k in reps if (mode, n, k) in wl_reps and ("kernel", n, k) in wl_reps]
                    cells.append(spread(rs))
                    for k, v in zip(reps, rs):
                        csv.append(("ratio", mode, n, key + "_r%d" % k, v, None))
                scaling = "-"
                if mode == "ftp-algd-workers":
                    scaling = spread([ratio(wl_reps[(mode, n, k)]["transfers_per_s"],
                                            wl_reps[("ftp-algd", n, k)]["transfers_per_s"])
                                      for k in reps if (mode, n, k) in wl_reps and ("ftp-algd", n, k) in wl_reps])
                md.append("| %s | %d | %s | %s |" % (LABEL[mode], n, " | ".join(cells), scaling))
        md.append("")

    # --- data path --------------------------------------------------------------------------
    dp = {}
    for r in rows:
        if r["phase"] == "data" and r["time_total"]:
            dp.setdefault(r["mode"], []).append(r)
    if dp:
        md.append("### Data path: one large PASV download")
        md.append("")
        md.append("| mode | runs | size MB | MB/s (each run) | median MB/s | ratio to no ALG | RELATED packets | packets the daemon saw |")
        md.append("|---|---:|---:|---|---:|---:|---:|---:|")
        rate = {}
        for mode in ["none", "ftp-algd"]:
            rs = dp.get(mode, [])
            if not rs:
                continue
            rates = [r["bytes"] / 1e6 / r["time_total"] for r in rs]
            rate[mode] = statistics.median(rates)
            for i, r in enumerate(rs):
                csv.append(("data", mode, i + 1, "MB_per_s", rates[i], None))
                csv.append(("data", mode, i + 1, "daemon_packets", r["daemon_packets"], None))
                csv.append(("data", mode, i + 1, "related_packets", r["related_packets"], None))
        for mode in ["none", "ftp-algd"]:
            rs = dp.get(mode, [])
            if not rs:
                continue
            rates = [r["bytes"] / 1e6 / r["time_total"] for r in rs]
            rr = ratio(rate[mode], rate.get("none"))
            csv.append(("data", mode, "", "median_MB_per_s", rate[mode], None))
            csv.append(("data", mode, "", "ratio_to_no_alg", rr, None))
            md.append("| %s | %d | %.0f | %s | %.1f | %s | %s | %s |" % (
                LABEL[mode], len(rs), rs[0]["bytes"] / 1e6, ", ".join("%.1f" % x for x in rates),
                rate[mode], fmt(rr, 3), "/".join(str(r["related_packets"]) for r in rs),
                "/".join(str(r["daemon_packets"]) if mode == "ftp-algd" else "-" for r in rs)))
        md.append("")

    # --- scale ------------------------------------------------------------------------------
    scale_vals = {}
    for s in [r for r in rows if r["phase"] == "scale"]:
        mode = s.get("mode", "ftp-algd")
        summ = s.get("summary") or {}
        sess = {}
        path = os.path.join(run, "scale-sessions-%s.tsv" % mode)
        if os.path.exists(path):
            for line in open(path):
                if line.startswith("#"):
                    continue
                f = line.split("\t")
                sess[int(f[0])] = (float(f[1]), float(f[2]), f[3].strip())
        ok = {p: v for p, v in sess.items() if v[2] == "ok"}
        # conntrack -E expect -o timestamp: "[1700000000.123456]\t    [NEW] ... master-src=A
        # master-dst=B sport=P dport=21 ... helper=NAME"
        ev = re.compile(r"\[(\d+\.\d+)\]\s+\[NEW\].*master-src=\S+ master-dst=\S+ sport=(\d+) dport=21")
        new_ct = {}
        n_new = 0
        lost_events = 0
        path = os.path.join(run, "expect-scale-%s.txt" % mode)
        if os.path.exists(path):
            for line in open(path, errors="replace"):
                mt = ev.search(line)
                if mt:
                    n_new += 1
                    new_ct.setdefault(int(mt.group(2)), float(mt.group(1)))
                elif "buffer" in line.lower() or "ENOBUFS" in line:
                    lost_events += 1
        lat_ct = [new_ct[p] - v[0] for p, v in ok.items() if p in new_ct]
        n_daemon = None
        dtime = {}
        path = os.path.join(run, "%s-scale.log" % mode)
        if mode.startswith("ftp-algd") and os.path.exists(path):
            n_daemon = 0
            for line in open(path, errors="replace"):
                if '"event":"expect"' not in line:
                    continue
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                n_daemon += 1
                dtime.setdefault(e["master"]["sport"], e["time"])
        lat_d = [dtime[p] - v[0] for p, v in ok.items() if p in dtime]
        lat_reply = [v[1] - v[0] for v in ok.values()]
        n_ok = len(ok)
        rss_d = (s["rss1"] - s["rss0"]) if s.get("rss1") and s.get("rss0") is not None else None
        st_d = (s["state1"] - s["state0"]) if s.get("state1") is not None and s.get("state0") is not None else None
        vals = {
            "sessions_target": summ.get("target"), "sessions_pending_port": n_ok,
            "ramp_s": summ.get("ramp_s"), "sessions_failed": summ.get("failed"),
            "sessions_active_metric": s.get("sessions_active"),
            "expectations_new_events": n_new, "expectations_logged_by_daemon": n_daemon,
            "expectations_in_table": s.get("expect_table"),
            "sessions_without_ct_event": sum(1 for p in ok if p not in new_ct),
            "sessions_without_daemon_expect": sum(1 for p in ok if p not in dtime) if n_daemon is not None else None,
            "expectation_install_errors": s.get("install_errors"),
            "queue_overruns": s.get("queue_overruns"),
            "rss_bytes_per_session": rss_d / n_ok if rss_d is not None and n_ok else None,
            "state_bytes_per_session": st_d / n_ok if st_d is not None and n_ok else None,
            "rss_end_mib": s["rss1"] / 2**20 if s.get("rss1") else None,
            "install_latency_ct_median_ms": 1000 * statistics.median(lat_ct) if lat_ct else None,
            "install_latency_ct_p99_ms": 1000 * pct(lat_ct, 99) if lat_ct else None,
            "daemon_seen_latency_median_ms": 1000 * statistics.median(lat_d) if lat_d else None,
            "daemon_seen_latency_p99_ms": 1000 * pct(lat_d, 99) if lat_d else None,
            "port_reply_median_ms": 1000 * statistics.median(lat_reply) if lat_reply else None,
            "port_reply_p99_ms": 1000 * pct(lat_reply, 99) if lat_reply else None,
            "ct_event_errors": lost_events,
        }
        scale_vals[mode] = vals
        for k2, v in vals.items():
            csv.append(("scale", mode, n_ok, k2, v, None))
    if scale_vals:
        smodes = [m for m in ["ftp-algd", "ftp-algd-workers", "kernel"] if m in scale_vals]
        md.append("### Scale: control connections with a pending PORT (fake server, 256 handshakes in flight)")
        md.append("")
        md.append("| figure | " + " | ".join(LABEL[m] for m in smodes) + " |")
        md.append("|---|" + "---:|" * len(smodes))
        label = [
            ("sessions_pending_port", "sessions with a pending PORT (answered 200)"),
            ("sessions_target", "target"), ("ramp_s", "ramp time s"),
            ("sessions_failed", "sessions failed"),
            ("sessions_active_metric", "ftpalg_sessions_active"),
            ("expectations_new_events", "expectations created (conntrack -E expect [NEW])"),
            ("expectations_logged_by_daemon", "expectations the daemon logged"),
            ("expectations_in_table", "expectations in the kernel table at the end"),
            ("sessions_without_ct_event", "answered sessions without a conntrack -E event (events lost by the listener)"),
            ("sessions_without_daemon_expect", "answered sessions without an expectation in the daemon's log"),
            ("ct_event_errors", "conntrack -E error lines (lost events)"),
            ("expectation_install_errors", "ftpalg_expectation_install_errors"),
            ("queue_overruns", "ftpalg_queue_overruns"),
            ("rss_bytes_per_session", "RSS delta / session, bytes"),
            ("state_bytes_per_session", "ftpalg_session_state_bytes delta / session"),
            ("rss_end_mib", "daemon RSS at the end, MiB"),
            ("install_latency_ct_median_ms", "PORT sent -> conntrack -E expectation event, median ms"),
            ("install_latency_ct_p99_ms", "PORT sent -> conntrack -E expectation event, p99 ms"),
            ("daemon_seen_latency_median_ms", "PORT sent -> daemon processed it (its log), median ms"),
            ("daemon_seen_latency_p99_ms", "PORT sent -> daemon processed it, p99 ms"),
            ("port_reply_median_ms", "PORT sent -> 200 received, median ms"),
            ("port_reply_p99_ms", "PORT sent -> 200 received, p99 ms"),
        ]
        for k2, text in label:
            md.append("| %s | %s |" % (text, " | ".join(fmt(scale_vals[m][k2], 1) for m in smodes)))
        md.append("")

    # --- plot -------------------------------------------------------------------------------
    png = os.path.join(a.out, "live.png")
    dat = os.path.join(a.out, "live-scaling.dat")
    with open(dat, "w") as f:
        f.write("# N " + " ".join(MODES) + "\n")
        for n in ns:
            f.write("%d %s\n" % (n, " ".join(
                "%.3f" % wl[(m, n)]["transfers_per_s"] if (m, n) in wl else "NaN" for m in MODES)))
    plotted = False
    if shutil.which("gnuplot") and ns:
        script = """
set terminal pngcairo size 900,560 noenhanced
set output '%s'
set title 'FTP transfers/s vs concurrent sessions (QEMU TCG guest, masquerading gateway)'
set xlabel 'concurrent sessions N'
set ylabel 'transfers/s'
set logscale x
set xrange [0.7:1500]
set yrange [0:*]
set xtics (%s)
set key top left
set grid
plot '%s' using 1:2 with linespoints lw 2 title 'ftp-algd, 1 worker', \\
     '' using 1:3 with linespoints lw 2 title 'ftp-algd, N workers', \\
     '' using 1:4 with linespoints lw 2 title 'kernel helper', \\
     '' using 1:5 with linespoints lw 2 dt 2 title 'no ALG (PASV, open firewall)'
""" % (png, ", ".join(str(n) for n in ns), dat)
        r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if r.returncode != 0 and "pngcairo" in r.stderr:
            r = subprocess.run(["gnuplot"], input=script.replace("pngcairo", "png"), text=True,
                               capture_output=True)
        plotted = r.returncode == 0
        if not plotted:
            print("gnuplot failed: " + r.stderr)

    head = ["# Live benchmark (QEMU test bed)", "",
            "Made by `%s` (VM run %.0f s; sessions %s, duration %s s, transfers/session %s, "
            "data %s MB, scale target %s)." % (a.command, a.vm_seconds, a.sessions, a.duration,
                                                a.transfers, a.data_mb, a.scale), ""]
    if plotted:
        head += ["![transfers/s vs N](live.png)", ""]
    text = "\n".join(head + md) + "\n"
    open(os.path.join(a.out, "live.md"), "w").write(text)
    with open(os.path.join(a.out, "live.csv"), "w") as f:
        for row in csv:
            f.write(",".join("" if v is None else (("%.6g" % v) if isinstance(v, float) else str(v))
                             for v in row) + "\n")
    print(text)
    print("written: %s/live.md live.csv%s" % (a.out, " live.png" if plotted else ""))


if __name__ == "__main__":
    main()
