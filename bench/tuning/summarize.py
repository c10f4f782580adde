#!/usr/bin/env python3
"""bench/tuning/summarize.py - one markdown table from bench_tuning outputs (and the TVM script's).

  summarize.py OUT.txt [MORE.txt ...]     rows 'kernel strategy GFLOP/s ... wall-s' of each file

Prints the per-kernel table (one column group per configuration) and the geometric means over
the kernels every listed configuration tuned."""
import math
import sys
from collections import OrderedDict

rows = OrderedDict()  # kernel -> config -> (gflops, measured, to95, wall)
configs = []
for path in sys.argv[1:]:
    for line in open(path):
        f = line.split()
        if not f or f[0].startswith("#") or f[0] in ("kernel", "rc"):
            continue
        try:
            if len(f) == 7:  # bench_tuning: kernel strategy GFLOP/s measured invalid to-95% wall-s
                k, c, g, m, to, w = f[0], f[1], float(f[2]), int(f[3]), int(f[5]), float(f[6])
            elif len(f) == 7 + 0 or len(f) == 8:  # tvm: kernel strategy GFLOP/s retimed measured to-95% wall-s
                k, c, g, m, to, w = f[0], f[1], float(f[2]), int(f[4]), int(f[5]), float(f[6])
            else:
                continue
        except ValueError:
            continue
        rows.setdefault(k, OrderedDict())[c] = (g, m, to, w)
        if c not in configs:
            configs.append(c)

print("| kernel | " + " | ".join(f"{c} GFLOP/s (meas., s)" for c in configs) + " |")
print("|---|" + "---:|" * len(configs))
for k, cs in rows.items():
    cells = []
    for c in configs:
        if c in cs:
            g, m, to, w = cs[c]
            cells.append(f"{g:.1f} ({m}, {w:.0f})")
        else:
            cells.append("–")
    print(f"| {k} | " + " | ".join(cells) + " |")
print()
for c in configs:
    ks = [k for k in rows if c in rows[k] and rows[k][c][0] > 0]
    if not ks:
        continue
    gm = math.exp(sum(math.log(rows[k][c][0]) for k in ks) / len(ks))
    wm = math.exp(sum(math.log(rows[k][c][3]) for k in ks) / len(ks))
    print(f"- {c}: {len(ks)} kernels, geometric mean {gm:.1f} GFLOP/s, tuning wall time {wm:.0f} s, "
          f"{sum(rows[k][c][1] for k in ks)} measurements")
