#!/usr/bin/env python3
"""bench/models/bench.py - times whole models in kcc and its peers, side by side, in one run.

Driver (run.sh calls it with the venv's python):
  bench.py drive --work DIR --models resnet50,... [--threads 1,2] [--rounds 4] [--per-round 5]
                 [--warmup 3] [--peers kcc,torch,ort,openvino] [--kcc SUBDIR=LABEL ...]
  DIR holds models/NAME.{onnx,in,out} (export_models.py) and, per kcc variant (--kcc, default
  kcc=kcc untuned), SUBDIR/NAME/harness-tT (harness.c; the object compiled with --threads T,
  for each thread count T); each variant is a row of its own.
Worker (one process per peer and model, started by the driver):
  bench.py worker PEER MODELS_DIR NAME THREADS,...

Every peer is a process that loads its model once, prints "ready", then answers commands on
stdin: "run T N" (N inferences on T threads: prints "times S1 ... SN", seconds each),
"save PATH" (one inference, its output as raw float32), "quit". The kcc harness speaks the same.

Per model and thread count: every peer warms up (--warmup inferences), then --rounds rounds; in
each round every peer in turn (the order rotates) runs 1 untimed and --per-round timed
inferences back to back. So load on the shared machine hits every peer alike, and each peer's
sample is rounds x per-round inferences. Reports median and min per peer, then each output
against PyTorch's: max |y - ref| / max |ref| (flagged above 1e-3). Prints markdown."""
import argparse
import importlib.metadata
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_NAMES = {"kcc": "kcc untuned", "torch": "PyTorch", "ort": "ONNX Runtime", "openvino": "OpenVINO"}
ERROR_LIMIT = 1e-3


# ---- workers ------------------------------------------------------------------------------

def torch_runner(models, name, threads):
    import torch
    sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "e2e"))
    import export_models  # the same module (seed 0) that wrote NAME.onnx
    torch.set_num_interop_threads(1)
    m, x = export_models.build(name)
    x = torch.from_numpy(np.fromfile(os.path.join(models, name + ".in"), dtype=np.float32).reshape(x.shape))

    def run(t):
        torch.set_num_threads(t)
        with torch.inference_mode():
            return m(x).numpy()
    return run


def ort_runner(models, name, threads):
    import onnxruntime as ort
    sessions = {}
    for t in threads:
        so = ort.SessionOptions()
        so.intra_op_num_threads = t
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sessions[t] = ort.InferenceSession(os.path.join(models, name + ".onnx"), so,
                                           providers=["CPUExecutionProvider"])
    shape = [d for d in sessions[threads[0]].get_inputs()[0].shape]
    x = np.fromfile(os.path.join(models, name + ".in"), dtype=np.float32).reshape(shape)
    return lambda t: sessions[t].run(None, {"input": x})[0]


def openvino_runner(models, name, threads):
    import openvino as ov
    core = ov.Core()
    model = core.read_model(os.path.join(models, name + ".onnx"))
    requests = {}
    x = np.fromfile(os.path.join(models, name + ".in"), dtype=np.float32).reshape(
        list(model.inputs[0].get_shape()))
    for t in threads:
        # fp32 as the others: on a CPU with AMX or AVX512-BF16 OpenVINO's default is bf16.
        compiled = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": t,
                                                     "INFERENCE_PRECISION_HINT": "f32"})
        r = compiled.create_infer_request()
        r.set_input_tensor(ov.Tensor(x))
        requests[t] = r

    def run(t):
        requests[t].infer()
        return requests[t].get_output_tensor(0).data.copy()
    return run


RUNNERS = {"torch": torch_runner, "ort": ort_runner, "openvino": openvino_runner}


def worker(peer, models, name, threads):
    run = RUNNERS[peer](models, name, threads)
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if cmd[0] == "run":
            t, n = int(cmd[1]), int(cmd[2])
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                run(t)
                times.append(time.perf_counter() - t0)
            print("times " + " ".join(f"{s:.9f}" for s in times), flush=True)
        elif cmd[0] == "save":
            np.asarray(run(threads[0]), dtype=np.float32).tofile(cmd[1])
            print("saved", flush=True)
        elif cmd[0] == "quit":
            break


# ---- driver -------------------------------------------------------------------------------

class Peer:
    def __init__(self, key, argv):
        self.key = key
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.expect("ready")

    def expect(self, word):
        line = self.proc.stdout.readline()
        if not line.startswith(word):
            raise RuntimeError(f"{self.key}: expected '{word}', got '{line.strip()}' (exit {self.proc.poll()})")
        return line.split()[1:]

    def run(self, threads, n):
        self.proc.stdin.write(f"run {threads} {n}\n")
        self.proc.stdin.flush()
        return [float(s) for s in self.expect("times")]

    def save(self, path):
        """Saves the output of one inference to PATH; returns [PATH]."""
        self.proc.stdin.write(f"save {path}\n")
        self.proc.stdin.flush()
        self.expect("saved")
        return [path]

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        self.proc.wait()


class PerThreadHarness:
    """A kcc variant compiled once per thread count (kcc compile --threads T takes the records
    tuned on T threads): SUBDIR/NAME/harness-tT, one process each, as one peer."""

    def __init__(self, key, argvs):
        self.key = key
        self.peers = {t: Peer(key, argv) for t, argv in argvs.items()}

    def run(self, threads, n):
        return self.peers[threads].run(threads, n)

    def save(self, path):
        """Saves every object's output, PATH.tT each; returns their paths."""
        return [f for t, p in self.peers.items() for f in p.save(f"{path}.t{t}")]

    def close(self):
        for p in self.peers.values():
            p.close()


def rel_error(y, ref):
    if y.shape != ref.shape:
        return float("inf")
    err = np.max(np.abs(y.astype(np.float64) - ref))
    return float("inf") if np.isnan(err) else float(err / np.max(np.abs(ref)))


def bench_model(args, name, threads):
    models = os.path.join(args.work, "models")
    load = [os.getloadavg()[0]]
    peers = []
    for key in expand(args):
        if key in args.kcc_labels:
            inp = os.path.join(models, name + ".in")
            peers.append(PerThreadHarness(key, {t: [os.path.join(args.work, key, name, f"harness-t{t}"), inp]
                                                for t in threads}))
            continue
        argv = [sys.executable, os.path.abspath(__file__), "worker", key, models, name, ",".join(map(str, threads))]
        peers.append(Peer(key, argv))
    times = {(p.key, t): [] for p in peers for t in threads}
    for t in threads:
        for p in peers:
            p.run(t, args.warmup)
        for r in range(args.rounds):
            for i in range(len(peers)):
                p = peers[(i + r) % len(peers)]
                times[(p.key, t)] += p.run(t, 1 + args.per_round)[1:]
            load.append(os.getloadavg()[0])
    outputs = {}
    for p in peers:
        path = os.path.join(args.work, "out", f"{name}.{p.key}.f32")
        outputs[p.key] = [np.fromfile(f, dtype=np.float32) for f in p.save(path)]
        p.close()
    ref = outputs["torch"][0] if "torch" in outputs else np.fromfile(os.path.join(models, name + ".out"), dtype=np.float32)
    errors = {k: max(rel_error(y, ref) for y in ys) for k, ys in outputs.items()}
    # PyTorch here against PyTorch at export: the same module, so the check compares like with like.
    errors["export"] = rel_error(np.fromfile(os.path.join(models, name + ".out"), dtype=np.float32), ref)
    return times, errors, load


def expand(args):
    """The peers in order, "kcc" replaced by each kcc variant (its work subfolder)."""
    out = []
    for key in args.peers:
        out += list(args.kcc_labels) if key == "kcc" else [key]
    return out


def label_of(args, key):
    return args.kcc_labels.get(key) or PEER_NAMES[key]


def fmt_ms(s):
    ms = s * 1e3
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def table(name, args, threads, times, errors, load):
    out = [f"### {name}", ""]
    head = "| runtime |" + "".join(f" {t} thr: median ms | min |" for t in threads) + " max err / max ref |"
    out += [head, "|---|" + "---:|---:|" * len(threads) + "---:|"]
    med = {k: statistics.median(v) for k, v in times.items()}
    for key in expand(args):
        e = errors.get(key, float("nan"))
        flag = " **> 1e-3**" if not e <= ERROR_LIMIT else ""
        label = label_of(args, key)
        row = f"| {label} |" + "".join(f" {fmt_ms(med[(key, t)])} | {fmt_ms(min(times[(key, t)]))} |"
                                        for t in threads)
        out.append(row + (" (reference)" if key == "torch" else f" {e:.2g}{flag}") + " |")
    others = [k for k in args.peers if k != "kcc"]
    if "kcc" in args.peers and others:
        for variant, name in args.kcc_labels.items():
            cells = []
            for t in threads:
                best = min(others, key=lambda k: med[(k, t)])
                cells.append(f" **{med[(variant, t)] / med[(best, t)]:.2f}×** {PEER_NAMES[best]} | |")
            out.append(f"| {name} / best peer |" + "".join(cells) + " |")
    n = len(next(iter(times.values())))
    out += ["", f"{n} timed inferences per cell ({args.rounds} rounds × {args.per_round}, interleaved, after "
            f"{args.warmup} warm-up); PyTorch here vs its export-time output: {errors['export']:.2g}; "
            f"load average (1 min) {min(load):.1f}–{max(load):.1f} during the model.", ""]
    return "\n".join(out)


def drive(args):
    threads = [int(t) for t in args.threads.split(",")]
    os.makedirs(os.path.join(args.work, "out"), exist_ok=True)
    versions = []
    for pkg in ("torch", "onnxruntime", "openvino", "numpy"):
        try:
            versions.append(f"{pkg} {importlib.metadata.version(pkg)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{pkg} (not installed)")
    try:
        import tvm  # noqa: F401
        versions.append("tvm: installed, but no TVM peer is wired in yet (skipped)")
    except ImportError:
        versions.append("tvm: not installed (skipped)")
    print("Versions: " + ", ".join(versions) + "\n", flush=True)
    for name in args.models:
        times, errors, load = bench_model(args, name, threads)
        print(table(name, args, threads, times, errors, load), flush=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        _, _, peer, models, name, threads = sys.argv
        worker(peer, models, name, [int(t) for t in threads.split(",")])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["drive"])
    ap.add_argument("--work", required=True)
    ap.add_argument("--models", type=lambda s: s.split(","), required=True)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--per-round", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--peers", type=lambda s: s.split(","), default=["kcc", "torch", "ort", "openvino"])
    ap.add_argument("--kcc", action="append", default=[],
                    help="SUBDIR=LABEL: a kcc variant, its harnesses in WORK/SUBDIR/NAME (default kcc=kcc untuned)")
    args = ap.parse_args()
    args.kcc_labels = dict(v.split("=", 1) for v in (args.kcc or ["kcc=kcc untuned"]))
    drive(args)


if __name__ == "__main__":
    main()
