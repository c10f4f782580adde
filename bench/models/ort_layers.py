#!/usr/bin/env python3
"""bench/models/ort_layers.py - ONNX Runtime's time per convolution and Gemm of a model, keyed
like kcc's kernel names, so that a kcc per-kernel profile (profile.c) can be read against it.

  ort_layers.py MODEL.onnx THREADS REPS [--profile-out KCC_PROFILE.txt]

Runs REPS inferences (after 3 warm-up) with ONNX Runtime's profiler on, takes each node's
median kernel time, and sums them per key: `conv_{C}x{H}x{W}_k{K}s{S}` for a Conv (output
channels, output height and width, kernel, stride, then `_relu`, `_add_relu` or `_add` as the
graph's Conv is followed: kcc's kernel name without its layout token) and `gemm_{M}x{N}` for a
Gemm/MatMul. ORT's fused nodes (Conv + Add + Relu) keep the Conv's name, so a kcc kernel with
its epilogue compares with the fused node. With --profile-out, the markdown table of profile.c's output is read and a column
"ORT ms/inference" and the ratio are added per kcc kernel. Needs the bench venv (onnx,
onnxruntime); nothing here is a dependency of kcc."""
import argparse
import collections
import json
import os
import re
import statistics
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import shape_inference


def conv_keys(model):
    """Node or tensor name -> key, from the model's inferred shapes. ORT's NCHWc nodes are named
    after the tensor their fused chain writes (the Conv's, its Relu's or its Add's output), so
    each of those names maps to the Conv's key too."""
    inferred = shape_inference.infer_shapes(model)
    shapes = {}
    for v in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
        dims = [d.dim_value for d in v.type.tensor_type.shape.dim]
        shapes[v.name] = dims
    consumers = collections.defaultdict(list)
    for n in inferred.graph.node:
        for i in n.input:
            consumers[i].append(n)

    def epilogue(out):
        """kcc's suffix for what ORT fuses into the node: _relu, _add_relu, _add or nothing."""
        c = consumers.get(out, [])
        if len(c) != 1:
            return ""
        if c[0].op_type == "Relu":
            return "_relu"
        if c[0].op_type == "Add":
            after = consumers.get(c[0].output[0], [])
            return "_add_relu" if len(after) == 1 and after[0].op_type == "Relu" else "_add"
        return ""

    keys = {}
    for n in inferred.graph.node:
        out = shapes.get(n.output[0])
        if not out:
            continue
        if n.op_type == "Conv":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            k = attrs.get("kernel_shape", [0])[0]
            s = attrs.get("strides", [1])[0]
            key = f"conv_{out[1]}x{out[2]}x{out[3]}_k{k}s{s}" + epilogue(n.output[0])
            keys[n.name] = key
            chain = [n.output[0]]
            while len(consumers.get(chain[-1], [])) == 1 and consumers[chain[-1]][0].op_type in ("Relu", "Add"):
                chain.append(consumers[chain[-1]][0].output[0])
            for t in chain:
                keys[t] = key
        elif n.op_type in ("Gemm", "MatMul") and len(out) == 2:
            keys[n.name] = f"gemm_{out[0]}x{out[1]}"
    return keys


def profile(path, threads, reps):
    model = onnx.load(path)
    keys = conv_keys(model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    x = np.random.default_rng(0).standard_normal([d if isinstance(d, int) else 1 for d in inp.shape]).astype(np.float32)
    for _ in range(3):
        sess.run(None, {inp.name: x})
    for _ in range(reps):
        sess.run(None, {inp.name: x})
    trace = json.load(open(sess.end_profiling()))
    per_node = collections.defaultdict(list)
    for e in trace:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_node[e["name"][: -len("_kernel_time")]].append(e["dur"] * 1e-3)  # ms
    total = collections.defaultdict(float)
    everything = 0.0
    for node, times in per_node.items():
        runs = times[-reps:]  # the warm-up runs come first
        m = statistics.median(runs)
        everything += m
        key = keys.get(node) or keys.get(node[: -len("_nchwc")] if node.endswith("_nchwc") else node)
        if key:
            total[key] += m
    return total, everything


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("threads", type=int)
    ap.add_argument("reps", type=int)
    ap.add_argument("--profile-out", help="profile.c's output for the same model, to annotate")
    a = ap.parse_args()
    total, everything = profile(a.model, a.threads, a.reps)
    print(f"ONNX Runtime {ort.__version__}, {a.threads} thread(s): all nodes {everything:.1f} ms per inference "
          f"(sum of medians), convolutions and Gemms {sum(total.values()):.1f} ms\n")
    if not a.profile_out:
        for key, ms in sorted(total.items(), key=lambda kv: -kv[1]):
            print(f"{key}\t{ms:.3f}")
        return
    rows = [l for l in open(a.profile_out) if re.match(r"\| \d+ \|", l)]
    print("| kcc kernel | kcc in sequence ms | ORT ms | kcc / ORT |")
    print("|---|---:|---:|---:|")
    kcc_sum = ort_sum = 0.0
    for l in rows:
        cells = [c.strip() for c in l.strip().strip("|").split("|")]
        name, seq = cells[1], float(cells[6])
        plain = re.sub(r"_\d+c(?=_|$)", "", name)  # the layout token: conv_256x14x14_k3s1_16c_relu
        key = plain if plain in total else None
        if key is None:
            continue
        kcc_sum += seq
        ort_sum += total[key]
        print(f"| {name} | {seq:.2f} | {total[key]:.2f} | {seq / total[key]:.2f} |")
    if ort_sum > 0:
        print(f"| **matched kernels** | {kcc_sum:.1f} | {ort_sum:.1f} | {kcc_sum / ort_sum:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
