#!/usr/bin/env python3
"""bench/gpu/peers.py: cuBLAS SGEMM and cuDNN convolutions through PyTorch, FP32 (TF32 off), on the
shapes of bench/gpu/gpu.ir, timed as bench_gpu times kcc's kernels: one checked run, warm-up, then
--reps samples (>= 5), each a batch of back-to-back calls between two CUDA events; the median sample
gives GFLOP/s.

Usage: python3 bench/gpu/peers.py [--reps N] [kernel ...]
Lines starting with "RESULT" are for run.sh: RESULT <cublas|cudnn> <kernel> <GFLOP/s> <median ms>.
"""
import argparse
import statistics
import sys

# (name, kind, shape): SGEMM n, or conv (C, H, W, F, R, S, stride, pad), batch 1, NCHW.
BENCHES = [
    ("sgemm1024", "sgemm", 1024),
    ("sgemm2048", "sgemm", 2048),
    ("sgemm4096", "sgemm", 4096),
    ("resnet_conv3x3", "conv", (64, 56, 56, 64, 3, 3, 1, 1)),
    ("resnet_conv1x1", "conv", (256, 56, 56, 64, 1, 1, 1, 0)),
    ("resnet_conv3x3_s2", "conv", (128, 28, 28, 256, 3, 3, 2, 1)),
    ("resnet_conv7x7_s2", "conv", (3, 224, 224, 64, 7, 7, 2, 3)),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=11, help="timed samples (>= 5)")
    ap.add_argument("kernels", nargs="*", help="only these kernels")
    args = ap.parse_args()
    reps = max(args.reps, 5)

    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("peers.py: skipped: PyTorch is not installed (pip install torch)")
        return 0
    if not torch.cuda.is_available():
        print("peers.py: skipped: no CUDA device visible to PyTorch")
        return 0

    # FP32 throughout, as kcc computes: no TF32 tensor-core shortcuts in cuBLAS or cuDNN.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True  # let cuDNN pick its fastest algorithm (found in warm-up)
    dev = torch.device("cuda")
    print(f"peers.py: torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, "
          f"{torch.cuda.get_device_name(0)}; median of {reps} samples (CUDA events)")
    print(f"{'kernel':<20} {'peer':<7} {'median ms':>12} {'GFLOP/s':>10} check")

    gen = torch.Generator(device=dev).manual_seed(0)
    failures = 0
    for name, kind, shape in BENCHES:
        if args.kernels and name not in args.kernels:
            continue
        if kind == "sgemm":
            n = shape
            a = torch.rand(n, n, device=dev, generator=gen) * 2 - 1
            b = torch.rand(n, n, device=dev, generator=gen) * 2 - 1
            out = torch.empty(n, n, device=dev)
            run = lambda: torch.mm(a, b, out=out)  # noqa: E731
            ref = lambda: (a.double() @ b.double())  # noqa: E731
            flops = 2.0 * n ** 3
            peer = "cublas"
        else:
            c, h, w, f, r, s, stride, pad = shape
            x = torch.rand(1, c, h, w, device=dev, generator=gen) * 2 - 1
            wt = torch.rand(f, c, r, s, device=dev, generator=gen) * 2 - 1
            run = lambda: F.conv2d(x, wt, stride=stride, padding=pad)  # noqa: E731
            ref = lambda: F.conv2d(x.double(), wt.double(), stride=stride, padding=pad)  # noqa: E731
            oh = (h + 2 * pad - r) // stride + 1
            ow = (w + 2 * pad - s) // stride + 1
            flops = 2.0 * f * c * r * s * oh * ow
            peer = "cudnn"

        # One checked run against an FP64 result on the device: a sanity check that TF32 is off.
        got = run().double()
        expect = ref()
        err = (got - expect).abs().max().item()
        scale = expect.abs().max().item() or 1.0
        ok = err <= 1e-4 * scale
        failures += not ok
        verdict = "ok" if ok else f"FAILED (max error {err:.3g}, scale {scale:.3g})"
        del got, expect

        for _ in range(3):
            run()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(3):
            run()
        end.record()
        end.synchronize()
        one_ms = start.elapsed_time(end) / 3
        batch = min(1000, int(2.0 / one_ms) + 1) if one_ms > 0 else 1000

        samples = []
        for _ in range(reps):
            start.record()
            for _ in range(batch):
                run()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end) / batch)
        med_ms = statistics.median(samples)
        gflops = flops / (med_ms * 1e-3) * 1e-9
        print(f"{name:<20} {peer:<7} {med_ms:12.4f} {gflops:10.1f} {verdict}")
        print(f"RESULT {peer} {name} {gflops:.2f} {med_ms:.5f}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
