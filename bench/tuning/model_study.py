#!/usr/bin/env python3
"""Per-task results of the model-level seed study (model_study.sh), from its databases.

    python3 bench/tuning/model_study.py --ir OUT/resnet18.ir hybrid=OUT/hybrid.db evolutionary=OUT/evolutionary.db

For every kernel of each model (.ir written by `kcc import`, whose model section says how often
each kernel is called) and every arm (NAME=DATABASE; the first arm is the reference), prints the
measurements so far and the best time, then for each other arm its best after as many
measurements as the reference arm made and how many it needed to come within 1% of the
reference's best. The last row sums calls x best time per arm: the tuner's estimate of the
model. Works on an arm still running or interrupted (a ten-fold arm may take several runs), so
per-task results can be reported as they come in.

The arms run hours apart, and this machine's speed drifts by 15% in that time (the same default
schedule measured 1,368 and 1,169 us twenty minutes apart): compare the arms' times with care.
Each arm also measures the kernel's default schedule first, so "x default" (default time / best
time, within the arm) is the drift-free column; the side-by-side bench of the tuned models is the
comparison that counts.

"Best" follows kcc's rule for a record: a schedule counts with its slowest measurement
(re-measurements of the best included), and the best is the fastest schedule by that count.
The curves use each measurement's median as it was taken. Only this machine's own records in
each database are read; nothing is written.

A second table follows each arm over its wall time: at 1, 2, 5 and 10 times the reference arm's
wall time (and at its end), how many measurements it had made and the model's estimate from the
best medians so far, in the arm's own times and put onto the reference's default times (each
kernel's best / default within the arm, times the reference arm's default: the drift-corrected
estimate). That is the claim "as fast in a fifth of the time" asked directly. Wall time runs
from the arm's first run and leaves out pauses of more than GAP seconds between measurements
(an arm run in parts).
"""
import argparse
import re
GAP = 900  # seconds without a measurement: the arm was stopped and resumed later
import sqlite3
import sys


def model_calls(path):
    """{kernel: calls} of every model in the .ir, in the order of first call; kernel names."""
    calls, order, in_model = {}, [], False
    with open(path) as f:
        for line in f:
            if line.startswith("model "):
                in_model = True
                continue
            if in_model and line.startswith("}"):
                in_model = False
                continue
            m = re.match(r"\s+\S+ = (\w+)\(", line) if in_model else None
            if m:
                k = m.group(1)
                if k not in calls:
                    order.append(k)
                calls[k] = calls.get(k, 0) + 1
    return order, calls


class Arm:
    def __init__(self, name, path):
        self.name = name
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def rows(self, kernel):
        """(strategy, schedule, median seconds or None) in measurement order."""
        return self.db.execute(
            "SELECT strategy, schedule, CASE WHEN outcome = 'ok' THEN median END FROM measurements "
            "WHERE kernel = ? ORDER BY id", (kernel,)).fetchall()


    def timeline(self):
        """(kernel, strategy, median or None, timestamp) in measurement order, and the arm's
        first run's start."""
        rows = self.db.execute(
            "SELECT kernel, strategy, CASE WHEN outcome = 'ok' THEN median END, timestamp "
            "FROM measurements ORDER BY id").fetchall()
        start = self.db.execute("SELECT MIN(started) FROM runs").fetchone()[0]
        return rows, start


def progress(arm, calls, marks):
    """[(wall s, measured, estimate s, {kernel: (best, default)})] at each wall time in marks
    (seconds, ascending) the arm reached, and at its end."""
    rows, start = arm.timeline()
    best, default, out = {}, {}, []
    measured, wall, last = 0, 0.0, start

    def snapshot():
        est = sum(calls[k] * best[k] for k in calls if k in best) if all(k in best for k in calls) else None
        return (wall, measured, est, {k: (best.get(k), default.get(k)) for k in calls})

    for kernel, strategy, median, stamp in rows:
        if kernel not in calls or stamp is None:
            continue
        step = stamp - (last if last is not None else stamp)
        last = stamp
        if step <= GAP:
            while marks and wall + step >= marks[0] > wall:
                marks.pop(0)
                out.append(snapshot())
            wall += step
        if strategy == "default" and kernel not in default:
            default[kernel] = median
        if strategy == "verify":
            continue
        measured += 1
        if median is not None and (kernel not in best or median < best[kernel]):
            best[kernel] = median
    out.append(snapshot())
    return out


def summarize(rows):
    """(measured, best seconds by kcc's rule, running best of the medians per measurement,
    the default schedule's first median)."""
    worst = {}
    curve, best_so_far, default = [], None, None
    for strategy, schedule, median in rows:
        if strategy == "default" and default is None:
            default = median
        if median is not None:
            worst[schedule] = max(worst.get(schedule, 0.0), median)
        if strategy == "verify":  # a re-measurement of the best: not a budget item
            continue
        if median is not None and (best_so_far is None or median < best_so_far):
            best_so_far = median
        curve.append(best_so_far)
    best = min(worst.values()) if worst else None
    return len(curve), best, curve, default


def us(s):
    if s is None:
        return "-"
    v = s * 1e6
    return f"{v:,.1f}" if v >= 10 else f"{v:.3g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ir", action="append", required=True, help="a model's .ir from kcc import (repeatable)")
    ap.add_argument("arms", nargs="+", help="NAME=DATABASE; the first is the reference")
    a = ap.parse_args()
    arms = []
    for spec in a.arms:
        name, sep, path = spec.partition("=")
        if not sep:
            sys.exit(f"model_study.py: '{spec}' is not NAME=DATABASE")
        arms.append(Arm(name, path))
    ref, others = arms[0], arms[1:]
    for ir in a.ir:
        order, calls = model_calls(ir)
        print(f"### {ir.rsplit('/', 1)[-1]}\n")
        head = ["kernel", "calls"]
        for arm in arms:
            head += [f"{arm.name} measured", f"{arm.name} best µs", f"{arm.name} × default"]
        for arm in others:
            head += [f"{arm.name} best at {ref.name}'s count", f"{arm.name} to within 1% of {ref.name}"]
        print("| " + " | ".join(head) + " |")
        print("|---|" + "---:|" * (len(head) - 1))
        totals = {arm.name: 0.0 for arm in arms}
        defaults = {arm.name: 0.0 for arm in arms}
        complete = {arm.name: True for arm in arms}
        for k in order:
            sums = {arm.name: summarize(arm.rows(k)) for arm in arms}
            cells = [k, str(calls[k])]
            for arm in arms:
                n, best, _, default = sums[arm.name]
                cells += [str(n), us(best), f"{default / best:.2f}" if best and default else "-"]
                if best is None or default is None:
                    complete[arm.name] = False
                else:
                    totals[arm.name] += calls[k] * best
                    defaults[arm.name] += calls[k] * default
            n_ref, best_ref, _, _ = sums[ref.name]
            for arm in others:
                _, _, curve, _ = sums[arm.name]
                at = curve[min(n_ref, len(curve)) - 1] if curve and n_ref else None
                reach = "-"
                if best_ref is not None:
                    hit = next((i + 1 for i, b in enumerate(curve) if b is not None and b <= best_ref * 1.01), None)
                    reach = str(hit) if hit else f"not in {len(curve)}"
                cells += [us(at), reach]
            print("| " + " | ".join(cells) + " |")
        cells = ["**calls × best, ms**", ""]
        for arm in arms:
            mark = "" if complete[arm.name] else " (kernels missing)"
            speedup = defaults[arm.name] / totals[arm.name] if totals[arm.name] else 0
            cells += ["", f"**{totals[arm.name] * 1e3:.3f}**{mark}", f"**{speedup:.3f}**"]
        cells += ["", ""] * len(others)
        print("| " + " | ".join(cells) + " |\n")
        over_time(ref, others, calls)


def over_time(ref, others, calls):
    """Each arm at multiples of the reference arm's wall time (see the module's comment)."""
    ref_end = progress(ref, calls, [])[-1]
    width = ref_end[0]
    ref_default = {k: d for k, (_, d) in ref_end[3].items()}
    print(f"Over wall time ({ref.name}'s: {width:,.0f} s; estimates from the best medians so far):\n")
    print("| arm | wall s | × " + ref.name + "'s wall | measured | estimate ms | on " + ref.name +
          "'s default times ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for arm in [ref] + others:
        points = progress(arm, calls, [] if arm is ref else [f * width for f in (1, 2, 5, 10)])
        for wall, measured, est, per in points:
            fixed = None
            if all(b and d and ref_default.get(k) for k, (b, d) in per.items()):
                fixed = sum(calls[k] * ref_default[k] * b / d for k, (b, d) in per.items())
            ms = lambda v: f"{v * 1e3:.3f}" if v else "-"
            print(f"| {arm.name} | {wall:,.0f} | {wall / width:.2f} | {measured} | {ms(est)} | {ms(fixed)} |")
    print()


if __name__ == "__main__":
    main()
