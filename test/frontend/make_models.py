#!/usr/bin/env python3
"""Writes the ONNX models test_onnx_import.cpp reads, into OUT_DIR.

  ops/NAME.onnx     one small model per operator variant, built with onnx.helper
  errors/NAME.onnx  a model with a dynamic dimension (the bad models are test/error/onnx_errors.py's)
  torch/NAME.onnx   PyTorch exports (fixed seed, random weights) and torch/expected.json with the
                    output shapes PyTorch computes
  lower/NAME.onnx   small models with NAME.in (the inputs, float32 raw, concatenated) and NAME.out
                    (PyTorch's outputs for them): what an imported model must compute
Each group writes GROUP.status: "ok", or "skip: <why>" when its Python packages are missing.
"""
import json
import os
import sys

OUT = sys.argv[1]
FLOAT = 1


def write_status(group, text):
    with open(os.path.join(OUT, group + ".status"), "w") as f:
        f.write(text + "\n")


def onnx_groups():
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    def model(path, nodes, inputs, outputs, inits=None, opset=13):
        """inputs: [(name, shape[, elem_type])], float unless given (a str dimension is dynamic);
        outputs: names (no declared shape); inits: {name: numpy array}."""
        g = helper.make_graph(
            nodes,
            os.path.basename(path)[:-5],
            [helper.make_tensor_value_info(i[0], i[2] if len(i) > 2 else FLOAT, i[1]) for i in inputs],
            [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in outputs],
            [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()],
        )
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 8
        with open(path, "wb") as f:
            f.write(m.SerializeToString())

    rng = np.random.default_rng(0)

    def w(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    def i64(*v):
        return np.array(v, dtype=np.int64)

    N = helper.make_node
    os.makedirs(os.path.join(OUT, "ops"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "errors"), exist_ok=True)
    op = lambda name: os.path.join(OUT, "ops", name + ".onnx")
    err = lambda name: os.path.join(OUT, "errors", name + ".onnx")

    # Convolution and pooling.
    model(op("conv_pads"), [N("Conv", ["x", "w", "b"], ["y"], name="conv", pads=[1, 0, 2, 1], strides=[2, 2])],
          [("x", [1, 3, 10, 10])], ["y"], {"w": w(8, 3, 3, 3), "b": w(8)})
    for mode in ["SAME_UPPER", "SAME_LOWER", "VALID"]:
        model(op("conv_" + mode.lower()), [N("Conv", ["x", "w"], ["y"], name="conv", auto_pad=mode, strides=[2, 2])],
              [("x", [1, 3, 10, 9])], ["y"], {"w": w(4, 3, 4, 4)})
    model(op("conv_group_dilation"), [N("Conv", ["x", "w"], ["y"], name="conv", group=4, dilations=[2, 2])],
          [("x", [1, 8, 16, 16])], ["y"], {"w": w(8, 2, 3, 3)})
    model(op("conv_transpose"),
          [N("ConvTranspose", ["x", "w"], ["y"], name="deconv", strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])],
          [("x", [1, 4, 5, 5])], ["y"], {"w": w(4, 2, 3, 3)})
    model(op("conv_transpose_output_shape"),
          [N("ConvTranspose", ["x", "w"], ["y"], name="deconv", strides=[2, 2], output_shape=[10, 10])],
          [("x", [1, 4, 5, 5])], ["y"], {"w": w(4, 2, 3, 3)})
    model(op("maxpool_ceil"), [N("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)],
          [("x", [1, 1, 6, 6])], ["y"])
    model(op("maxpool_ceil_last_window"),
          [N("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[3, 3], strides=[3, 3], pads=[1, 1, 1, 1], ceil_mode=1)],
          [("x", [1, 1, 5, 5])], ["y"])
    model(op("avgpool_pads"),
          [N("AveragePool", ["x"], ["y"], name="pool", kernel_shape=[3, 3], pads=[0, 1, 1, 0], count_include_pad=1)],
          [("x", [1, 2, 7, 7])], ["y"])
    model(op("avgpool_same_lower"),
          [N("AveragePool", ["x"], ["y"], name="pool", kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_LOWER")],
          [("x", [1, 2, 7, 7])], ["y"])
    model(op("global_avgpool_bn"),
          [N("BatchNormalization", ["x", "s", "b", "m", "v"], ["t"], name="bn", epsilon=1e-3),
           N("GlobalAveragePool", ["t"], ["y"], name="gap")],
          [("x", [2, 4, 5, 5])], ["y"], {"s": w(4), "b": w(4), "m": w(4), "v": np.abs(w(4))})

    # Matrix products.
    model(op("gemm_trans"), [N("Gemm", ["a", "b", "c"], ["y"], name="fc", transA=1, transB=1, alpha=0.5)],
          [("a", [4, 3])], ["y"], {"b": w(5, 4), "c": w(5)})
    model(op("matmul_batched"), [N("MatMul", ["a", "b"], ["y"], name="mm")], [("a", [2, 1, 4, 3]), ("b", [5, 3, 6])], ["y"])
    model(op("matmul_vector"), [N("MatMul", ["a", "b"], ["y"], name="mm")], [("a", [3]), ("b", [2, 3, 4])], ["y"])

    # Element-wise.
    model(op("add_broadcast"),
          [N("Add", ["a", "b"], ["t"], name="add"), N("Mul", ["t", "s"], ["y"], name="mul")],
          [("a", [2, 3, 4, 5]), ("b", [4, 1])], ["y"], {"s": np.array(2.0, dtype=np.float32)})
    model(op("unary_chain"),
          [N("LeakyRelu", ["x"], ["a"], name="leaky", alpha=0.2), N("HardSigmoid", ["a"], ["b"], name="hsig"),
           N("HardSwish", ["b"], ["c"], name="hswish"), N("Erf", ["c"], ["d"], name="erf"),
           N("Gelu", ["d"], ["e"], name="gelu", approximate="tanh"), N("PRelu", ["e", "slope"], ["f"], name="prelu"),
           N("Pow", ["f", "two"], ["y"], name="pow")],
          [("x", [1, 3, 2, 2])], ["y"], {"slope": w(3, 1, 1), "two": np.array(2.0, dtype=np.float32)})
    model(op("clip_inputs"), [N("Clip", ["x", "lo", ""], ["y"], name="clip")], [("x", [2, 3])], ["y"],
          {"lo": np.array(0.0, dtype=np.float32)}, opset=11)

    # Data movement; axes per opset.
    model(op("concat_negative_axis"), [N("Concat", ["a", "b"], ["y"], name="cat", axis=-1)], [("a", [2, 3]), ("b", [2, 5])], ["y"])
    model(op("split_attr_opset11"), [N("Split", ["x"], ["y0", "y1"], name="split", axis=1, split=[2, 4])], [("x", [2, 6])],
          ["y0", "y1"], opset=11)
    model(op("split_input_opset13"), [N("Split", ["x", "s"], ["y0", "y1", "y2"], name="split", axis=-1)], [("x", [2, 6])],
          ["y0", "y1", "y2"], {"s": i64(1, 2, 3)})
    model(op("split_num_outputs_opset18"), [N("Split", ["x"], ["y0", "y1", "y2"], name="split", num_outputs=3)],
          [("x", [10, 2])], ["y0", "y1", "y2"], opset=18)
    model(op("squeeze_unsqueeze_opset11"),
          [N("Squeeze", ["x"], ["t"], name="sq", axes=[-1]), N("Unsqueeze", ["t"], ["y"], name="unsq", axes=[0, -1])],
          [("x", [3, 1, 4, 1])], ["y"], opset=11)
    model(op("squeeze_unsqueeze_opset13"),
          [N("Squeeze", ["x", "a1"], ["t"], name="sq"), N("Unsqueeze", ["t", "a2"], ["y"], name="unsq")],
          [("x", [3, 1, 4, 1])], ["y"], {"a1": i64(-1), "a2": i64(0, -1)})
    model(op("slice_negative"), [N("Slice", ["x", "st", "en", "ax", "sp"], ["y"], name="slice")], [("x", [6, 8, 5])], ["y"],
          {"st": i64(-1, 1), "en": i64(-(2**63), 2**63 - 1), "ax": i64(-2, 0), "sp": i64(-2, 2)})
    model(op("reshape_zero_minus_one"), [N("Reshape", ["x", "s"], ["y"], name="reshape")], [("x", [2, 3, 4])], ["y"],
          {"s": i64(0, -1, 2)})
    model(op("flatten_negative_axis"), [N("Flatten", ["x"], ["y"], name="flat", axis=-2)], [("x", [2, 3, 4, 5])], ["y"])
    model(op("transpose_default"), [N("Transpose", ["x"], ["y"], name="tr")], [("x", [2, 3, 4])], ["y"])
    model(op("gather_constant_indices"), [N("Gather", ["x", "i"], ["y"], name="gather", axis=-1)], [("x", [4, 5])], ["y"],
          {"i": i64(4, -1, 0)})

    # Normalizations and reductions.
    model(op("softmax_opset11"), [N("Softmax", ["x"], ["y"], name="softmax")], [("x", [2, 7])], ["y"], opset=11)
    model(op("layer_norm_opset17"), [N("LayerNormalization", ["x", "s", "b"], ["y"], name="ln", axis=-1)],
          [("x", [2, 4, 8])], ["y"], {"s": w(8), "b": w(8)}, opset=17)
    model(op("reduce_mean_attr_opset13"), [N("ReduceMean", ["x"], ["y"], name="mean", axes=[-1, 1], keepdims=0)],
          [("x", [2, 3, 4])], ["y"])
    model(op("reduce_sum_input_opset13"), [N("ReduceSum", ["x", "a"], ["y"], name="sum")], [("x", [2, 3, 4])], ["y"],
          {"a": i64(-2)})
    model(op("reduce_mean_input_opset18"), [N("ReduceMean", ["x", "a"], ["y"], name="mean", keepdims=1)], [("x", [2, 3, 4])],
          ["y"], {"a": i64(0)}, opset=18)

    # Folding: a torch-style shape computation, constants through Cast/Range/Equal/Where/Expand,
    # and Identity/Dropout removal.
    model(op("fold_shape_chain"),
          [N("Shape", ["x"], ["s"], name="shape"), N("Gather", ["s", "zero"], ["n"], name="g0", axis=0),
           N("Unsqueeze", ["n", "ax0"], ["n1"], name="u0"), N("Concat", ["n1", "minus1"], ["dims"], name="cat", axis=0),
           N("Reshape", ["x", "dims"], ["y"], name="reshape")],
          [("x", [2, 3, 4])], ["y"], {"zero": np.array(0, dtype=np.int64), "ax0": i64(0), "minus1": i64(-1)})
    model(op("fold_constants"),
          [N("Constant", [], ["n"], name="c", value_ints=[3]), N("ConstantOfShape", ["n"], ["ones"], name="cos",
                                                                  value=helper.make_tensor("v", FLOAT, [1], [1.0])),
           N("Range", ["r0", "r1", "r2"], ["r"], name="range"), N("Cast", ["r"], ["rf"], name="cast", to=FLOAT),
           N("Equal", ["r", "one"], ["eq"], name="eq"), N("Where", ["eq", "ones", "rf"], ["wh"], name="where"),
           N("Expand", ["wh", "shape23"], ["ex"], name="expand"), N("Add", ["x", "ex"], ["y"], name="add")],
          [("x", [2, 3])], ["y"],
          {"r0": np.array(0, dtype=np.int64), "r1": np.array(3, dtype=np.int64), "r2": np.array(1, dtype=np.int64),
           "one": np.array(1, dtype=np.int64), "shape23": i64(2, 1)})
    model(op("identity_dropout"),
          [N("Identity", ["x"], ["a"], name="id0"), N("Relu", ["a"], ["b"], name="relu"),
           N("Dropout", ["b"], ["c"], name="drop"), N("Identity", ["c"], ["y"], name="id1")],
          [("x", [2, 3])], ["y"])
    write_status("ops", "ok")

    # A dynamic batch dimension, imported with --input-shape (the bad models are test/error's).
    model(err("dynamic_batch"), [N("Relu", ["input"], ["y"], name="relu")], [("input", ["batch", 3, 224, 224])], ["y"])
    write_status("errors", "ok")


def torch_group():
    import torch
    import torchvision

    os.makedirs(os.path.join(OUT, "torch"), exist_ok=True)
    path = lambda name: os.path.join(OUT, "torch", name + ".onnx")
    expected = {}

    def export(name, module, args, opset, **kw):
        torch.manual_seed(0)
        module.eval()
        with torch.no_grad():
            outs = module(*args)
        outs = outs if isinstance(outs, (tuple, list)) else [outs]
        expected[name] = [list(o.shape) for o in outs]
        torch.onnx.export(module, args, path(name), opset_version=opset, **kw)

    torch.manual_seed(0)
    export("resnet18", torchvision.models.resnet18(weights=None), (torch.randn(1, 3, 224, 224),), 13,
           input_names=["input"], output_names=["logits"])
    torch.manual_seed(0)
    export("mobilenet_v2", torchvision.models.mobilenet_v2(weights=None), (torch.randn(1, 3, 224, 224),), 11,
           input_names=["input"], output_names=["logits"])
    torch.manual_seed(0)
    export("transformer_encoder_layer",
           torch.nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, dropout=0.1, batch_first=True),
           (torch.randn(1, 16, 64),), 17, input_names=["x"], output_names=["y"])

    class HFSelfAttentionLayer(torch.nn.Module):
        """A BERT layer written the way Hugging Face writes it, with plain torch ops."""

        def __init__(self, hidden=64, heads=4, inter=128):
            super().__init__()
            self.heads, self.head_dim = heads, hidden // heads
            self.query, self.key, self.value = (torch.nn.Linear(hidden, hidden) for _ in range(3))
            self.dense = torch.nn.Linear(hidden, hidden)
            self.ln1 = torch.nn.LayerNorm(hidden, eps=1e-12)
            self.intermediate = torch.nn.Linear(hidden, inter)
            self.output = torch.nn.Linear(inter, hidden)
            self.ln2 = torch.nn.LayerNorm(hidden, eps=1e-12)
            self.dropout = torch.nn.Dropout(0.1)

        def split_heads(self, x):
            b, s, _ = x.size()
            return x.view(b, s, self.heads, self.head_dim).permute(0, 2, 1, 3)

        def forward(self, h):
            q, k, v = self.split_heads(self.query(h)), self.split_heads(self.key(h)), self.split_heads(self.value(h))
            scores = torch.matmul(q, k.transpose(-1, -2)) / (self.head_dim ** 0.5)
            probs = self.dropout(torch.nn.functional.softmax(scores, dim=-1))
            ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
            ctx = ctx.view(ctx.size(0), ctx.size(1), -1)
            a = self.ln1(self.dropout(self.dense(ctx)) + h)
            m = torch.nn.functional.gelu(self.intermediate(a))
            return self.ln2(self.dropout(self.output(m)) + a)

    torch.manual_seed(0)
    export("hf_bert_layer", HFSelfAttentionLayer(), (torch.randn(2, 16, 64),), 13, input_names=["hidden"],
           output_names=["out"], dynamic_axes={"hidden": {0: "batch", 1: "seq"}, "out": {0: "batch", 1: "seq"}})
    with open(os.path.join(OUT, "torch", "expected.json"), "w") as f:
        json.dump(expected, f)
    write_status("torch", "ok")


def lower_group():
    """Per-operator models and small whole networks, each with inputs and PyTorch's outputs."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    import torchvision
    from onnx import helper, numpy_helper

    os.makedirs(os.path.join(OUT, "lower"), exist_ok=True)
    path = lambda name: os.path.join(OUT, "lower", name)

    def save(name, inputs, outputs):
        with open(path(name + ".in"), "wb") as f:
            for x in inputs:
                f.write(np.ascontiguousarray(x, dtype=np.float32).tobytes())
        with open(path(name + ".out"), "wb") as f:
            for y in outputs:
                f.write(np.ascontiguousarray(y.detach().numpy() if torch.is_tensor(y) else y, dtype=np.float32).tobytes())

    def export(name, module, shapes, opset=13, positive=False):
        torch.manual_seed(0)
        args = tuple(torch.randn(*s) for s in shapes)
        if positive:
            args = tuple(a.abs() + 0.1 for a in args)
        if isinstance(module, torch.nn.Module):
            module.eval()
        else:
            fn = module
            module = type("M", (torch.nn.Module,), {"forward": lambda self, *a: fn(*a)})()
        with torch.no_grad():
            outs = module(*args)
        outs = outs if isinstance(outs, (tuple, list)) else [outs]
        torch.onnx.export(module, args, path(name + ".onnx"), opset_version=opset,
                          input_names=[f"x{i}" for i in range(len(args))])
        save(name, [a.numpy() for a in args], outs)

    torch.manual_seed(0)
    export("conv_group_dilation", torch.nn.Conv2d(8, 6, 3, stride=(2, 1), padding=(2, 1), dilation=2, groups=2), [(1, 8, 9, 11)])
    export("conv_depthwise", torch.nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False), [(1, 4, 6, 6)])
    export("conv_transpose", torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), [(1, 4, 5, 5)])
    export("maxpool_ceil", torch.nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), [(1, 2, 8, 8)])
    export("avgpool_exclude_pad", torch.nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), [(1, 2, 7, 7)])
    export("global_avgpool", torch.nn.AdaptiveAvgPool2d(1), [(2, 3, 5, 4)])
    export("linear", torch.nn.Linear(12, 5), [(3, 12)])
    export("gemm_trans", lambda a, b: 0.5 * a.t() @ b.t() + 2.0, [(4, 3), (5, 4)], opset=11)
    export("matmul_broadcast", lambda a, b: a @ b, [(2, 1, 4, 3), (5, 3, 6)])
    export("matmul_vector", lambda a, b: a @ b, [(3,), (2, 3, 4)])
    export("elementwise", lambda a, b: (a + b) * (a - b) / (b * b + 1.0), [(2, 3, 4), (3, 1)])
    export("activations", lambda x: torch.sigmoid(x) + torch.tanh(x) + F.leaky_relu(x, 0.2) + F.hardsigmoid(x)
           + F.hardswish(x) + torch.erf(x) + torch.exp(x) + F.relu6(x) + torch.clamp(x, min=-0.5), [(2, 3, 4)])
    export("gelu", lambda x: F.gelu(x), [(2, 8)])
    export("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), [(2, 8)])
    export("prelu", torch.nn.PReLU(3, init=0.1), [(1, 3, 2, 2)])
    export("sqrt_pow", lambda x: torch.sqrt(x) + torch.pow(x, 3.0) + x ** 0.5, [(2, 5)], positive=True)
    export("concat_split", lambda a, b: torch.split(torch.cat([a, b, a], dim=1), [2, 5, 3], dim=1), [(2, 3, 4), (2, 4, 4)])
    export("slice_transpose", lambda x: x[:, 1:5:2, ::1].permute(2, 0, 1) * 2.0, [(2, 7, 3)])
    export("reshape_flatten", lambda x: torch.flatten(x.reshape(2, 3, 4, 5).transpose(1, 2), 1) + 1.0, [(6, 20)])
    export("squeeze_unsqueeze", lambda x: x.squeeze(1).unsqueeze(0) - 1.0, [(3, 1, 4)])
    export("gather_constant", lambda x: x[:, 2] + x[:, torch.tensor([3, 0, 3])].sum(1), [(2, 5, 3)])
    export("softmax", lambda x: torch.softmax(x, dim=1), [(2, 5, 3)])
    export("layer_norm", torch.nn.LayerNorm(8, eps=1e-6), [(2, 3, 8)], opset=17)
    export("layer_norm_decomposed", torch.nn.LayerNorm(8), [(2, 3, 8)], opset=13)
    export("reduce", lambda x: x.mean(dim=(1, 2), keepdim=True) + x.sum(dim=2, keepdim=True), [(2, 3, 4)])
    export("batchnorm", torch.nn.BatchNorm2d(3).eval(), [(2, 3, 4, 4)])

    # A conv chain for the channel-blocked layouts (tests run it at blocks 1, 4 and 16): a stem on
    # 3 channels, a strided dilated conv with a residual, a depthwise and a grouped conv, pools,
    # per-channel parameters, 24 channels (blocked at 4, row-major at 16), a classifier, and a
    # feature map that is also a graph output.
    class ConvChain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            nn = torch.nn
            self.stem = nn.Conv2d(3, 16, 3, padding=1)
            self.down = nn.Conv2d(16, 32, 3, stride=2, padding=(1, 2), dilation=(1, 2))
            self.skip = nn.Conv2d(16, 32, 1, stride=2)
            self.dw = nn.Conv2d(32, 32, 3, padding=1, groups=32)
            self.grouped = nn.Conv2d(32, 32, 3, padding=1, groups=2)
            self.narrow = nn.Conv2d(32, 24, 1)
            self.wide = nn.Conv2d(24, 32, 3, padding=1, bias=False)
            self.prelu = nn.PReLU(32, init=0.1)
            self.scale = nn.Parameter(torch.randn(1, 32, 1, 1))
            self.fc = nn.Linear(32, 5)

        def forward(self, x):
            a = F.relu(self.stem(x))
            b = F.relu(self.down(a) + self.skip(a))
            c = F.max_pool2d(b, 3, stride=1, padding=1)
            d = self.prelu(self.dw(c)) * self.scale
            e = torch.sigmoid(self.grouped(d)) + c
            f = F.avg_pool2d(e, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
            g = self.wide(F.relu(self.narrow(f)))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(g, 1), 1)), g

    torch.manual_seed(0)
    export("conv_chain", ConvChain(), [(1, 3, 12, 12)])
    # A graph input of 16 channels added to a conv's result: converted to the blocked layout once.
    class ConvAddInput(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(16, 16, 3, padding=1)

        def forward(self, x):
            return F.relu(self.conv(x)) + x

    torch.manual_seed(0)
    export("conv_add_input", ConvAddInput(), [(1, 16, 5, 5)])

    # Channel concatenations of blocked convolutions (blocked at 4 and 16 when every input's
    # channels divide by the block: 16 + 32 + 16, then 8 + 16 only at 4), with a padded average
    # pool that PyTorch exports as Pad + AveragePool, and a BatchNormalization after a Concat.
    class ConcatBlocks(torch.nn.Module):
        def __init__(self):
            super().__init__()
            nn = torch.nn
            self.stem = nn.Conv2d(3, 16, 3, padding=1)
            self.one = nn.Conv2d(16, 16, 1)
            self.three = nn.Conv2d(16, 32, 3, padding=1)
            self.bn = nn.BatchNorm2d(64)
            self.narrow = nn.Conv2d(64, 8, 1)
            self.wide = nn.Conv2d(64, 16, 3, padding=1)

        def forward(self, x):
            a = F.relu(self.stem(x))
            y = torch.cat([self.one(a), self.three(a), F.avg_pool2d(a, 3, stride=1, padding=1)], 1)
            y = F.relu(self.bn(y))
            z = torch.cat([self.narrow(y), self.wide(y)], 1)
            return torch.flatten(F.adaptive_avg_pool2d(z, 1), 1)

    torch.manual_seed(0)
    cb = ConcatBlocks()
    with torch.no_grad():
        cb.bn.running_mean.uniform_(-0.1, 0.1)
        cb.bn.running_var.uniform_(0.5, 1.5)
    export("concat_blocks", cb, [(1, 3, 6, 7)])
    export("pad_constant", lambda x: F.pad(x, (1, 2, 3, 0), value=0.5) * 2.0, [(1, 2, 4, 5)], opset=11)

    # ShuffleNet-v2's unit: a channel shuffle (reshape, transpose, reshape), then its second half
    # read at a channel offset: views of views whose indices are expressions.
    def shuffle_chunk(x):
        y = torch.cat([x, x * 2.0], 1)
        n, c, h, w = y.shape
        y = y.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        a, b = y.chunk(2, 1)
        return torch.cat([a, F.relu(b) * 3.0], 1)

    export("shuffle_chunk", shuffle_chunk, [(1, 4, 3, 3)])

    # Conv followed by BatchNormalization, written with onnx.helper (PyTorch folds it on export).
    rng = np.random.default_rng(1)
    w, b = rng.standard_normal((4, 3, 3, 3)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    s, beta, mean = (rng.standard_normal(4).astype(np.float32) for _ in range(3))
    var = (np.abs(rng.standard_normal(4)) + 0.5).astype(np.float32)
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    N = helper.make_node
    g = helper.make_graph(
        [N("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
         N("BatchNormalization", ["c", "s", "beta", "mean", "var"], ["bn"], name="bn", epsilon=1e-3),
         N("Relu", ["bn"], ["y"], name="relu")],
        "conv_bn", [helper.make_tensor_value_info("x", 1, [1, 3, 6, 6])], [helper.make_tensor_value_info("y", 1, None)],
        [numpy_helper.from_array(v, k) for k, v in dict(w=w, b=b, s=s, beta=beta, mean=mean, var=var).items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    with open(path("conv_bn.onnx"), "wb") as f:
        f.write(m.SerializeToString())
    t = lambda a: torch.from_numpy(a)
    ref = F.relu(F.batch_norm(F.conv2d(t(x), t(w), t(b), padding=1), t(mean), t(var), t(s), t(beta), eps=1e-3))
    save("conv_bn", [x], [ref])

    # Whole networks at small inputs (the reference interpreter is slow).
    torch.manual_seed(0)
    export("resnet18", torchvision.models.resnet18(weights=None), [(1, 3, 32, 32)])
    torch.manual_seed(0)
    export("mobilenet_v2", torchvision.models.mobilenet_v2(weights=None), [(1, 3, 32, 32)], opset=11)
    torch.manual_seed(0)
    export("transformer_encoder_layer",
           torch.nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, batch_first=True), [(1, 8, 32)], opset=17)
    # Models written with onnx.helper (operators PyTorch 1.13 does not export), with references.
    def helper_model(name, nodes, x_shape, inits):
        g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", 1, x_shape)],
                              [helper.make_tensor_value_info("y", 1, None)],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        with open(path(name + ".onnx"), "wb") as f:
            f.write(m.SerializeToString())

    xh = rng.standard_normal((2, 3, 4)).astype(np.float32) * 4
    helper_model("hardswish_gelu", [N("HardSwish", ["x"], ["a"], name="hswish"),
                                    N("Gelu", ["a"], ["b"], name="gelu", approximate="tanh"),
                                    N("Gelu", ["b"], ["y"], name="gelu_erf")], [2, 3, 4], {})
    save("hardswish_gelu", [xh], [F.gelu(F.gelu(F.hardswish(t(xh)), approximate="tanh"))])
    # Outputs that are another output or an input under a second name (Identity removed).
    import onnx.parser
    m = onnx.parser.parse_model('<ir_version: 8, opset_import: ["" : 13]>\n'
                                "outputs_alias (float[2,3] x) => (y, z, w) { y = Relu (x)\n z = Identity (y)\n"
                                " w = Identity (x) }")
    with open(path("outputs_alias.onnx"), "wb") as f:
        f.write(m.SerializeToString())
    xa = rng.standard_normal((2, 3)).astype(np.float32)
    save("outputs_alias", [xa], [np.maximum(xa, 0), np.maximum(xa, 0), xa])
    write_status("lower", "ok")


os.makedirs(OUT, exist_ok=True)
try:
    import numpy  # noqa: F401
    import onnx  # noqa: F401
except ImportError as e:
    write_status("ops", f"skip: python3-onnx or python3-numpy is missing ({e})")
    write_status("errors", f"skip: python3-onnx or python3-numpy is missing ({e})")
else:
    onnx_groups()
try:
    import torch  # noqa: F401
    import torchvision  # noqa: F401
except ImportError as e:
    write_status("torch", f"skip: python3-torch or python3-torchvision is missing ({e})")
    write_status("lower", f"skip: python3-torch or python3-torchvision is missing ({e})")
else:
    torch_group()
    lower_group()
