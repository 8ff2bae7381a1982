#!/usr/bin/env python3
"""Turns bench/rollout's raw results into a table on stdout, RESULTS/rollout.md and
RESULTS/rollout.json.

usage: rollout_report.py JSON_DIR RESULTS_DIR
"""

import glob
import json
import os
import statistics
import sys

J, results = sys.argv[1], sys.argv[2]


def runs(prefix):
    out = []
    for path in sorted(glob.glob(os.path.join(J, prefix + "-[0-9]*.json"))):
        with open(path) as f:
            r = json.load(f)
        rc_path = path[: -len(".json")] + ".rc"
        if os.path.exists(rc_path):
            with open(rc_path) as f:
                r["rc"] = int(f.read().strip() or "0")
        out.append(r)
    return out


def ms(s):
    return "-" if s is None else f"{s * 1000:.0f} ms"


machine = {}
with open(os.path.join(J, "machine.txt")) as f:
    for line in f:
        k, _, v = line.rstrip("\n").partition("=")
        machine[k] = v

summary = {"machine": machine, "replacements": [], "vm": None}
rows = []
base = None
for key, label in [
    ("byhand", "by hand: podman stop, rm, run (baseline)"),
    ("startfirst", "mcp deploy, start-first (stateless)"),
    ("stopfirst", "mcp deploy, stop-first (read-write volume)"),
    ("failed", "mcp deploy of a broken version, start-first"),
    ("vmswitch", "mcp deploy of a VM, start-first (ports handed over by QMP)"),
]:
    rs = runs(key)
    if not rs:
        continue
    down = [r["downtime_s"] for r in rs]
    med = statistics.median(down)
    if key == "byhand":
        base = med
    entry = {
        "scenario": key,
        "label": label,
        "runs": len(rs),
        "downtime_median_s": med,
        "downtime_min_s": min(down),
        "downtime_max_s": max(down),
        "polls": sum(r["polls"] for r in rs),
        "failed_polls": sum(r["failed"] for r in rs),
        "exit_codes": sorted({r.get("rc", 0) for r in rs}),
    }
    summary["replacements"].append(entry)
    ratio = "1 (baseline)" if key == "byhand" else "-" if key == "vmswitch" else (
        f"{med / base:.2f}×" if base and med else ("0" if not med else "-"))
    rows.append(
        f"| {label} | {ms(med)} | {ms(min(down))} – {ms(max(down))} | {len(rs)} | "
        f"{entry['failed_polls']} of {entry['polls']} | {ratio} | "
        f"{', '.join(map(str, entry['exit_codes']))} |"
    )

lines = [
    "| replacement | downtime (median) | min – max | runs | failed polls | ratio to baseline | exit codes |",
    "|---|---:|---:|---:|---:|---:|---|",
    *rows,
]

mcp_runs, manual_runs = runs("vm-mcp"), runs("vm-manual")
mcp = [r["first_ok_s"] for r in mcp_runs if r.get("first_ok_s") is not None]
manual = [r["first_ok_s"] for r in manual_runs if r.get("first_ok_s") is not None]
# Each mcp run is followed by a manual one under about the same load: their ratio.
paired = [
    a["first_ok_s"] / b["first_ok_s"]
    for a, b in zip(mcp_runs, manual_runs)
    if a.get("first_ok_s") and b.get("first_ok_s")
]
at_return = runs("vm-mcp-return")
if mcp and manual:
    m, b = statistics.median(mcp), statistics.median(manual)
    answered = sum(1 for r in at_return if r.get("first_ok_s") is not None)
    summary["vm"] = {
        "mcp_sync_to_first_answer_median_s": m,
        "manual_build_boot_to_first_answer_median_s": b,
        "ratio": m / b,
        "paired_ratio_median": statistics.median(paired) if paired else None,
        "paired_ratios": paired,
        "runs": len(mcp),
        "answered_when_sync_returned": answered,
        "checked_when_sync_returned": len(at_return),
    }
    lines += [
        "",
        "| VM, to the first HTTP answer | median | min – max | runs | ratio |",
        "|---|---:|---:|---:|---:|",
        f"| ops build + qemu by hand (baseline) | {ms(b)} | {ms(min(manual))} – {ms(max(manual))} | {len(manual)} | 1 (baseline) |",
        f"| mcp sync | {ms(m)} | {ms(min(mcp))} – {ms(max(mcp))} | {len(mcp)} | {m / b:.2f}× |",
        "",
        f"Ratio of each mcp run to the manual run right after it: median "
        f"{statistics.median(paired):.2f}× ({', '.join(f'{r:.2f}' for r in paired)}).",
        "",
        f"A single GET right after `mcp sync` returned was answered in {answered} of "
        f"{len(at_return)} runs.",
    ]

text = "\n".join(lines) + "\n"
print(text)
print(f"machine: {machine}")
with open(os.path.join(results, "rollout.md"), "w") as f:
    f.write(text)
with open(os.path.join(results, "rollout.json"), "w") as f:
    json.dump(summary, f, indent=2)
