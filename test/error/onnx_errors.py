#!/usr/bin/env python3
"""Bad ONNX models, one case each, run through the kcc binary.

A case is a model in ONNX's text syntax (onnx.parser: `y = Conv <auto_pad = "SAME"> (x, w)`),
the node names the text cannot spell, initializers filled with random data by shape, the extra
command-line arguments, an optional edit of the model, or else bytes of its own (a cut-off
file, not a protobuf; None: no file at all), and the whole first line kcc must print on stderr, `FILE` standing for the model's
path. The models are written at test time: the repository holds no generated files.

  onnx_errors.py list                  the case names (CMake adds one test per case)
  onnx_errors.py run NAME KCC WORKDIR  writes WORKDIR/NAME.onnx and checks that both
                                       `kcc import` and `kcc compile` give the message, exit
                                       with status 1, and write nothing (no output file, no
                                       temporary folder left behind)
Exit 77 (skipped) when python3-onnx is missing.
"""
import os
import shutil
import subprocess
import sys

HEADER = '<ir_version: 8, opset_import: ["" : {opset}]>\n'


class Case:
    def __init__(self, name, message, graph="", names=(), weights=None, args=(), opset=13, bytes_of=None, edit=None):
        self.name, self.message, self.graph, self.names = name, message, graph, names
        self.weights, self.args, self.opset = weights or {}, list(args), opset
        self.bytes_of, self.edit = bytes_of, edit

    def model_bytes(self):
        """The serialized model: the text parsed, nodes named, initializers added, then edited."""
        if self.bytes_of is not None:
            return self.bytes_of(self)
        import numpy as np
        import onnx.parser
        from onnx import numpy_helper

        m = onnx.parser.parse_model(HEADER.format(opset=self.opset) + self.graph)
        for node, name in zip(m.graph.node, self.names):
            node.name = name
        rng = np.random.default_rng(0)
        for w, shape in self.weights.items():
            value = rng.standard_normal(shape).astype(np.float32) if isinstance(shape, tuple) else np.asarray(shape)
            m.graph.initializer.append(numpy_helper.from_array(value, w))
        if self.edit:
            self.edit(m)
        return m.SerializeToString()


def valid_model(case):
    return Case("", "", "g (float[1,3,8,8] x) => (y) { y = Conv <pads = [1,1,1,1]> (x, w) }",
                weights={"w": (4, 3, 3, 3)}).model_bytes()


def onnx_module():
    import onnx

    return onnx


def rename_weight(m):
    """The weight as PyTorch names it, which the text syntax cannot spell."""
    m.graph.node[0].input[1] = "conv1.weight"


def initializer_data_short(m):
    """Initializer 'c' claims shape 2x3 but holds 5 floats."""
    m.graph.initializer[0].ClearField("dims")
    m.graph.initializer[0].dims.extend([2, 3])


CASES = [
    # The file itself.
    Case("missing_file", "kcc: error: cannot read 'FILE'", bytes_of=lambda c: None),
    Case("empty_file", "FILE: error: the file is empty", bytes_of=lambda c: b""),
    Case("truncated_file",
         "FILE: error: cannot read the file as an ONNX model: the file is truncated: field 7 at byte 2 needs 526 "
         "bytes, 0 are left",
         bytes_of=lambda c: valid_model(c)[:-100]),
    Case("not_a_protobuf",
         "FILE: error: cannot read the file as an ONNX model: it is not a protobuf (bad wire type 6 at byte 9)",
         bytes_of=lambda c: b"ir_version: 8\ngraph { }\n"),
    Case("wrong_protobuf",
         "FILE: error: cannot read the file as an ONNX model: a field does not match ONNX's schema (it is not an "
         "ONNX model, or it is damaged)",
         # A valid protobuf of another schema: an ONNX TensorProto, not a ModelProto.
         bytes_of=lambda c: onnx_module().helper.make_tensor("t", 1, [2], [1.0, 2.0]).SerializeToString()),
    Case("model_without_graph",
         "FILE: error: not an ONNX model (it has no graph or no IR version)",
         bytes_of=lambda c: onnx_module().ModelProto(ir_version=8).SerializeToString()),
    # The opset.
    Case("opset_too_old",
         "FILE: error: opset 10 is not supported; kcc reads ai.onnx opsets 11 to 18 (re-export with, e.g., "
         "opset_version=13)",
         "g (float[2] x) => (y) { y = Relu (x) }", opset=10),
    Case("opset_too_new",
         "FILE: error: opset 19 is not supported; kcc reads ai.onnx opsets 11 to 18 (re-export with, e.g., "
         "opset_version=13)",
         "g (float[2] x) => (y) { y = Relu (x) }", opset=19),
    # Inputs and shapes.
    Case("dynamic_shape_without_input_shape",
         "FILE: error: input 'input' has a dynamic dimension 'batch'; pin it with --input-shape input=1x3x224x224",
         "g (float[batch,3,224,224] input) => (y) { y = Relu (input) }"),
    Case("input_shape_disagrees_with_model",
         "FILE: error: --input-shape gives input 'input' dimension 1 = 4 but the model fixes it to 3",
         "g (float[batch,3,224,224] input) => (y) { y = Relu (input) }", args=["--input-shape", "input=1x4x224x224"]),
    Case("input_shape_names_no_input",
         "FILE: error: --input-shape names 'inputs', which is not an input of the model; inputs: 'input'",
         "g (float[batch,3,224,224] input) => (y) { y = Relu (input) }",
         args=["--input-shape", "inputs=1x3x224x224", "--input-shape", "input=1x3x224x224"]),
    Case("non_float_input",
         "FILE: error: input 'x' has element type FLOAT16, which kcc does not support",
         "g (float16[2,3] x) => (y) { y = Relu (x) }"),
    Case("integer_input",
         "FILE: error: input 'ids' is int64: only float inputs are supported",
         "g (int64[1,4] ids) => (y) { y = Gather (embedding, ids) }", weights={"embedding": (10, 4)}),
    Case("integer_output",
         "FILE: error: output 'n' is int64: only float outputs are supported",
         "g (float[2,3] x) => (y, n) { y = Relu (x)\n n = Shape (x) }"),
    Case("constant_output",
         "FILE: error: output 'y' is a constant",
         "g (float[2,3] x) => (y) { y = Constant <value_float = 1.0> () }"),
    Case("integer_operand",
         "FILE: node 'relu' (Relu): error: input 0 (X) has element type int64, which Relu does not accept",
         "g (int64[2,3] x) => (y) { y = Relu (x) }", names=["relu"]),
    Case("missing_initializer",
         "FILE: node 'conv1' (Conv): error: input 1 'conv1.weight' is not a graph input, an initializer or the output "
         "of an earlier node",
         "g (float[1,3,8,8] x) => (y) { y = Conv (x, w) }", names=["conv1"], edit=rename_weight),
    Case("initializer_data_does_not_match_its_shape",
         "FILE: error: initializer 'c' has 20 bytes of data but its shape 2x3 of float needs 24",
         "g (float[2,3] x) => (y) { y = Add (x, c) }", weights={"c": (5,)}, edit=initializer_data_short),
    # Operators and attributes.
    Case("unsupported_operator",
         "FILE: node 'resize_3' (Resize): error: unsupported operator 'Resize'",
         "g (float[1,3,4,4] x) => (y) { y = Resize (x) }", names=["resize_3"]),
    Case("unsupported_attribute_value",
         "FILE: node 'conv_12' (Conv): error: unsupported auto_pad value 'SAME'; expected NOTSET, SAME_UPPER, "
         "SAME_LOWER or VALID",
         'g (float[1,3,8,8] x) => (y) { y = Conv <auto_pad = "SAME"> (x, w) }', names=["conv_12"],
         weights={"w": (4, 3, 3, 3)}),
    Case("wrong_input_count",
         "FILE: node 'relu_1' (Relu): error: expects 1 input, has 2",
         "g (float[2,3] a, float[2,3] b) => (y) { y = Relu (a, b) }", names=["relu_1"]),
    Case("conv_channel_mismatch",
         "FILE: node 'conv_12' (Conv): error: input X has 3 channels but W of shape 4x2x3x3 expects 2 (group 1)",
         "g (float[1,3,8,8] x) => (y) { y = Conv (x, w) }", names=["conv_12"], weights={"w": (4, 2, 3, 3)}),
    Case("broadcast_shape_mismatch",
         "FILE: node 'add_1' (Add): error: cannot broadcast shapes 2x3 and 4x3",
         "g (float[2,3] a, float[4,3] b) => (y) { y = Add (a, b) }", names=["add_1"]),
    Case("gemm_inner_dimension_mismatch",
         "FILE: node 'fc' (Gemm): error: A is 2x3 and B is 4x5: inner dimensions 3 and 4 differ",
         "g (float[2,3] a) => (y) { y = Gemm (a, b) }", names=["fc"], weights={"b": (4, 5)}),
    Case("reshape_shape_not_constant",
         "FILE: node 'reshape_7' (Reshape): error: input 1 (shape) must be a constant",
         "g (float[2,3] x, int64[2] s) => (y) { y = Reshape (x, s) }", names=["reshape_7"]),
    Case("reshape_element_count_mismatch",
         "FILE: node 'view' (Reshape): error: cannot reshape 2x3x4 (24 elements) to [5,-1]",
         "g (float[2,3,4] x) => (y) { y = Reshape (x, s) }", names=["view"], weights={"s": [5, -1]}),
    Case("conv_1d",
         "FILE: node 'conv_1d' (Conv): error: only 2-D windows (NCHW input) are supported; the input is 1x3x10",
         "g (float[1,3,10] x) => (y) { y = Conv (x, w) }", names=["conv_1d"], weights={"w": (4, 3, 3)}),
    Case("layer_norm_over_several_axes",
         "FILE: node 'ln_2' (LayerNormalization): error: normalization over axes 1.. of a rank-3 input: only the "
         "last axis is supported",
         "g (float[2,3,4] x) => (y) { y = LayerNormalization <axis = 1> (x, s, b) }", names=["ln_2"],
         weights={"s": (3, 4), "b": (3, 4)}, opset=17),
    Case("unsupported_domain",
         "FILE: node 'q' (QuantizeLinear): error: operator 'QuantizeLinear' of domain 'com.microsoft' is not "
         "supported; kcc reads the ai.onnx domain only",
         "g (float[2,3] x) => (y) { y = com.microsoft.QuantizeLinear (x) }", names=["q"]),
    Case("pad_mode_not_constant",
         "FILE: node 'pad' (Pad): error: mode 'reflect' is not supported; only 'constant'",
         'g (float[1,2,4,4] x) => (y) { y = Pad <mode = "reflect"> (x, p) }', names=["pad"],
         weights={"p": [0, 0, 1, 1, 0, 0, 1, 1]}),
    Case("pad_negative",
         "FILE: node 'crop' (Pad): error: negative pads [0,0,-1,0,0,0,0,0] (cropping) are not supported",
         "g (float[1,2,4,4] x) => (y) { y = Pad (x, p) }", names=["crop"], weights={"p": [0, 0, -1, 0, 0, 0, 0, 0]}),
    Case("declared_output_shape_mismatch",
         "FILE: error: output 'y' is declared as 2x4 but its inferred shape is 2x3",
         "g (float[2,3] x) => (float[2,4] y) { y = Relu (x) }"),
]


def run(case, kcc, work):
    """The failures of one case, as lines of text (none: it passed)."""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    model = os.path.join(work, case.name + ".onnx")
    data = case.model_bytes()
    if data is not None:  # None: no file at all
        with open(model, "wb") as f:
            f.write(data)
    want = case.message.replace("FILE", model)
    failures = []
    for cmd in (["import", model, "-o", "out/model.ir"], ["compile", model, "-o", "out/model"]):
        out, tmp = os.path.join(work, "out"), os.path.join(work, "tmp")
        for d in (out, tmp):
            os.makedirs(d)
        env = dict(os.environ, TMPDIR=tmp)
        p = subprocess.run([kcc] + cmd + case.args, cwd=work, env=env, capture_output=True, text=True)
        what = "kcc " + cmd[0]
        first = p.stderr.splitlines()[0] if p.stderr else ""
        if p.returncode != 1:
            failures.append(f"{what}: exit status {p.returncode}, expected 1")
        if first != want:
            failures.append(f"{what}: stderr's first line\n    {first}\n  expected\n    {want}")
        left = sorted(os.listdir(out)) + sorted(os.listdir(tmp))
        if left:
            failures.append(f"{what}: wrote {left}")
        if failures:
            failures.append(f"{what}: stderr was\n" + "".join("    " + line + "\n" for line in p.stderr.splitlines()))
        shutil.rmtree(out)
        shutil.rmtree(tmp)
    return failures


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "list":
        print("\n".join(c.name for c in CASES))
        return 0
    if len(sys.argv) != 5 or sys.argv[1] != "run":
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import numpy  # noqa: F401
        import onnx  # noqa: F401
    except ImportError as e:
        print(f"skip: python3-onnx or python3-numpy is missing ({e})")
        return 77
    case = next((c for c in CASES if c.name == sys.argv[2]), None)
    if case is None:
        print(f"no case '{sys.argv[2]}'", file=sys.stderr)
        return 2
    failures = run(case, sys.argv[3], sys.argv[4])
    for f in failures:
        print("FAIL: " + f)
    if not failures:
        print(f"PASS: {case.name}: {case.message}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
