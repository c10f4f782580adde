// frontend/graph.h - a model as a graph of operators with static shapes.
//
// What the ONNX importer (frontend/onnx_import.h) produces and the graph passes and the lowering
// to kernels consume. After import a graph is in one normal form, whatever the opset it came from:
//  - every tensor has an element type and a static shape (rank 0 is a scalar);
//  - shape computations are folded: Shape, Constant, ConstantOfShape, Cast, Range, Equal, Where,
//    Expand and any operator whose inputs are all constants became constant tensors; Identity and
//    Dropout are gone;
//  - parameters that ONNX passes as constant inputs in some opsets are attributes (Split's
//    `split`, Squeeze/Unsqueeze/Reduce*'s `axes`, Clip's `min`/`max`, Slice's `starts`/`ends`/
//    `axes`/`steps`, Reshape's `shape`), so a node's inputs are only the tensors it reads;
//  - attributes are explicit and normalized: defaults filled in, axes non-negative, `auto_pad`
//    resolved into `pads`, `kernel_shape` taken from the weights (per operator: see OpKind).
// Tensors are named by handle (TensorId); names are kept for messages and the entry point.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kcc::frontend {

/// Element types a model may use (X: name, ONNX spelling, size in bytes).
#define KCC_FRONTEND_ELEM_TYPES(X) \
  X(F32, "float", 4)               \
  X(F64, "double", 8)              \
  X(I8, "int8", 1)                 \
  X(U8, "uint8", 1)                \
  X(I32, "int32", 4)               \
  X(I64, "int64", 8)               \
  X(Bool, "bool", 1)

enum class ElemType {
#define KCC_X(name, str, size) name,
  KCC_FRONTEND_ELEM_TYPES(KCC_X)
#undef KCC_X
};
const char *elem_type_name(ElemType t);
int elem_size(ElemType t);
bool is_float(ElemType t);

/// Dimensions, outermost first; empty for a scalar.
using Shape = std::vector<int64_t>;
/// The number of elements; a UserError (no location) if it overflows int64.
int64_t num_elements(const Shape &s);
/// "1x3x224x224"; "scalar" for rank 0.
std::string shape_to_string(const Shape &s);

/// A tensor: a graph input, an intermediate, a graph output or a constant (weights, folded
/// values). Constant data is little-endian, densely packed, row-major, `elem_size * numel` bytes.
struct Tensor {
  std::string name;
  ElemType type = ElemType::F32;
  Shape shape;
  std::optional<std::vector<uint8_t>> data;
  /// How the values are stored: 1 = row-major in `shape`; b > 1 (an activation [N, C, H, W]
  /// with C % b == 0, set by assign_layouts) = channel-blocked NCHW[b]c, [N, C/b, H, W, b], so
  /// that channel c lives at [n, c / b, h, w, c % b]. `shape` stays the logical one.
  int64_t channel_block = 1;
  bool is_constant() const { return data.has_value(); }
  bool is_blocked() const { return channel_block > 1; }
};

/// The dimensions `t` is stored with: its shape, or [N, C/b, H, W, b] when it is channel-blocked.
Shape stored_shape(const Tensor &t);

/// The elements of a constant tensor as int64 (floats truncated, bools 0/1) or as double.
std::vector<int64_t> read_ints(const Tensor &t);
std::vector<double> read_doubles(const Tensor &t);

/// A tensor's index in Graph::tensors.
using TensorId = int;

/// Operators that remain after import (fold-only operators never appear). Per operator, the
/// inputs and the attributes it always carries after import:
///   Conv(X, W[, B]): kernel_shape, strides, dilations, pads (begins then ends), group
///   ConvTranspose(X, W[, B]): the same plus output_padding
///   BatchNormalization(X, scale, B, mean, var): epsilon
///   MaxPool(X), AveragePool(X): kernel_shape, strides, dilations, pads, ceil_mode;
///     AveragePool also count_include_pad
///   GlobalAveragePool(X)
///   Relu, Sigmoid, Tanh, Erf, Exp, Sqrt, HardSwish(X); LeakyRelu(X): alpha;
///     HardSigmoid(X): alpha, beta; Gelu(X): approximate ("none" or "tanh"); Clip(X): min, max
///     (floats; -inf/+inf when ONNX left one out); PRelu(X, slope)
///   Add, Sub, Mul, Div, Pow(A, B): multidirectional broadcasting
///   Gemm(A, B[, C]): alpha, beta, transA, transB; MatMul(A, B): numpy semantics
///   Concat(X...): axis; Split(X): axis, split (one size per output)
///   Pad(X): pads (begins then ends, one per axis, non-negative), value (constant mode)
///   Slice(X): starts, ends, axes, steps (one per sliced axis; starts and ends clamped as ONNX
///     does, so an end of -1 with a negative step means "through index 0")
///   Flatten(X): axis; Reshape(X): shape (the output shape); Transpose(X): perm
///   Squeeze(X): axes; Unsqueeze(X): axes (sorted, in the output's rank)
///   Gather(data, indices): axis; Softmax(X): axis (opset 13 semantics: one axis)
///   LayerNormalization(X, scale[, B]): axis, epsilon
///   ReduceMean(X), ReduceSum(X): axes (sorted; every axis when ONNX gave none), keepdims
///   Relayout(X): X's values in the output's layout (Tensor::channel_block); no attributes. Made by
///     the assign_layouts pass, never imported.
#define KCC_FRONTEND_OPS(X)                                                                        \
  X(Conv) X(ConvTranspose) X(BatchNormalization) X(MaxPool) X(AveragePool) X(GlobalAveragePool)   \
  X(Relu) X(Clip) X(LeakyRelu) X(PRelu) X(Sigmoid) X(HardSigmoid) X(HardSwish) X(Tanh) X(Erf)     \
  X(Gelu) X(Exp) X(Sqrt) X(Pow) X(Add) X(Sub) X(Mul) X(Div) X(Gemm) X(MatMul) X(Concat) X(Pad)   \
  X(Split)                                                                                        \
  X(Slice) X(Flatten) X(Reshape) X(Transpose) X(Squeeze) X(Unsqueeze) X(Gather) X(Softmax)        \
  X(LayerNormalization) X(ReduceMean) X(ReduceSum) X(Relayout)

enum class OpKind {
#define KCC_X(name) name,
  KCC_FRONTEND_OPS(KCC_X)
#undef KCC_X
};
/// The ONNX operator name ("Conv").
const char *op_name(OpKind op);
/// The OpKind named `name`, if it is one.
std::optional<OpKind> op_from_name(const std::string &name);
/// Element-wise operators of one data input (Relu ... Sqrt; PRelu's slope is a parameter): the
/// activations that the layout and fusion passes treat alike.
bool is_activation(OpKind op);

/// A typed attribute value; only the member for `kind` is meaningful.
struct Attribute {
  enum class Kind { Int, Float, String, Ints, Floats, Strings };
  Kind kind = Kind::Int;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;

  static Attribute of_int(int64_t v);
  static Attribute of_float(double v);
  static Attribute of_string(std::string v);
  static Attribute of_ints(std::vector<int64_t> v);
  static Attribute of_floats(std::vector<double> v);
};

struct Node {
  OpKind op = OpKind::Relu;
  /// The ONNX node's name (may be empty).
  std::string name;
  std::vector<TensorId> inputs;
  std::vector<TensorId> outputs;
  std::map<std::string, Attribute> attrs;

  /// The attribute `key`; an InternalError if it is missing or of another kind (after import the
  /// attributes listed at OpKind are always there).
  int64_t attr_int(const std::string &key) const;
  double attr_float(const std::string &key) const;
  const std::string &attr_string(const std::string &key) const;
  const std::vector<int64_t> &attr_ints(const std::string &key) const;
};

struct Graph {
  std::string name;
  /// The ai.onnx opset the model was written for.
  int64_t opset = 0;
  std::vector<Tensor> tensors;
  /// In topological order.
  std::vector<Node> nodes;
  /// The model's inputs and outputs in declaration order (inputs never constant).
  std::vector<TensorId> inputs;
  std::vector<TensorId> outputs;
  /// The constant tensors nodes read (weights and folded values), in first-use order.
  std::vector<TensorId> initializers;

  const Tensor &tensor(TensorId id) const { return tensors.at(static_cast<size_t>(id)); }
};

/// A debugging dump: the inputs, one line per node with its attributes and the shapes of what it
/// reads and writes, then the outputs, e.g.
///   input  input: float 1x3x224x224
///   Conv 'conv1' {dilations=[1,1], group=1, ...} (input: float 1x3x224x224, w: float 64x3x7x7
///   const) -> (x: float 1x64x112x112)          (on one line)
std::string to_string(const Graph &g);

}  // namespace kcc::frontend
