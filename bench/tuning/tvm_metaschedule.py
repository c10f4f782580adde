#!/usr/bin/env python3
"""bench/tuning/tvm_metaschedule.py - TVM MetaSchedule (PyPI apache-tvm) as the tuner peer.

Tunes the same workloads as bench/tuning/kernels.ir (same shapes, fp32, batch 1, NCHW for
convolutions) with MetaSchedule's default evolutionary search + XGBoost cost model, `--trials`
measurements, on one core (target num-cores 1, TVM_NUM_THREADS=1), then re-times the best
schedule with time_evaluator (median of 7 repeats, each >= 50 ms) and prints one line per kernel:

  kernel  trials  GFLOP/s(best record)  GFLOP/s(re-timed)  to-95%  wall-s

  python tvm_metaschedule.py --trials 300 --only resnet_conv3x3,bert_qk --out /tmp/ms

Needs: pip install apache-tvm xgboost-cpu (tested with apache-tvm 0.27.0.post1 on Python 3.11,
where MetaSchedule lives in tvm.s_tir.meta_schedule).
"""
import argparse
import json
import os
import shutil
import sys
import time

os.environ.setdefault("TVM_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import tvm  # noqa: E402
from tvm import te  # noqa: E402

try:
    from tvm.s_tir import meta_schedule as ms  # apache-tvm >= 0.2x
except ImportError:  # older wheels
    from tvm import meta_schedule as ms


def conv2d(n, c, h, w, f, kh, kw, stride, pad):
    X = te.placeholder((n, c, h, w), name="X")
    W = te.placeholder((f, c, kh, kw), name="W")
    hp, wp = h + 2 * pad, w + 2 * pad
    P = te.compute(
        (n, c, hp, wp),
        lambda a, b, y, x: tvm.tirx.if_then_else(
            tvm.tirx.all(y >= pad, y < h + pad, x >= pad, x < w + pad), X[a, b, y - pad, x - pad], 0.0
        ),
        name="P",
    )
    oh, ow = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    rc, rr, rs = te.reduce_axis((0, c)), te.reduce_axis((0, kh)), te.reduce_axis((0, kw))
    Y = te.compute(
        (n, f, oh, ow),
        lambda a, g, y, x: te.sum(P[a, rc, y * stride + rr, x * stride + rs] * W[g, rc, rr, rs], axis=[rc, rr, rs]),
        name="Y",
    )
    return [X, W, Y], 2.0 * n * f * oh * ow * c * kh * kw


def conv2d_16c(n, c, h, w, f, kh, kw, stride, pad, depthwise=False):
    """kernels.ir's *_16c layers: activations [N, C/16, H, W, 16], weights [F/16, C/16, KH, KW,
    16 (in), 16 (out)]; the stem (C = 3) reads NCHW with weights [F/16, C, KH, KW, 16];
    depthwise weights [C/16, KH, KW, 16]."""
    blocked = c % 16 == 0
    X = te.placeholder((n, c // 16, h, w, 16) if blocked else (n, c, h, w), name="X")
    hp, wp = h + 2 * pad, w + 2 * pad
    inside = lambda y, x: tvm.tirx.all(y >= pad, y < h + pad, x >= pad, x < w + pad)  # noqa: E731
    if blocked:
        P = te.compute((n, c // 16, hp, wp, 16),
                       lambda a, b, y, x, i: tvm.tirx.if_then_else(inside(y, x), X[a, b, y - pad, x - pad, i], 0.0),
                       name="P")
    else:
        P = te.compute((n, c, hp, wp),
                       lambda a, b, y, x: tvm.tirx.if_then_else(inside(y, x), X[a, b, y - pad, x - pad], 0.0), name="P")
    oh, ow = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    rr, rs = te.reduce_axis((0, kh)), te.reduce_axis((0, kw))
    if depthwise:
        W = te.placeholder((c // 16, kh, kw, 16), name="W")
        Y = te.compute((n, c // 16, oh, ow, 16),
                       lambda a, b, y, x, i: te.sum(P[a, b, y * stride + rr, x * stride + rs, i] * W[b, rr, rs, i],
                                                    axis=[rr, rs]), name="Y")
        return [X, W, Y], 2.0 * n * c * oh * ow * kh * kw
    if blocked:
        W = te.placeholder((f // 16, c // 16, kh, kw, 16, 16), name="W")
        rc, ri = te.reduce_axis((0, c // 16)), te.reduce_axis((0, 16))
        Y = te.compute((n, f // 16, oh, ow, 16),
                       lambda a, g, y, x, o: te.sum(P[a, rc, y * stride + rr, x * stride + rs, ri] * W[g, rc, rr, rs, ri, o],
                                                    axis=[rc, rr, rs, ri]), name="Y")
    else:
        W = te.placeholder((f // 16, c, kh, kw, 16), name="W")
        rc = te.reduce_axis((0, c))
        Y = te.compute((n, f // 16, oh, ow, 16),
                       lambda a, g, y, x, o: te.sum(P[a, rc, y * stride + rr, x * stride + rs] * W[g, rc, rr, rs, o],
                                                    axis=[rc, rr, rs]), name="Y")
    return [X, W, Y], 2.0 * n * f * oh * ow * c * kh * kw


def conv1x1(n, c, h, w, f):
    X = te.placeholder((n, c, h, w), name="X")
    W = te.placeholder((f, c), name="W")
    rc = te.reduce_axis((0, c))
    Y = te.compute((n, f, h, w), lambda a, g, y, x: te.sum(X[a, rc, y, x] * W[g, rc], axis=rc), name="Y")
    return [X, W, Y], 2.0 * n * f * h * w * c


def batch_qk(b, m, n, d):
    Q = te.placeholder((b, m, d), name="Q")
    K = te.placeholder((b, n, d), name="K")
    rd = te.reduce_axis((0, d))
    S = te.compute((b, m, n), lambda h, i, j: te.sum(Q[h, i, rd] * K[h, j, rd], axis=rd), name="S")
    return [Q, K, S], 2.0 * b * m * n * d


def dense_gelu(m, n, k):
    """BERT dense layer with the weights stored [out, in] and the tanh GELU fused (kernels.ir)."""
    X = te.placeholder((m, k), name="X")
    W = te.placeholder((n, k), name="W")
    b = te.placeholder((n,), name="b")
    rk = te.reduce_axis((0, k))
    acc = te.compute((m, n), lambda i, j: te.sum(X[i, rk] * W[j, rk], axis=rk), name="acc")
    tanh = getattr(te, "tanh", None) or tvm.tirx.tanh

    def gelu(i, j):
        v = acc[i, j] + b[j]
        return 0.5 * v * (1.0 + tanh(0.7978845608 * (v + 0.044715 * v * v * v)))

    Y = te.compute((m, n), gelu, name="Y")
    return [X, W, b, Y], 2.0 * m * n * k


def gemm(m, n, k):
    A = te.placeholder((m, k), name="A")
    B = te.placeholder((k, n), name="B")
    rk = te.reduce_axis((0, k))
    C = te.compute((m, n), lambda i, j: te.sum(A[i, rk] * B[rk, j], axis=rk), name="C")
    return [A, B, C], 2.0 * m * n * k


WORKLOADS = {
    "resnet_conv3x3": lambda: conv2d(1, 64, 56, 56, 64, 3, 3, 1, 1),
    "resnet_conv1x1": lambda: conv1x1(1, 256, 56, 56, 64),
    "resnet_conv3x3_s2": lambda: conv2d(1, 128, 28, 28, 256, 3, 3, 2, 1),
    "resnet_conv7x7_s2": lambda: conv2d(1, 3, 224, 224, 64, 7, 7, 2, 3),
    "vgg_conv3x3": lambda: conv2d(1, 512, 14, 14, 512, 3, 3, 1, 1),
    "bert_qk": lambda: batch_qk(12, 128, 128, 64),
    "bert_dense_gelu": lambda: dense_gelu(128, 768, 768),
    "sgemm512": lambda: gemm(512, 512, 512),
    "sgemm1024": lambda: gemm(1024, 1024, 1024),
    "resnet_conv3x3_16c": lambda: conv2d_16c(1, 64, 56, 56, 64, 3, 3, 1, 1),
    "resnet_conv1x1_16c": lambda: conv2d_16c(1, 256, 56, 56, 64, 1, 1, 1, 0),
    "resnet_conv3x3_s2_16c": lambda: conv2d_16c(1, 128, 28, 28, 256, 3, 3, 2, 1),
    "mobilenet_dw3x3_16c": lambda: conv2d_16c(1, 144, 56, 56, 144, 3, 3, 1, 1, depthwise=True),
    "resnet_conv7x7_s2_16c": lambda: conv2d_16c(1, 3, 224, 224, 64, 7, 7, 2, 3),
    "vgg_conv3x3_16c": lambda: conv2d_16c(1, 512, 14, 14, 512, 3, 3, 1, 1),
}


def _skip_tensor_intrin():
    """Builder-worker initializer. MetaSchedule's default_build imports tvm.s_tir.tensor_intrin
    (every target's tensor intrinsics, parsed from TVMScript): ~50 s per worker process on this
    machine, more than LocalBuilder's 30 s timeout, so every candidate failed to build. fp32 on
    x86 uses none of them: an empty module stands in."""
    import types

    sys.modules.setdefault("tvm.s_tir.tensor_intrin", types.ModuleType("tvm.s_tir.tensor_intrin"))


def measuring_order_times(work_dir):
    """Median run time of every record, in the order they were measured. The JSON database
    appends one line per measurement to database_tuning_record.json; get_all_tuning_records()
    returns them sorted by run time instead, which made the best-so-far curve (and the
    measurements-to-95% column) useless. A failed build or run has run_secs 1e10: infinite."""
    times = []
    with open(os.path.join(work_dir, "database_tuning_record.json")) as f:
        for line in f:
            secs = [float(x) for x in (json.loads(line)[1][1] or [])]
            times.append(float(np.median(secs)) if secs and min(secs) < 1e9 else float("inf"))
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--only", default="resnet_conv3x3,bert_qk")
    ap.add_argument("--out", default="/tmp/tvm-ms")
    ap.add_argument("--mcpu", default="znver4")
    args = ap.parse_args()
    target = tvm.target.Target({"kind": "llvm", "mcpu": args.mcpu, "num-cores": 1})
    print(f"# TVM {tvm.__version__} MetaSchedule, target {target}, {args.trials} trials per kernel", flush=True)
    print(f"{'kernel':<20} {'strategy':<18} {'GFLOP/s':>9} {'retimed':>9} {'measured':>9} {'to-95%':>7} {'wall-s':>8}",
          flush=True)
    for name in args.only.split(","):
        tensors, flops = WORKLOADS[name]()
        func = te.create_prim_func(tensors).with_attr("global_symbol", "main")
        mod = tvm.IRModule({"main": func})
        work_dir = os.path.join(args.out, name)
        shutil.rmtree(work_dir, ignore_errors=True)
        t0 = time.time()
        builder = ms.builder.LocalBuilder(max_workers=2, timeout_sec=60, initializer=_skip_tensor_intrin)
        db = ms.tune_tir(mod=mod, target=target, work_dir=work_dir, max_trials_global=args.trials,
                         num_trials_per_iter=min(64, args.trials), builder=builder, num_tuning_cores=2, seed=1)
        wall = time.time() - t0
        times = measuring_order_times(work_dir)
        best_curve, best = [], float("inf")
        for t in times:
            best = min(best, t)
            best_curve.append(flops / best / 1e9 if best < float("inf") else 0.0)
        gflops = max(best_curve) if best_curve else 0.0
        to95 = next((i + 1 for i, g in enumerate(best_curve) if g >= 0.95 * gflops), 0)
        retimed = 0.0
        try:
            sch = db.query_schedule(mod, target=target, workload_name="main")
            lib = tvm.compile(sch.mod, target=target)
            dev = tvm.cpu(0)
            bufs = [tvm.runtime.tensor(np.random.rand(*[int(d) for d in t.shape]).astype("float32"), dev)
                    for t in tensors]
            rt = lib.jit() if hasattr(lib, "jit") else lib  # tvm.compile returns an Executable in 0.2x
            ev = rt.time_evaluator("main", dev, number=1, repeat=7, min_repeat_ms=50)
            retimed = flops / float(np.median(ev(*bufs).results)) / 1e9
        except Exception as e:  # report, keep going
            print(f"# {name}: re-timing failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        print(f"{name:<20} {'tvm-ms-' + str(args.trials):<18} {gflops:>9.2f} {retimed:>9.2f} {len(times):>9} {to95:>7} "
              f"{wall:>8.1f}", flush=True)
        with open(os.path.join(work_dir, "curve.txt"), "w") as f:
            f.write("\n".join(f"{g:.3f}" for g in best_curve) + "\n")


if __name__ == "__main__":
    main()
