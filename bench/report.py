#!/usr/bin/env python3
"""Turns bench/run's raw results (hyperfine JSON, podman call logs, /usr/bin/time output)
into a table on stdout, bench/results/latest.md and bench/results/latest.json.

usage: report.py BENCH_DIR RESULTS_DIR
"""

import collections
import json
import os
import re
import statistics
import sys

bench_dir, results_dir = sys.argv[1], sys.argv[2]
J = os.path.join(bench_dir, "json")
CALLS = os.path.join(bench_dir, "calls")


def timing(name):
    path = os.path.join(J, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        r = json.load(f)["results"][0]
    times = r["times"]
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "runs": len(times),
        "command": r["command"],
    }


def calls(name):
    path = os.path.join(CALLS, name + ".log")
    if not os.path.exists(path):
        return None
    verbs = collections.Counter()
    total = 0
    with open(path) as f:
        for line in f:
            words = line.split()
            if not words:
                continue
            total += 1
            verb = words[0]
            if verb in ("container", "image", "network") and len(words) > 1:
                verb += " " + words[1]
            verbs[verb] += 1
    return {"total": total, "by_verb": dict(verbs.most_common())}


def rss_kib(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read())
    return int(m.group(1)) if m else None


def fmt_s(s):
    if s is None:
        return "-"
    return f"{s * 1000:.0f} ms" if s < 10 else f"{s:.1f} s"


machine = {}
with open(os.path.join(J, "machine.txt")) as f:
    for line in f:
        k, _, v = line.rstrip("\n").partition("=")
        machine[k] = v
with open(os.path.join(J, "binary-size.txt")) as f:
    binary_size = int(f.read().strip())

rows = []  # one per measured command
targets = []


def row(scenario, tool, name, baseline=None):
    t = timing(name)
    if t is None:
        return None
    b = timing(baseline) if baseline else None
    r = {
        "scenario": scenario,
        "tool": tool,
        "name": name,
        **t,
        "baseline": baseline,
        "ratio": (t["median_s"] / b["median_s"]) if b else None,
        "podman_calls": calls(name),
    }
    rows.append(r)
    return r


def target(what, value, limit, unit, ok):
    targets.append(
        {"target": what, "value": value, "limit": limit, "unit": unit, "met": bool(ok)}
    )


for n in (20, 50):
    raw = row(f"cold converge N={n}", f"{n}× podman run -d (baseline)", f"cold{n}-raw")
    if raw is None:
        continue
    m = row(f"cold converge N={n}", "mcp sync", f"cold{n}-mcp", f"cold{n}-raw")
    c = row(f"cold converge N={n}", "podman-compose up -d", f"cold{n}-compose", f"cold{n}-raw")
    if n == 20 and m:
        target("cold converge 20: mcp sync / 20× podman run -d", m["ratio"], 0.8, "×",
               m["ratio"] <= 0.8)

ps = row("no-op N=20", "podman ps -a --format json (baseline)", "noop20-ps")
m = row("no-op N=20", "mcp sync", "noop20-mcp", "noop20-ps")
c = row("no-op N=20", "podman-compose up -d", "noop20-compose", "noop20-ps")
if m and ps:
    target("no-op: mcp sync / podman ps", m["ratio"], 1.5, "×", m["ratio"] <= 1.5)
if m and c:
    r = m["median_s"] / c["median_s"]
    target("no-op: mcp sync / podman-compose up -d", r, 0.1, "×", r <= 0.1)

c = row("one changed among 20", "podman-compose up -d (baseline)", "change20-compose")
m = row("one changed among 20", "mcp sync", "change20-mcp", "change20-compose")
m = row("one changed among 20", "mcp sync, changed service has a tcp health check",
        "change20-mcphealth", "change20-compose")

ps = row("registry 1,000 services", "podman ps -a --format json (baseline)", "reg-ps")
d = row("registry 1,000 services", "mcp sync --dry-run", "reg-dryrun-mcp", "reg-ps")
s = row("registry 1,000 services", "mcp status", "reg-status-mcp", "reg-ps")
if d:
    target("sync --dry-run over 1,000 files", d["median_s"] * 1000, 300, "ms",
           d["median_s"] <= 0.3)
if s and ps:
    extra = (s["median_s"] - ps["median_s"]) * 1000
    ncalls = (s["podman_calls"] or {}).get("total")
    target(f"status over 1,000 components, beyond its one podman call ({ncalls} made)",
           extra, 50, "ms", extra <= 50 and ncalls == 1)

rss = []
for name, label in [
    ("cold20-mcp", "cold converge N=20"),
    ("cold50-mcp", "cold converge N=50"),
    ("noop20-mcp", "no-op N=20"),
    ("reg-dryrun-mcp", "sync --dry-run, 1,000 services"),
    ("reg-status-mcp", "status, 1,000 components"),
]:
    with_children = rss_kib(os.path.join(J, f"rss-{name}.txt"))
    own = rss_kib(os.path.join(J, f"rssmcp-{name}.txt"))
    if with_children is None and own is None:
        continue
    rss.append({"scenario": label, "name": name, "with_podman_kib": with_children,
                "mcp_only_kib": own})
if rss:
    worst = max(r["mcp_only_kib"] or 0 for r in rss) / 1024
    target("peak RSS of mcp, every scenario", worst, 30, "MiB", worst <= 30)
target("stripped release binary", binary_size / 1e6, 8, "MB", binary_size <= 8e6)

out = {"machine": machine, "binary_size_bytes": binary_size, "timings": rows,
       "rss": rss, "targets": targets}
os.makedirs(results_dir, exist_ok=True)
with open(os.path.join(results_dir, "latest.json"), "w") as f:
    json.dump(out, f, indent=2)
    f.write("\n")


def calls_text(c):
    if not c:
        return "-"
    parts = ", ".join(f"{v} {k}" for k, v in c["by_verb"].items())
    return f"{c['total']} ({parts})" if parts else "0"


md = []
md.append("# mcp benchmark results\n")
md.append(
    f"Machine: {machine.get('nproc')} CPUs ({machine.get('cpu')}), {machine.get('memory')}, "
    f"kernel {machine.get('kernel')}, podman {machine.get('podman')}, "
    f"podman-compose {machine.get('podman_compose')}, hyperfine {machine.get('hyperfine')}. "
    f"mcp at {machine.get('commit')}. Runs: {machine.get('runs')}. "
    f"Suite took {machine.get('elapsed_s')} s; load average {machine.get('loadavg')}.\n"
)
md.append("| scenario | command | median | min – max | runs | ratio to baseline | podman calls |")
md.append("|---|---|---:|---:|---:|---:|---|")
for r in rows:
    ratio = f"{r['ratio']:.2f}×" if r["ratio"] is not None else "1 (baseline)" \
        if "baseline" in r["tool"] else "-"
    md.append(
        f"| {r['scenario']} | {r['tool']} | {fmt_s(r['median_s'])} | "
        f"{fmt_s(r['min_s'])} – {fmt_s(r['max_s'])} | {r['runs']} | {ratio} | "
        f"{calls_text(r['podman_calls'])} |"
    )
md.append("")
md.append("| peak RSS | mcp alone (podman stubbed) | mcp + podman children (`time -v`) |")
md.append("|---|---:|---:|")
for r in rss:
    f = lambda k: "-" if k is None else f"{k / 1024:.1f} MiB"  # noqa: E731
    md.append(f"| {r['scenario']} | {f(r['mcp_only_kib'])} | {f(r['with_podman_kib'])} |")
md.append("")
md.append(f"Stripped release binary: {binary_size / 1e6:.2f} MB ({binary_size} bytes).\n")
md.append("| target | measured | limit | met |")
md.append("|---|---:|---:|---|")
for t in targets:
    v = f"{t['value']:.2f} {t['unit']}" if t["value"] is not None else "-"
    md.append(f"| {t['target']} | {v} | {t['limit']} {t['unit']} | "
              f"{'yes' if t['met'] else '**no**'} |")
md.append("")
text = "\n".join(md)
with open(os.path.join(results_dir, "latest.md"), "w") as f:
    f.write(text)
print(text)
