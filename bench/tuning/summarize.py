#!/usr/bin/env python3
"""bench/tuning/summarize.py - one markdown table from bench_tuning outputs (and the TVM script's).

  summarize.py OUT.txt [MORE.txt ...]

Columns are found by the header line of each file ('kernel strategy GFLOP/s ...'), so the
bench_tuning rows (kernel strategy GFLOP/s retimed measured invalid to-95% wall-s; files before
2026-11-22 09:00 lack 'retimed') and the TVM script's (kernel strategy GFLOP/s retimed measured
to-95% wall-s) both work. Where a file has a 'retimed' column (each configuration's best timed
again side by side at the end), the table shows it: the number to compare. Prints the per-kernel
table (one column per configuration) and the geometric means per configuration."""
import math
import sys
from collections import OrderedDict

rows = OrderedDict()  # kernel -> config -> (gflops, measured, wall)
configs = []
for path in sys.argv[1:]:
    cols = None
    for line in open(path):
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        if f[0] == "kernel":
            cols = {name: i for i, name in enumerate(f)}
            continue
        if cols is None or len(f) != len(cols):
            continue
        try:
            g = float(f[cols["GFLOP/s"]])
            if "retimed" in cols and float(f[cols["retimed"]]) > 0:
                g = float(f[cols["retimed"]])
            m, w = int(f[cols["measured"]]), float(f[cols["wall-s"]])
        except (ValueError, KeyError):
            continue
        k, c = f[cols["kernel"]], f[cols["strategy"]]
        rows.setdefault(k, OrderedDict())[c] = (g, m, w)
        if c not in configs:
            configs.append(c)

print("| kernel | " + " | ".join(f"{c} GFLOP/s (meas., s)" for c in configs) + " |")
print("|---|" + "---:|" * len(configs))
for k, cs in rows.items():
    cells = [f"{cs[c][0]:.1f} ({cs[c][1]}, {cs[c][2]:.0f})" if c in cs else "–" for c in configs]
    print(f"| {k} | " + " | ".join(cells) + " |")
print()
for c in configs:
    ks = [k for k in rows if c in rows[k] and rows[k][c][0] > 0]
    if not ks:
        continue
    gm = math.exp(sum(math.log(rows[k][c][0]) for k in ks) / len(ks))
    wm = math.exp(sum(math.log(rows[k][c][2]) for k in ks) / len(ks))
    print(f"- {c}: {len(ks)} kernels, geometric mean {gm:.1f} GFLOP/s, tuning wall time {wm:.0f} s, "
          f"{sum(rows[k][c][1] for k in ks)} measurements")
