// frontend/onnx_ops.cpp - per-operator import: input counts, attributes (read per opset,
// normalized), static shape inference with ONNX's rules, and folding of constant computations.
//
// One function per operator family, dispatched from one table (kOps). A function reads the
// ONNX node, sets its outputs' types and shapes, and returns the normalized Node; the caller
// then folds it when every input is a constant and the operator is one shape computations use.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <set>

#include "frontend/onnx_import.h"
#include "frontend/onnx_ops.h"

namespace kcc::frontend::detail {

void ImportContext::fail(const OnnxNode &n, const std::string &msg) const {
  std::string where = n.name.empty() ? fmt::format("node #{} ({})", n.index, n.op_type)
                                     : fmt::format("node '{}' ({})", n.name, n.op_type);
  throw ModelError(path, where, msg);
}

// ---------------------------------------------------------------------------------------------
// Constant data.

namespace {

template <typename T>
void store(uint8_t *p, T v) {
  std::memcpy(p, &v, sizeof v);
}

/// Stores v (an integer) as type t, wrapping like a C cast for narrower integers.
void store_int(ElemType t, uint8_t *p, int64_t v) {
  switch (t) {
    case ElemType::F32: store<float>(p, static_cast<float>(v)); break;
    case ElemType::F64: store<double>(p, static_cast<double>(v)); break;
    case ElemType::I8: store<int8_t>(p, static_cast<int8_t>(v)); break;
    case ElemType::U8: store<uint8_t>(p, static_cast<uint8_t>(v)); break;
    case ElemType::I32: store<int32_t>(p, static_cast<int32_t>(v)); break;
    case ElemType::I64: store<int64_t>(p, v); break;
    case ElemType::Bool: store<uint8_t>(p, v != 0); break;
  }
}

void store_double(ElemType t, uint8_t *p, double v) {
  switch (t) {
    case ElemType::F32: store<float>(p, static_cast<float>(v)); break;
    case ElemType::F64: store<double>(p, v); break;
    case ElemType::Bool: store<uint8_t>(p, v != 0); break;
    case ElemType::I8:
    case ElemType::U8:
    case ElemType::I32:
    case ElemType::I64:
      // Out-of-range and NaN casts are undefined in C++; saturate them.
      if (std::isnan(v)) v = 0;
      v = std::clamp(v, -9.2e18, 9.2e18);
      store_int(t, p, static_cast<int64_t>(v));
      break;
  }
}

/// The largest constant folding may create (elements).
constexpr int64_t kMaxFoldedElements = int64_t{1} << 26;

// ---------------------------------------------------------------------------------------------
// Shapes.

std::vector<int64_t> strides_of(const Shape &s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

/// For each element of `out` (row-major), the index of the element of `in` that broadcasting
/// `in` to `out` reads.
std::vector<int64_t> broadcast_map(const Shape &in, const Shape &out) {
  int64_t n = num_elements(out);
  std::vector<int64_t> map(static_cast<size_t>(n));
  std::vector<int64_t> in_st = strides_of(in);
  size_t off = out.size() - in.size();
  std::vector<int64_t> idx(out.size(), 0);
  for (int64_t e = 0; e < n; ++e) {
    int64_t src = 0;
    for (size_t d = 0; d < in.size(); ++d)
      if (in[d] != 1) src += idx[d + off] * in_st[d];
    map[static_cast<size_t>(e)] = src;
    for (size_t d = out.size(); d-- > 0;) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
  return map;
}

// ---------------------------------------------------------------------------------------------
// The per-node helper every operator function uses.

class Op {
 public:
  Op(ImportContext &ctx, OnnxNode &n) : ctx_(ctx), n_(n) {}

  [[noreturn]] void fail(const std::string &msg) const { ctx_.fail(n_, msg); }
  int64_t opset() const { return ctx_.opset; }
  const OnnxNode &onnx() const { return n_; }

  // Inputs.
  size_t num_inputs() const { return n_.inputs.size(); }
  bool has(size_t i) const { return i < n_.inputs.size() && n_.inputs[i] >= 0; }
  TensorId id(size_t i) const {
    if (!has(i)) fail(fmt::format("input {} is missing", i));
    return n_.inputs[i];
  }
  const Tensor &in(size_t i) const { return ctx_.graph->tensor(id(i)); }
  const Shape &shape(size_t i) const { return in(i).shape; }
  int64_t rank(size_t i) const { return static_cast<int64_t>(shape(i).size()); }
  bool all_constant() const {
    for (TensorId t : n_.inputs)
      if (t >= 0 && !ctx_.graph->tensor(t).is_constant()) return false;
    return true;
  }
  void check_counts(size_t min_in, size_t max_in, size_t min_out, size_t max_out) const {
    auto count = [](size_t lo, size_t hi) {
      return lo == hi ? std::to_string(lo) : hi == SIZE_MAX ? fmt::format("at least {}", lo) : fmt::format("{} to {}", lo, hi);
    };
    if (n_.inputs.size() < min_in || n_.inputs.size() > max_in)
      fail(fmt::format("expects {} input{}, has {}", count(min_in, max_in), max_in == 1 ? "" : "s", n_.inputs.size()));
    for (size_t i = 0; i < min_in; ++i)
      if (n_.inputs[i] < 0) fail(fmt::format("input {} is required but empty", i));
    if (n_.outputs.size() < min_out || n_.outputs.size() > max_out)
      fail(fmt::format("expects {} output{}, has {}", count(min_out, max_out), max_out == 1 ? "" : "s", n_.outputs.size()));
    for (size_t i = 0; i < min_out; ++i)
      if (n_.outputs[i] < 0) fail(fmt::format("output {} is required but empty", i));
  }
  /// A constant input's values; an error naming `what` if the input is not a constant.
  std::vector<int64_t> const_ints(size_t i, const std::string &what) const {
    if (!in(i).is_constant()) fail(fmt::format("input {} ({}) must be a constant", i, what));
    if (is_float(in(i).type)) fail(fmt::format("input {} ({}) must be integers, not {}", i, what, elem_type_name(in(i).type)));
    return read_ints(in(i));
  }
  void check_type(size_t i, std::initializer_list<ElemType> allowed, const std::string &what) const {
    for (ElemType t : allowed)
      if (in(i).type == t) return;
    fail(fmt::format("input {} ({}) has element type {}, which {} does not accept", i, what, elem_type_name(in(i).type), n_.op_type));
  }
  void check_same_type(size_t a, size_t b) const {
    if (in(a).type != in(b).type)
      fail(fmt::format("inputs {} and {} have different element types ({} and {})", a, b, elem_type_name(in(a).type),
                       elem_type_name(in(b).type)));
  }

  // Attributes.
  bool has_attr(const std::string &key) const { return n_.attrs.count(key) > 0; }
  const Attribute &attr(const std::string &key, Attribute::Kind kind, const char *kind_name) const {
    const Attribute &a = n_.attrs.at(key);
    if (a.kind != kind) fail(fmt::format("attribute '{}' must be {}", key, kind_name));
    return a;
  }
  int64_t get_int(const std::string &key, int64_t def) const {
    return has_attr(key) ? attr(key, Attribute::Kind::Int, "an int").i : def;
  }
  double get_float(const std::string &key, double def) const {
    return has_attr(key) ? attr(key, Attribute::Kind::Float, "a float").f : def;
  }
  std::string get_string(const std::string &key, const std::string &def) const {
    return has_attr(key) ? attr(key, Attribute::Kind::String, "a string").s : def;
  }
  std::optional<std::vector<int64_t>> get_ints(const std::string &key) const {
    if (!has_attr(key)) return std::nullopt;
    return attr(key, Attribute::Kind::Ints, "a list of ints").ints;
  }
  int64_t require_int(const std::string &key) const {
    if (!has_attr(key)) fail(fmt::format("attribute '{}' is required", key));
    return get_int(key, 0);
  }
  /// `axis` in [-rank, rank) (or [-rank, rank] when `inclusive`), made non-negative.
  int64_t norm_axis(int64_t axis, int64_t rank, const std::string &what = "axis", bool inclusive = false) const {
    int64_t hi = inclusive ? rank : rank - 1;
    if (axis < -rank || axis > hi)
      fail(fmt::format("{} {} is out of range for rank {} (allowed: {} to {})", what, axis, rank, -rank, hi));
    return axis < 0 ? axis + rank : axis;
  }
  std::vector<int64_t> norm_axes(const std::vector<int64_t> &axes, int64_t rank) const {
    std::vector<int64_t> out;
    for (int64_t a : axes) out.push_back(norm_axis(a, rank, "axis"));
    std::sort(out.begin(), out.end());
    if (std::adjacent_find(out.begin(), out.end()) != out.end()) fail(fmt::format("axes [{}] repeat an axis", fmt::join(axes, ",")));
    return out;
  }
  /// Multidirectional (numpy) broadcasting of the shapes of inputs `ids`.
  Shape broadcast(std::initializer_list<size_t> ids) const {
    Shape out;
    for (size_t i : ids) {
      const Shape &s = shape(i);
      Shape r(std::max(out.size(), s.size()), 1);
      for (size_t k = 0; k < r.size(); ++k) {
        int64_t a = k + out.size() >= r.size() ? out[k + out.size() - r.size()] : 1;
        int64_t b = k + s.size() >= r.size() ? s[k + s.size() - r.size()] : 1;
        if (a != b && a != 1 && b != 1) {
          std::vector<std::string> all;
          for (size_t j : ids) all.push_back(shape_to_string(shape(j)));
          fail(fmt::format("cannot broadcast shapes {}", fmt::join(all, " and ")));
        }
        r[k] = a == 1 ? b : a;
      }
      out = r;
    }
    return out;
  }
  /// Whether `from` broadcasts to `to` one way (ONNX's "unidirectional broadcasting").
  static bool broadcasts_to(const Shape &from, const Shape &to) {
    if (from.size() > to.size()) return false;
    for (size_t k = 0; k < from.size(); ++k) {
      int64_t f = from[from.size() - 1 - k], t = to[to.size() - 1 - k];
      if (f != 1 && f != t) return false;
    }
    return true;
  }

  // Outputs.
  size_t num_outputs() const { return n_.outputs.size(); }
  Tensor &out(size_t i) { return ctx_.graph->tensors[static_cast<size_t>(n_.outputs.at(i))]; }
  void set_out(size_t i, ElemType type, Shape shape) {
    num_elements(shape);
    out(i).type = type;
    out(i).shape = std::move(shape);
  }
  /// Fails if optional output `i` is present and read.
  void no_optional_output(size_t i, const std::string &what) const {
    if (i < n_.outputs.size() && n_.outputs[i] >= 0 && n_.output_used[i])
      fail(fmt::format("output {} ({}) is not supported", i, what));
  }
  /// Makes output 0 the tensor of input `i` (the node disappears).
  void alias_output(size_t i) { ctx_.aliases[n_.outputs.at(0)] = id(i); }

  /// The node to keep: op, name, the inputs given (data inputs only) and output 0..count-1.
  Node node(OpKind op, std::vector<size_t> inputs, size_t outputs = 1) const {
    Node n;
    n.op = op;
    n.name = n_.name;
    for (size_t i : inputs) n.inputs.push_back(id(i));
    for (size_t i = 0; i < outputs; ++i) n.outputs.push_back(n_.outputs.at(i));
    return n;
  }

  // Folding.
  /// Fails when a folded constant of shape `s` would be too large (checked before any index
  /// maps are built).
  void check_fold_size(const Shape &s) const {
    int64_t n = num_elements(s);
    if (n > kMaxFoldedElements) fail(fmt::format("folding it would make a constant of {} elements", n));
  }
  void alloc_out(size_t i) {
    int64_t n = num_elements(out(i).shape);
    if (n > kMaxFoldedElements) fail(fmt::format("folding it would make a constant of {} elements", n));
    out(i).data.emplace(static_cast<size_t>(n) * static_cast<size_t>(elem_size(out(i).type)));
  }
  /// Output i's element e is element map[e] of input `src` (same element type).
  void fold_gather(size_t i, size_t src, const std::vector<int64_t> &map) {
    alloc_out(i);
    int sz = elem_size(out(i).type);
    KCC_INTERNAL(in(src).type == out(i).type, "fold_gather between element types");
    for (size_t e = 0; e < map.size(); ++e)
      std::memcpy(out(i).data->data() + e * static_cast<size_t>(sz),
                  in(src).data->data() + static_cast<size_t>(map[e]) * static_cast<size_t>(sz), static_cast<size_t>(sz));
  }
  void fold_ints(size_t i, const std::vector<int64_t> &v) {
    alloc_out(i);
    for (size_t e = 0; e < v.size(); ++e) store_int(out(i).type, out(i).data->data() + e * static_cast<size_t>(elem_size(out(i).type)), v[e]);
  }
  void fold_doubles(size_t i, const std::vector<double> &v) {
    alloc_out(i);
    for (size_t e = 0; e < v.size(); ++e) store_double(out(i).type, out(i).data->data() + e * static_cast<size_t>(elem_size(out(i).type)), v[e]);
  }
  /// Output 0 has input i's data (a reshape).
  void fold_same_data(size_t i) {
    alloc_out(0);
    *out(0).data = *in(i).data;
  }

 private:
  ImportContext &ctx_;
  OnnxNode &n_;
};

/// An operator's import: returns the node to keep, or nullopt when it folded or removed it.
/// `fold`, when set, is called instead when every input is a constant.
using ImportFn = std::function<std::optional<Node>(Op &)>;

// ---------------------------------------------------------------------------------------------
// Element-wise.

std::optional<Node> unary(Op &op, OpKind kind) {
  op.check_counts(1, 1, 1, 1);
  op.check_type(0, {ElemType::F32, ElemType::F64}, "X");
  op.set_out(0, op.in(0).type, op.shape(0));
  Node n = op.node(kind, {0});
  switch (kind) {
    case OpKind::LeakyRelu: n.attrs["alpha"] = Attribute::of_float(op.get_float("alpha", 0.01)); break;
    case OpKind::HardSigmoid:
      n.attrs["alpha"] = Attribute::of_float(op.get_float("alpha", 0.2));
      n.attrs["beta"] = Attribute::of_float(op.get_float("beta", 0.5));
      break;
    case OpKind::Gelu: {
      std::string approx = op.get_string("approximate", "none");
      if (approx != "none" && approx != "tanh")
        op.fail(fmt::format("unsupported approximate value '{}'; expected 'none' or 'tanh'", approx));
      n.attrs["approximate"] = Attribute::of_string(approx);
      break;
    }
    default: break;
  }
  return n;
}

std::optional<Node> clip(Op &op) {
  op.check_counts(1, 3, 1, 1);
  op.check_type(0, {ElemType::F32, ElemType::F64}, "input");
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
  auto bound = [&](size_t i, const char *what, double &v) {
    if (!op.has(i)) return;
    if (!op.in(i).is_constant()) op.fail(fmt::format("input {} ({}) must be a constant", i, what));
    if (num_elements(op.shape(i)) != 1) op.fail(fmt::format("input {} ({}) must be a scalar, not {}", i, what, shape_to_string(op.shape(i))));
    v = read_doubles(op.in(i))[0];
  };
  bound(1, "min", lo);
  bound(2, "max", hi);
  op.set_out(0, op.in(0).type, op.shape(0));
  Node n = op.node(OpKind::Clip, {0});
  n.attrs["min"] = Attribute::of_float(lo);
  n.attrs["max"] = Attribute::of_float(hi);
  return n;
}

std::optional<Node> prelu(Op &op) {
  op.check_counts(2, 2, 1, 1);
  op.check_same_type(0, 1);
  if (!Op::broadcasts_to(op.shape(1), op.shape(0)))
    op.fail(fmt::format("slope of shape {} does not broadcast to X of shape {}", shape_to_string(op.shape(1)), shape_to_string(op.shape(0))));
  op.set_out(0, op.in(0).type, op.shape(0));
  return op.node(OpKind::PRelu, {0, 1});
}

std::optional<Node> binary(Op &op, OpKind kind) {
  op.check_counts(2, 2, 1, 1);
  if (kind != OpKind::Pow) op.check_same_type(0, 1);
  Shape s = op.broadcast({0, 1});
  op.set_out(0, op.in(0).type, s);
  if (op.all_constant() && kind != OpKind::Pow) {
    op.check_fold_size(s);
    auto ma = broadcast_map(op.shape(0), s), mb = broadcast_map(op.shape(1), s);
    if (is_float(op.in(0).type)) {
      auto a = read_doubles(op.in(0)), b = read_doubles(op.in(1));
      std::vector<double> r(ma.size());
      for (size_t e = 0; e < r.size(); ++e) {
        double x = a[static_cast<size_t>(ma[e])], y = b[static_cast<size_t>(mb[e])];
        r[e] = kind == OpKind::Add ? x + y : kind == OpKind::Sub ? x - y : kind == OpKind::Mul ? x * y : x / y;
      }
      op.fold_doubles(0, r);
    } else {
      auto a = read_ints(op.in(0)), b = read_ints(op.in(1));
      std::vector<int64_t> r(ma.size());
      for (size_t e = 0; e < r.size(); ++e) {
        // Wrap on overflow like the integer types do.
        uint64_t x = static_cast<uint64_t>(a[static_cast<size_t>(ma[e])]), y = static_cast<uint64_t>(b[static_cast<size_t>(mb[e])]);
        if (kind == OpKind::Div) {
          if (y == 0) op.fail("integer division by zero in a constant");
          if (static_cast<int64_t>(y) == -1) r[e] = static_cast<int64_t>(0 - x);
          else r[e] = static_cast<int64_t>(x) / static_cast<int64_t>(y);
        } else {
          r[e] = static_cast<int64_t>(kind == OpKind::Add ? x + y : kind == OpKind::Sub ? x - y : x * y);
        }
      }
      op.fold_ints(0, r);
    }
    return std::nullopt;
  }
  return op.node(kind, {0, 1});
}

// ---------------------------------------------------------------------------------------------
// Convolution and pooling.

/// Kernel geometry of a Conv, ConvTranspose or pool, read from the attributes and normalized.
struct Window {
  std::vector<int64_t> kernel, strides, dilations, pads;
  std::string auto_pad;
};

Window read_window(Op &op, const std::vector<int64_t> &kernel, bool dilations_allowed) {
  size_t sp = kernel.size();
  Window w;
  w.kernel = kernel;
  auto list = [&](const char *key, int64_t def, size_t count, int64_t min) {
    auto v = op.get_ints(key).value_or(std::vector<int64_t>(count, def));
    if (v.size() != count) op.fail(fmt::format("attribute '{}' has {} values; expected {}", key, v.size(), count));
    for (int64_t x : v)
      if (x < min) op.fail(fmt::format("attribute '{}' has value {}; it must be at least {}", key, x, min));
    return v;
  };
  w.strides = list("strides", 1, sp, 1);
  if (!dilations_allowed && op.has_attr("dilations")) op.fail("attribute 'dilations' is not supported here");
  w.dilations = list("dilations", 1, sp, 1);
  w.auto_pad = op.get_string("auto_pad", "NOTSET");
  if (w.auto_pad != "NOTSET" && w.auto_pad != "SAME_UPPER" && w.auto_pad != "SAME_LOWER" && w.auto_pad != "VALID")
    op.fail(fmt::format("unsupported auto_pad value '{}'; expected NOTSET, SAME_UPPER, SAME_LOWER or VALID", w.auto_pad));
  if (w.auto_pad != "NOTSET" && op.has_attr("pads"))
    op.fail(fmt::format("attribute 'pads' cannot be used with auto_pad '{}'", w.auto_pad));
  w.pads = list("pads", 0, 2 * sp, 0);
  return w;
}

/// Output sizes of a convolution or pool over spatial input `in`; resolves auto_pad into w.pads.
Shape window_output(Op &op, Window &w, const Shape &in, bool ceil_mode) {
  size_t sp = w.kernel.size();
  Shape out(sp);
  for (size_t i = 0; i < sp; ++i) {
    int64_t ek = (w.kernel[i] - 1) * w.dilations[i] + 1, s = w.strides[i];
    if (w.auto_pad == "SAME_UPPER" || w.auto_pad == "SAME_LOWER") {
      out[i] = (in[i] + s - 1) / s;
      int64_t total = std::max<int64_t>(0, (out[i] - 1) * s + ek - in[i]);
      int64_t small = total / 2, big = total - small;
      w.pads[i] = w.auto_pad == "SAME_UPPER" ? small : big;
      w.pads[i + sp] = w.auto_pad == "SAME_UPPER" ? big : small;
      continue;
    }
    if (w.auto_pad == "VALID") w.pads[i] = w.pads[i + sp] = 0;
    int64_t span = in[i] + w.pads[i] + w.pads[i + sp] - ek;
    if (span < 0)
      op.fail(fmt::format("spatial axis {}: input {} with pads {}+{} is smaller than the kernel's extent {}", i, in[i],
                          w.pads[i], w.pads[i + sp], ek));
    out[i] = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    // As PyTorch and onnxruntime do: the last window must start inside the input or its left pad.
    if (ceil_mode && (out[i] - 1) * s >= in[i] + w.pads[i]) --out[i];
  }
  return out;
}

void put_window(Node &n, const Window &w) {
  n.attrs["kernel_shape"] = Attribute::of_ints(w.kernel);
  n.attrs["strides"] = Attribute::of_ints(w.strides);
  n.attrs["dilations"] = Attribute::of_ints(w.dilations);
  n.attrs["pads"] = Attribute::of_ints(w.pads);
}

std::vector<int64_t> kernel_from_weights(Op &op, const Shape &w) {
  std::vector<int64_t> k(w.begin() + 2, w.end());
  if (auto attr = op.get_ints("kernel_shape"); attr && *attr != k)
    op.fail(fmt::format("attribute kernel_shape [{}] does not match the weights' shape {}", fmt::join(*attr, ","), shape_to_string(w)));
  return k;
}

std::optional<Node> conv(Op &op) {
  op.check_counts(2, 3, 1, 1);
  op.check_type(0, {ElemType::F32, ElemType::F64}, "X");
  op.check_same_type(0, 1);
  const Shape &x = op.shape(0), &w = op.shape(1);
  if (x.size() < 3) op.fail(fmt::format("input X must have rank 3 or more (N, C, spatial...), has shape {}", shape_to_string(x)));
  if (w.size() != x.size()) op.fail(fmt::format("weights W of shape {} must have the rank of X ({})", shape_to_string(w), shape_to_string(x)));
  int64_t group = op.get_int("group", 1);
  if (group < 1) op.fail(fmt::format("group {} must be positive", group));
  if (w[1] * group != x[1])
    op.fail(fmt::format("input X has {} channels but W of shape {} expects {} (group {})", x[1], shape_to_string(w), w[1] * group, group));
  if (w[0] % group != 0) op.fail(fmt::format("{} output channels do not divide into {} groups", w[0], group));
  if (op.has(2) && op.shape(2) != Shape{w[0]})
    op.fail(fmt::format("bias B has shape {}; expected {}", shape_to_string(op.shape(2)), w[0]));
  Window win = read_window(op, kernel_from_weights(op, w), true);
  Shape out = window_output(op, win, Shape(x.begin() + 2, x.end()), false);
  out.insert(out.begin(), {x[0], w[0]});
  op.set_out(0, op.in(0).type, out);
  Node n = op.node(OpKind::Conv, op.has(2) ? std::vector<size_t>{0, 1, 2} : std::vector<size_t>{0, 1});
  put_window(n, win);
  n.attrs["group"] = Attribute::of_int(group);
  return n;
}

std::optional<Node> conv_transpose(Op &op) {
  op.check_counts(2, 3, 1, 1);
  op.check_type(0, {ElemType::F32, ElemType::F64}, "X");
  op.check_same_type(0, 1);
  const Shape &x = op.shape(0), &w = op.shape(1);
  if (x.size() < 3) op.fail(fmt::format("input X must have rank 3 or more (N, C, spatial...), has shape {}", shape_to_string(x)));
  if (w.size() != x.size()) op.fail(fmt::format("weights W of shape {} must have the rank of X ({})", shape_to_string(w), shape_to_string(x)));
  int64_t group = op.get_int("group", 1);
  if (group < 1) op.fail(fmt::format("group {} must be positive", group));
  if (w[0] != x[1]) op.fail(fmt::format("input X has {} channels but W of shape {} expects {}", x[1], shape_to_string(w), w[0]));
  if (x[1] % group != 0) op.fail(fmt::format("{} input channels do not divide into {} groups", x[1], group));
  int64_t m = w[1] * group;
  if (op.has(2) && op.shape(2) != Shape{m}) op.fail(fmt::format("bias B has shape {}; expected {}", shape_to_string(op.shape(2)), m));
  Window win = read_window(op, kernel_from_weights(op, w), true);
  size_t sp = x.size() - 2;
  auto output_padding = op.get_ints("output_padding").value_or(std::vector<int64_t>(sp, 0));
  if (output_padding.size() != sp) op.fail(fmt::format("attribute 'output_padding' has {} values; expected {}", output_padding.size(), sp));
  auto output_shape = op.get_ints("output_shape");
  if (output_shape && output_shape->size() != sp && output_shape->size() != x.size())
    op.fail(fmt::format("attribute 'output_shape' has {} values; expected {}", output_shape->size(), sp));
  Shape out{x[0], m};
  for (size_t i = 0; i < sp; ++i) {
    int64_t in = x[i + 2], s = win.strides[i], ek = (win.kernel[i] - 1) * win.dilations[i] + 1;
    int64_t full = s * (in - 1) + output_padding[i] + ek;
    bool same = win.auto_pad == "SAME_UPPER" || win.auto_pad == "SAME_LOWER";
    if (output_shape || same) {
      // ONNX: total padding from the requested size; SAME_UPPER puts the smaller half first.
      int64_t target = output_shape ? (*output_shape)[output_shape->size() - sp + i] : in * s;
      int64_t total = full - target;
      if (total < 0) op.fail(fmt::format("output_shape {} on spatial axis {} is larger than the {} the input allows", target, i, full));
      int64_t small = total / 2, big = total - small;
      win.pads[i] = win.auto_pad == "SAME_UPPER" ? small : big;
      win.pads[i + sp] = win.auto_pad == "SAME_UPPER" ? big : small;
    } else if (win.auto_pad == "VALID") {
      win.pads[i] = win.pads[i + sp] = 0;
    }
    int64_t o = full - win.pads[i] - win.pads[i + sp];
    if (o <= 0) op.fail(fmt::format("spatial axis {}: the pads leave an empty output", i));
    out.push_back(o);
  }
  op.set_out(0, op.in(0).type, out);
  Node n = op.node(OpKind::ConvTranspose, op.has(2) ? std::vector<size_t>{0, 1, 2} : std::vector<size_t>{0, 1});
  put_window(n, win);
  n.attrs["group"] = Attribute::of_int(group);
  n.attrs["output_padding"] = Attribute::of_ints(output_padding);
  return n;
}

std::optional<Node> pool(Op &op, OpKind kind) {
  op.check_counts(1, 1, 1, kind == OpKind::MaxPool ? 2 : 1);
  if (kind == OpKind::MaxPool) op.no_optional_output(1, "Indices");
  op.check_type(0, {ElemType::F32, ElemType::F64}, "X");
  const Shape &x = op.shape(0);
  if (x.size() < 3) op.fail(fmt::format("input X must have rank 3 or more (N, C, spatial...), has shape {}", shape_to_string(x)));
  auto kernel = op.get_ints("kernel_shape");
  if (!kernel) op.fail("attribute 'kernel_shape' is required");
  if (kernel->size() != x.size() - 2)
    op.fail(fmt::format("attribute kernel_shape [{}] does not match the {} spatial axes of X", fmt::join(*kernel, ","), x.size() - 2));
  for (int64_t k : *kernel)
    if (k < 1) op.fail(fmt::format("attribute kernel_shape [{}] must be positive", fmt::join(*kernel, ",")));
  int64_t ceil_mode = op.get_int("ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1) op.fail(fmt::format("ceil_mode {} must be 0 or 1", ceil_mode));
  Window win = read_window(op, *kernel, kind == OpKind::MaxPool || op.opset() >= 19);
  Shape out = window_output(op, win, Shape(x.begin() + 2, x.end()), ceil_mode == 1);
  out.insert(out.begin(), {x[0], x[1]});
  op.set_out(0, op.in(0).type, out);
  Node n = op.node(kind, {0});
  put_window(n, win);
  n.attrs["ceil_mode"] = Attribute::of_int(ceil_mode);
  if (kind == OpKind::AveragePool) {
    int64_t cip = op.get_int("count_include_pad", 0);
    if (cip != 0 && cip != 1) op.fail(fmt::format("count_include_pad {} must be 0 or 1", cip));
    n.attrs["count_include_pad"] = Attribute::of_int(cip);
  } else if (op.get_int("storage_order", 0) != 0) {
    op.fail("storage_order 1 is not supported");
  }
  return n;
}

std::optional<Node> global_average_pool(Op &op) {
  op.check_counts(1, 1, 1, 1);
  op.check_type(0, {ElemType::F32, ElemType::F64}, "X");
  Shape s = op.shape(0);
  if (s.size() < 3) op.fail(fmt::format("input X must have rank 3 or more (N, C, spatial...), has shape {}", shape_to_string(s)));
  std::fill(s.begin() + 2, s.end(), 1);
  op.set_out(0, op.in(0).type, s);
  return op.node(OpKind::GlobalAveragePool, {0});
}

std::optional<Node> batch_norm(Op &op) {
  op.check_counts(5, 5, 1, 5);
  for (size_t i = 1; i < op.num_outputs(); ++i) op.no_optional_output(i, "training statistics");
  if (op.get_int("training_mode", 0) != 0) op.fail("training_mode 1 is not supported (kcc compiles inference)");
  const Shape &x = op.shape(0);
  if (x.size() < 2) op.fail(fmt::format("input X must have rank 2 or more, has shape {}", shape_to_string(x)));
  const char *names[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5; ++i) {
    op.check_same_type(0, i);
    if (op.shape(i) != Shape{x[1]})
      op.fail(fmt::format("input {} ({}) has shape {}; expected {} (the channels of X)", i, names[i], shape_to_string(op.shape(i)), x[1]));
  }
  op.set_out(0, op.in(0).type, x);
  Node n = op.node(OpKind::BatchNormalization, {0, 1, 2, 3, 4});
  n.attrs["epsilon"] = Attribute::of_float(op.get_float("epsilon", 1e-5));
  return n;
}

// ---------------------------------------------------------------------------------------------
// Matrix products and normalizations.

std::optional<Node> gemm(Op &op) {
  op.check_counts(2, 3, 1, 1);
  op.check_same_type(0, 1);
  int64_t ta = op.get_int("transA", 0), tb = op.get_int("transB", 0);
  if (op.rank(0) != 2 || op.rank(1) != 2)
    op.fail(fmt::format("inputs A and B must be matrices, have shapes {} and {}", shape_to_string(op.shape(0)), shape_to_string(op.shape(1))));
  int64_t m = op.shape(0)[ta ? 1 : 0], k = op.shape(0)[ta ? 0 : 1];
  int64_t kb = op.shape(1)[tb ? 1 : 0], n = op.shape(1)[tb ? 0 : 1];
  if (k != kb)
    op.fail(fmt::format("A{} is {} and B{} is {}: inner dimensions {} and {} differ", ta ? "'" : "", shape_to_string(op.shape(0)),
                        tb ? "'" : "", shape_to_string(op.shape(1)), k, kb));
  if (op.has(2) && !Op::broadcasts_to(op.shape(2), Shape{m, n}))
    op.fail(fmt::format("C of shape {} does not broadcast to the {}x{} result", shape_to_string(op.shape(2)), m, n));
  op.set_out(0, op.in(0).type, {m, n});
  Node node = op.node(OpKind::Gemm, op.has(2) ? std::vector<size_t>{0, 1, 2} : std::vector<size_t>{0, 1});
  node.attrs["alpha"] = Attribute::of_float(op.get_float("alpha", 1));
  node.attrs["beta"] = Attribute::of_float(op.get_float("beta", 1));
  node.attrs["transA"] = Attribute::of_int(ta != 0);
  node.attrs["transB"] = Attribute::of_int(tb != 0);
  return node;
}

std::optional<Node> matmul(Op &op) {
  op.check_counts(2, 2, 1, 1);
  op.check_same_type(0, 1);
  Shape a = op.shape(0), b = op.shape(1);
  if (a.empty() || b.empty()) op.fail("inputs must have rank 1 or more");
  bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  if (a.back() != b[b.size() - 2])
    op.fail(fmt::format("inner dimensions differ: A is {} and B is {}", shape_to_string(op.shape(0)), shape_to_string(op.shape(1))));
  Shape ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  Shape batch(std::max(ba.size(), bb.size()));
  for (size_t k = 0; k < batch.size(); ++k) {
    int64_t x = k + ba.size() >= batch.size() ? ba[k + ba.size() - batch.size()] : 1;
    int64_t y = k + bb.size() >= batch.size() ? bb[k + bb.size() - batch.size()] : 1;
    if (x != y && x != 1 && y != 1)
      op.fail(fmt::format("batch dimensions of {} and {} do not broadcast", shape_to_string(op.shape(0)), shape_to_string(op.shape(1))));
    batch[k] = x == 1 ? y : x;
  }
  Shape out = batch;
  if (!a_vec) out.push_back(a[a.size() - 2]);
  if (!b_vec) out.push_back(b.back());
  op.set_out(0, op.in(0).type, out);
  return op.node(OpKind::MatMul, {0, 1});
}

std::optional<Node> softmax(Op &op) {
  op.check_counts(1, 1, 1, 1);
  op.check_type(0, {ElemType::F32, ElemType::F64}, "input");
  int64_t r = op.rank(0);
  if (r == 0) op.fail("input must have rank 1 or more");
  int64_t axis = op.norm_axis(op.get_int("axis", op.opset() >= 13 ? -1 : 1), r);
  // Before opset 13 Softmax normalizes over every axis from `axis` on; that equals the one-axis
  // form when the axes after it are all 1.
  if (op.opset() < 13)
    for (int64_t d = axis + 1; d < r; ++d)
      if (op.shape(0)[static_cast<size_t>(d)] != 1)
        op.fail(fmt::format("before opset 13 Softmax over axis {} of a {} tensor normalizes over axes {} to {}; kcc supports "
                            "one axis (re-export with opset 13)",
                            axis, shape_to_string(op.shape(0)), axis, r - 1));
  op.set_out(0, op.in(0).type, op.shape(0));
  Node n = op.node(OpKind::Softmax, {0});
  n.attrs["axis"] = Attribute::of_int(axis);
  return n;
}

std::optional<Node> layer_norm(Op &op) {
  op.check_counts(2, 3, 1, 3);
  op.no_optional_output(1, "Mean");
  op.no_optional_output(2, "InvStdDev");
  op.check_type(0, {ElemType::F32, ElemType::F64}, "X");
  int64_t axis = op.norm_axis(op.get_int("axis", -1), op.rank(0));
  Shape norm(op.shape(0).begin() + axis, op.shape(0).end());
  for (size_t i = 1; i < op.num_inputs(); ++i)
    if (op.has(i) && !Op::broadcasts_to(op.shape(i), norm))
      op.fail(fmt::format("input {} ({}) of shape {} does not broadcast to the normalized shape {}", i, i == 1 ? "Scale" : "B",
                          shape_to_string(op.shape(i)), shape_to_string(norm)));
  op.set_out(0, op.in(0).type, op.shape(0));
  Node n = op.node(OpKind::LayerNormalization, op.has(2) ? std::vector<size_t>{0, 1, 2} : std::vector<size_t>{0, 1});
  n.attrs["axis"] = Attribute::of_int(axis);
  n.attrs["epsilon"] = Attribute::of_float(op.get_float("epsilon", 1e-5));
  return n;
}

std::optional<Node> reduce(Op &op, OpKind kind) {
  // ReduceSum takes its axes as an input from opset 13, ReduceMean from opset 18.
  bool axes_input = op.opset() >= (kind == OpKind::ReduceSum ? 13 : 18);
  op.check_counts(1, axes_input ? 2 : 1, 1, 1);
  op.check_type(0, {ElemType::F32, ElemType::F64}, "data");
  std::vector<int64_t> axes;
  if (axes_input) {
    if (op.has_attr("axes")) op.fail(fmt::format("attribute 'axes' is an input from opset {}", kind == OpKind::ReduceSum ? 13 : 18));
    if (op.has(1)) axes = op.const_ints(1, "axes");
  } else {
    axes = op.get_ints("axes").value_or(std::vector<int64_t>{});
  }
  int64_t keepdims = op.get_int("keepdims", 1);
  int64_t r = op.rank(0);
  if (axes.empty()) {
    if (op.get_int("noop_with_empty_axes", 0) != 0) {
      op.set_out(0, op.in(0).type, op.shape(0));
      op.alias_output(0);
      return std::nullopt;
    }
    for (int64_t d = 0; d < r; ++d) axes.push_back(d);
  }
  axes = op.norm_axes(axes, r);
  Shape out;
  for (int64_t d = 0; d < r; ++d) {
    bool reduced = std::binary_search(axes.begin(), axes.end(), d);
    if (!reduced) out.push_back(op.shape(0)[static_cast<size_t>(d)]);
    else if (keepdims) out.push_back(1);
  }
  op.set_out(0, op.in(0).type, out);
  Node n = op.node(kind, {0});
  n.attrs["axes"] = Attribute::of_ints(axes);
  n.attrs["keepdims"] = Attribute::of_int(keepdims != 0);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Data movement (also folded: shape computations use them).

std::optional<Node> concat(Op &op) {
  op.check_counts(1, SIZE_MAX, 1, 1);
  if (!op.has_attr("axis")) op.fail("attribute 'axis' is required");
  int64_t r = op.rank(0);
  if (r == 0) op.fail("inputs must have rank 1 or more");
  int64_t axis = op.norm_axis(op.get_int("axis", 0), r);
  Shape out = op.shape(0);
  out[static_cast<size_t>(axis)] = 0;
  std::vector<size_t> ins;
  for (size_t i = 0; i < op.num_inputs(); ++i) {
    op.check_same_type(0, i);
    const Shape &s = op.shape(i);
    bool ok = s.size() == out.size();
    for (size_t d = 0; ok && d < s.size(); ++d) ok = static_cast<int64_t>(d) == axis || s[d] == out[d];
    if (!ok) op.fail(fmt::format("input {} of shape {} does not match input 0 of shape {} outside axis {}", i, shape_to_string(s),
                                 shape_to_string(op.shape(0)), axis));
    out[static_cast<size_t>(axis)] += s[static_cast<size_t>(axis)];
    ins.push_back(i);
  }
  op.set_out(0, op.in(0).type, out);
  if (op.all_constant()) {
    // Output element e comes from the input whose slice of the axis holds its index.
    std::vector<int64_t> st = strides_of(out);
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= out[static_cast<size_t>(d)];
    int64_t inner = st[static_cast<size_t>(axis)];
    op.alloc_out(0);
    int sz = elem_size(op.out(0).type);
    uint8_t *dst = op.out(0).data->data();
    for (int64_t o = 0; o < outer; ++o)
      for (size_t i = 0; i < op.num_inputs(); ++i) {
        size_t bytes = static_cast<size_t>(op.shape(i)[static_cast<size_t>(axis)] * inner * sz);
        std::memcpy(dst, op.in(i).data->data() + static_cast<size_t>(o) * bytes, bytes);
        dst += bytes;
      }
    return std::nullopt;
  }
  Node n = op.node(OpKind::Concat, ins);
  n.attrs["axis"] = Attribute::of_int(axis);
  return n;
}

std::optional<Node> split(Op &op) {
  bool split_input = op.opset() >= 13;
  op.check_counts(1, split_input ? 2 : 1, 1, SIZE_MAX);
  int64_t r = op.rank(0);
  if (r == 0) op.fail("input must have rank 1 or more");
  int64_t axis = op.norm_axis(op.get_int("axis", 0), r);
  int64_t dim = op.shape(0)[static_cast<size_t>(axis)];
  int64_t outs = static_cast<int64_t>(op.num_outputs());
  std::vector<int64_t> sizes;
  if (split_input && op.has(1)) sizes = op.const_ints(1, "split");
  else if (!split_input) sizes = op.get_ints("split").value_or(std::vector<int64_t>{});
  if (!sizes.empty()) {
    if (op.has_attr("num_outputs")) op.fail("'split' and 'num_outputs' cannot both be given");
    if (static_cast<int64_t>(sizes.size()) != outs)
      op.fail(fmt::format("split [{}] has {} sizes for {} outputs", fmt::join(sizes, ","), sizes.size(), outs));
    int64_t sum = 0;
    for (int64_t s : sizes) {
      if (s < 0) op.fail(fmt::format("split [{}] has a negative size", fmt::join(sizes, ",")));
      sum += s;
    }
    if (sum != dim) op.fail(fmt::format("split [{}] adds up to {}, but axis {} has {}", fmt::join(sizes, ","), sum, axis, dim));
  } else if (op.opset() >= 18 && op.has_attr("num_outputs")) {
    int64_t n = op.get_int("num_outputs", 0);
    if (n != outs) op.fail(fmt::format("num_outputs {} but the node has {} outputs", n, outs));
    int64_t chunk = (dim + n - 1) / n;
    if (chunk * (n - 1) >= dim && dim > 0) op.fail(fmt::format("axis {} of size {} cannot be split into {} non-empty parts", axis, dim, n));
    for (int64_t i = 0; i < n; ++i) sizes.push_back(std::min(chunk, dim - chunk * i));
  } else {
    if (dim % outs != 0) op.fail(fmt::format("axis {} of size {} does not split evenly into {} outputs", axis, dim, outs));
    sizes.assign(static_cast<size_t>(outs), dim / outs);
  }
  for (size_t i = 0; i < op.num_outputs(); ++i) {
    if (op.onnx().outputs[i] < 0) op.fail(fmt::format("output {} is empty", i));
    Shape s = op.shape(0);
    s[static_cast<size_t>(axis)] = sizes[i];
    op.set_out(i, op.in(0).type, s);
  }
  Node n = op.node(OpKind::Split, {0}, op.num_outputs());
  n.attrs["axis"] = Attribute::of_int(axis);
  n.attrs["split"] = Attribute::of_ints(sizes);
  return n;
}

std::optional<Node> slice(Op &op) {
  op.check_counts(3, 5, 1, 1);
  const Shape &x = op.shape(0);
  int64_t r = op.rank(0);
  auto starts = op.const_ints(1, "starts"), ends = op.const_ints(2, "ends");
  std::vector<int64_t> axes, steps;
  if (op.has(3)) axes = op.const_ints(3, "axes");
  else
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (op.has(4)) steps = op.const_ints(4, "steps");
  else steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    op.fail(fmt::format("starts, ends, axes and steps have {}, {}, {} and {} values; they must agree", starts.size(), ends.size(),
                        axes.size(), steps.size()));
  Shape out = x;
  std::vector<int64_t> first(x.size(), 0), step(x.size(), 1);
  std::set<int64_t> seen;
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t a = op.norm_axis(axes[i], r);
    if (!seen.insert(a).second) op.fail(fmt::format("axis {} is sliced twice", a));
    int64_t dim = x[static_cast<size_t>(a)], s = steps[i];
    if (s == 0) op.fail(fmt::format("step 0 on axis {}", a));
    auto clamp = [&](int64_t v, int64_t lo, int64_t hi) {
      if (v < 0) v = v < -dim ? -1 - dim : v;  // keeps INT64_MIN from overflowing
      if (v < 0) v += dim;
      return std::clamp(v, lo, hi);
    };
    int64_t b = s > 0 ? clamp(starts[i], 0, dim) : clamp(starts[i], 0, dim - 1);
    int64_t e = s > 0 ? clamp(ends[i], 0, dim) : clamp(ends[i], -1, dim - 1);
    starts[i] = b;
    ends[i] = e;
    axes[i] = a;
    int64_t n = s > 0 ? (e - b + s - 1) / s : (b - e + (-s) - 1) / (-s);
    out[static_cast<size_t>(a)] = std::max<int64_t>(0, n);
    first[static_cast<size_t>(a)] = b;
    step[static_cast<size_t>(a)] = s;
  }
  op.set_out(0, op.in(0).type, out);
  if (op.in(0).is_constant()) {
    std::vector<int64_t> st = strides_of(x), map(static_cast<size_t>(num_elements(out)));
    op.check_fold_size(out);
    std::vector<int64_t> idx(out.size(), 0);
    for (size_t e = 0; e < map.size(); ++e) {
      int64_t src = 0;
      for (size_t d = 0; d < out.size(); ++d) src += (first[d] + idx[d] * step[d]) * st[d];
      map[e] = src;
      for (size_t d = out.size(); d-- > 0;) {
        if (++idx[d] < out[d]) break;
        idx[d] = 0;
      }
    }
    op.fold_gather(0, 0, map);
    return std::nullopt;
  }
  Node n = op.node(OpKind::Slice, {0});
  n.attrs["starts"] = Attribute::of_ints(starts);
  n.attrs["ends"] = Attribute::of_ints(ends);
  n.attrs["axes"] = Attribute::of_ints(axes);
  n.attrs["steps"] = Attribute::of_ints(steps);
  return n;
}

/// Reshape, Flatten, Squeeze, Unsqueeze: output 0 has input 0's elements in a new shape.
std::optional<Node> reshaped(Op &op, OpKind kind, Shape out, const char *attr, std::vector<int64_t> value, bool int_attr = false) {
  if (num_elements(out) != num_elements(op.shape(0)))
    op.fail(fmt::format("cannot reshape {} ({} elements) to {}", shape_to_string(op.shape(0)), num_elements(op.shape(0)), shape_to_string(out)));
  op.set_out(0, op.in(0).type, out);
  if (op.in(0).is_constant()) {
    op.fold_same_data(0);
    return std::nullopt;
  }
  Node n = op.node(kind, {0});
  n.attrs[attr] = int_attr ? Attribute::of_int(value.at(0)) : Attribute::of_ints(std::move(value));
  return n;
}

std::optional<Node> reshape(Op &op) {
  op.check_counts(2, 2, 1, 1);
  auto spec = op.const_ints(1, "shape");
  if (op.rank(1) != 1) op.fail(fmt::format("input 1 (shape) must be a list, has shape {}", shape_to_string(op.shape(1))));
  bool allowzero = op.opset() >= 14 && op.get_int("allowzero", 0) != 0;
  const Shape &x = op.shape(0);
  Shape out;
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == 0 && !allowzero) {
      if (i >= x.size()) op.fail(fmt::format("shape [{}] copies dimension {} (a 0) that the {} input does not have", fmt::join(spec, ","), i, shape_to_string(x)));
      d = x[i];
    } else if (d == -1) {
      if (infer >= 0) op.fail(fmt::format("shape [{}] has more than one -1", fmt::join(spec, ",")));
      infer = static_cast<int64_t>(i);
      d = 1;
    } else if (d < 0) {
      op.fail(fmt::format("shape [{}] has a negative dimension {}", fmt::join(spec, ","), d));
    }
    out.push_back(d);
    known = num_elements(Shape{known, d});
  }
  int64_t total = num_elements(x);
  if (infer >= 0) {
    if (known == 0 || total % known != 0)
      op.fail(fmt::format("cannot reshape {} ({} elements) to [{}]", shape_to_string(x), total, fmt::join(spec, ",")));
    out[static_cast<size_t>(infer)] = total / known;
  }
  return reshaped(op, OpKind::Reshape, out, "shape", out);
}

std::optional<Node> flatten(Op &op) {
  op.check_counts(1, 1, 1, 1);
  int64_t axis = op.norm_axis(op.get_int("axis", 1), op.rank(0), "axis", true);
  const Shape &x = op.shape(0);
  int64_t a = num_elements(Shape(x.begin(), x.begin() + axis)), b = num_elements(Shape(x.begin() + axis, x.end()));
  return reshaped(op, OpKind::Flatten, {a, b}, "axis", {axis}, true);
}

std::optional<Node> squeeze(Op &op) {
  bool axes_input = op.opset() >= 13;
  op.check_counts(1, axes_input ? 2 : 1, 1, 1);
  std::optional<std::vector<int64_t>> axes;
  if (axes_input && op.has(1)) axes = op.const_ints(1, "axes");
  else if (!axes_input) axes = op.get_ints("axes");
  const Shape &x = op.shape(0);
  std::vector<int64_t> norm;
  if (axes) {
    norm = op.norm_axes(*axes, op.rank(0));
    for (int64_t a : norm)
      if (x[static_cast<size_t>(a)] != 1) op.fail(fmt::format("cannot squeeze axis {} of size {} (shape {})", a, x[static_cast<size_t>(a)], shape_to_string(x)));
  } else {
    for (size_t d = 0; d < x.size(); ++d)
      if (x[d] == 1) norm.push_back(static_cast<int64_t>(d));
  }
  Shape out;
  for (size_t d = 0; d < x.size(); ++d)
    if (!std::binary_search(norm.begin(), norm.end(), static_cast<int64_t>(d))) out.push_back(x[d]);
  return reshaped(op, OpKind::Squeeze, out, "axes", norm);
}

std::optional<Node> unsqueeze(Op &op) {
  bool axes_input = op.opset() >= 13;
  op.check_counts(axes_input ? 2 : 1, axes_input ? 2 : 1, 1, 1);
  std::vector<int64_t> axes;
  if (axes_input) axes = op.const_ints(1, "axes");
  else if (auto a = op.get_ints("axes")) axes = *a;
  else op.fail("attribute 'axes' is required");
  const Shape &x = op.shape(0);
  int64_t r = static_cast<int64_t>(x.size() + axes.size());
  auto norm = op.norm_axes(axes, r);
  Shape out;
  size_t k = 0;
  for (int64_t d = 0; d < r; ++d) out.push_back(std::binary_search(norm.begin(), norm.end(), d) ? 1 : x[k++]);
  return reshaped(op, OpKind::Unsqueeze, out, "axes", norm);
}

std::optional<Node> transpose(Op &op) {
  op.check_counts(1, 1, 1, 1);
  const Shape &x = op.shape(0);
  std::vector<int64_t> perm;
  if (auto p = op.get_ints("perm")) perm = *p;
  else
    for (size_t d = x.size(); d-- > 0;) perm.push_back(static_cast<int64_t>(d));
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  bool ok = perm.size() == x.size();
  for (size_t d = 0; ok && d < sorted.size(); ++d) ok = sorted[d] == static_cast<int64_t>(d);
  if (!ok) op.fail(fmt::format("perm [{}] is not a permutation of the {} axes of {}", fmt::join(perm, ","), x.size(), shape_to_string(x)));
  Shape out;
  for (int64_t p : perm) out.push_back(x[static_cast<size_t>(p)]);
  op.set_out(0, op.in(0).type, out);
  if (op.in(0).is_constant()) {
    std::vector<int64_t> st = strides_of(x), map(static_cast<size_t>(num_elements(out))), idx(out.size(), 0);
    op.check_fold_size(out);
    for (size_t e = 0; e < map.size(); ++e) {
      int64_t src = 0;
      for (size_t d = 0; d < out.size(); ++d) src += idx[d] * st[static_cast<size_t>(perm[d])];
      map[e] = src;
      for (size_t d = out.size(); d-- > 0;) {
        if (++idx[d] < out[d]) break;
        idx[d] = 0;
      }
    }
    op.fold_gather(0, 0, map);
    return std::nullopt;
  }
  Node n = op.node(OpKind::Transpose, {0});
  n.attrs["perm"] = Attribute::of_ints(perm);
  return n;
}

std::optional<Node> gather(Op &op) {
  op.check_counts(2, 2, 1, 1);
  op.check_type(1, {ElemType::I32, ElemType::I64}, "indices");
  const Shape &x = op.shape(0), &ind = op.shape(1);
  if (x.empty()) op.fail("input data must have rank 1 or more");
  int64_t axis = op.norm_axis(op.get_int("axis", 0), op.rank(0));
  Shape out(x.begin(), x.begin() + axis);
  out.insert(out.end(), ind.begin(), ind.end());
  out.insert(out.end(), x.begin() + axis + 1, x.end());
  op.set_out(0, op.in(0).type, out);
  if (op.in(1).is_constant()) {
    int64_t dim = x[static_cast<size_t>(axis)];
    for (int64_t i : read_ints(op.in(1)))
      if (i < -dim || i >= dim) op.fail(fmt::format("index {} is out of range for axis {} of size {}", i, axis, dim));
  }
  if (op.all_constant()) {
    auto indices = read_ints(op.in(1));
    op.check_fold_size(out);
    int64_t dim = x[static_cast<size_t>(axis)];
    int64_t inner = num_elements(Shape(x.begin() + axis + 1, x.end())), outer = num_elements(Shape(x.begin(), x.begin() + axis));
    std::vector<int64_t> map;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i : indices)
        for (int64_t k = 0; k < inner; ++k) map.push_back((o * dim + (i < 0 ? i + dim : i)) * inner + k);
    op.fold_gather(0, 0, map);
    return std::nullopt;
  }
  Node n = op.node(OpKind::Gather, {0, 1});
  n.attrs["axis"] = Attribute::of_int(axis);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Removed and fold-only operators.

std::optional<Node> identity(Op &op) {
  op.check_counts(1, 1, 1, 1);
  op.set_out(0, op.in(0).type, op.shape(0));
  op.alias_output(0);
  return std::nullopt;
}

std::optional<Node> dropout(Op &op) {
  op.check_counts(1, 3, 1, 2);
  op.no_optional_output(1, "mask");
  if (op.has(2) && op.in(2).is_constant() && read_ints(op.in(2)).at(0) != 0)
    op.fail("training_mode true is not supported (kcc compiles inference)");
  op.set_out(0, op.in(0).type, op.shape(0));
  op.alias_output(0);
  return std::nullopt;
}

std::optional<ElemType> cast_target(int64_t to) {
  switch (to) {
    case 1: return ElemType::F32;
    case 2: return ElemType::U8;
    case 3: return ElemType::I8;
    case 6: return ElemType::I32;
    case 7: return ElemType::I64;
    case 9: return ElemType::Bool;
    case 11: return ElemType::F64;
    default: return std::nullopt;
  }
}

std::optional<Node> cast(Op &op) {
  op.check_counts(1, 1, 1, 1);
  int64_t to = op.require_int("to");
  auto type = cast_target(to);
  if (!type) op.fail(fmt::format("casting to ONNX type {} is not supported", to));
  op.set_out(0, *type, op.shape(0));
  if (op.in(0).is_constant()) {
    if (is_float(op.in(0).type)) op.fold_doubles(0, read_doubles(op.in(0)));
    else op.fold_ints(0, read_ints(op.in(0)));
  } else if (*type == op.in(0).type) {
    op.alias_output(0);
  } else {
    op.fail(fmt::format("casting a computed tensor from {} to {} is not supported (only constants are cast)", elem_type_name(op.in(0).type),
                        elem_type_name(*type)));
  }
  return std::nullopt;
}

std::optional<Node> constant(Op &op) {
  op.check_counts(0, 0, 1, 1);
  const OnnxNode &n = op.onnx();
  size_t given = n.attrs.size() + n.tensor_attrs.size();
  if (given != 1) op.fail(fmt::format("expects exactly one value attribute, has {}", given));
  if (n.tensor_attrs.count("value")) {
    const Tensor &t = n.tensor_attrs.at("value");
    op.set_out(0, t.type, t.shape);
    op.out(0).data = t.data;
  } else if (op.has_attr("value_float")) {
    op.set_out(0, ElemType::F32, {});
    op.fold_doubles(0, {op.get_float("value_float", 0)});
  } else if (op.has_attr("value_int")) {
    op.set_out(0, ElemType::I64, {});
    op.fold_ints(0, {op.get_int("value_int", 0)});
  } else if (op.has_attr("value_floats")) {
    const auto &v = op.attr("value_floats", Attribute::Kind::Floats, "a list of floats").floats;
    op.set_out(0, ElemType::F32, {static_cast<int64_t>(v.size())});
    op.fold_doubles(0, v);
  } else if (auto v = op.get_ints("value_ints")) {
    op.set_out(0, ElemType::I64, {static_cast<int64_t>(v->size())});
    op.fold_ints(0, *v);
  } else {
    op.fail(fmt::format("unsupported value attribute '{}'", n.attrs.begin()->first));
  }
  return std::nullopt;
}

std::optional<Node> constant_of_shape(Op &op) {
  op.check_counts(1, 1, 1, 1);
  auto shape = op.const_ints(0, "shape");
  for (int64_t d : shape)
    if (d < 0) op.fail(fmt::format("shape [{}] has a negative dimension", fmt::join(shape, ",")));
  const OnnxNode &n = op.onnx();
  Tensor value;
  value.type = ElemType::F32;
  value.shape = {1};
  value.data.emplace(4, 0);
  if (n.tensor_attrs.count("value")) value = n.tensor_attrs.at("value");
  if (num_elements(value.shape) != 1) op.fail(fmt::format("attribute 'value' must hold one element, has shape {}", shape_to_string(value.shape)));
  op.set_out(0, value.type, shape);
  op.alloc_out(0);
  size_t sz = static_cast<size_t>(elem_size(value.type));
  for (size_t at = 0; at < op.out(0).data->size(); at += sz) std::memcpy(op.out(0).data->data() + at, value.data->data(), sz);
  return std::nullopt;
}

std::optional<Node> shape_op(Op &op) {
  op.check_counts(1, 1, 1, 1);
  int64_t r = op.rank(0);
  int64_t start = op.opset() >= 15 ? op.get_int("start", 0) : 0, end = op.opset() >= 15 ? op.get_int("end", r) : r;
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  std::vector<int64_t> dims;
  for (int64_t d = start; d < end; ++d) dims.push_back(op.shape(0)[static_cast<size_t>(d)]);
  op.set_out(0, ElemType::I64, {static_cast<int64_t>(dims.size())});
  op.fold_ints(0, dims);
  return std::nullopt;
}

std::optional<Node> range(Op &op) {
  op.check_counts(3, 3, 1, 1);
  const char *names[] = {"start", "limit", "delta"};
  for (size_t i = 0; i < 3; ++i) {
    if (!op.in(i).is_constant()) op.fail(fmt::format("input {} ({}) must be a constant", i, names[i]));
    if (num_elements(op.shape(i)) != 1) op.fail(fmt::format("input {} ({}) must be a scalar", i, names[i]));
    op.check_same_type(0, i);
  }
  ElemType t = op.in(0).type;
  double start = read_doubles(op.in(0))[0], limit = read_doubles(op.in(1))[0], delta = read_doubles(op.in(2))[0];
  if (delta == 0) op.fail("delta is 0");
  double count = std::max(0.0, std::ceil((limit - start) / delta));
  if (!(count <= static_cast<double>(kMaxFoldedElements))) op.fail(fmt::format("the range has too many elements ({})", count));
  op.set_out(0, t, {static_cast<int64_t>(count)});
  if (is_float(t)) {
    std::vector<double> v;
    for (int64_t i = 0; i < static_cast<int64_t>(count); ++i) v.push_back(start + static_cast<double>(i) * delta);
    op.fold_doubles(0, v);
  } else {
    std::vector<int64_t> v;
    int64_t s = read_ints(op.in(0))[0], d = read_ints(op.in(2))[0];
    for (int64_t i = 0; i < static_cast<int64_t>(count); ++i) v.push_back(s + i * d);
    op.fold_ints(0, v);
  }
  return std::nullopt;
}

void require_constant_inputs(Op &op) {
  for (size_t i = 0; i < op.num_inputs(); ++i)
    if (op.has(i) && !op.in(i).is_constant())
      op.fail(fmt::format("input {} must be a constant: kcc folds {} at import and does not compile it", i, op.onnx().op_type));
}

std::optional<Node> equal(Op &op) {
  op.check_counts(2, 2, 1, 1);
  op.check_same_type(0, 1);
  Shape s = op.broadcast({0, 1});
  op.set_out(0, ElemType::Bool, s);
  require_constant_inputs(op);
  op.check_fold_size(s);
  auto ma = broadcast_map(op.shape(0), s), mb = broadcast_map(op.shape(1), s);
  auto a = read_doubles(op.in(0)), b = read_doubles(op.in(1));
  auto ai = read_ints(op.in(0)), bi = read_ints(op.in(1));
  std::vector<int64_t> r(ma.size());
  bool fl = is_float(op.in(0).type);
  for (size_t e = 0; e < r.size(); ++e) {
    size_t x = static_cast<size_t>(ma[e]), y = static_cast<size_t>(mb[e]);
    r[e] = fl ? a[x] == b[y] : ai[x] == bi[y];
  }
  op.fold_ints(0, r);
  return std::nullopt;
}

std::optional<Node> where(Op &op) {
  op.check_counts(3, 3, 1, 1);
  op.check_type(0, {ElemType::Bool}, "condition");
  op.check_same_type(1, 2);
  Shape s = op.broadcast({0, 1, 2});
  op.set_out(0, op.in(1).type, s);
  require_constant_inputs(op);
  op.check_fold_size(s);
  auto mc = broadcast_map(op.shape(0), s), mx = broadcast_map(op.shape(1), s), my = broadcast_map(op.shape(2), s);
  auto cond = read_ints(op.in(0));
  op.alloc_out(0);
  size_t sz = static_cast<size_t>(elem_size(op.out(0).type));
  for (size_t e = 0; e < mc.size(); ++e) {
    bool c = cond[static_cast<size_t>(mc[e])] != 0;
    const Tensor &src = op.in(c ? 1 : 2);
    std::memcpy(op.out(0).data->data() + e * sz, src.data->data() + static_cast<size_t>(c ? mx[e] : my[e]) * sz, sz);
  }
  return std::nullopt;
}

std::optional<Node> expand(Op &op) {
  op.check_counts(2, 2, 1, 1);
  auto dims = op.const_ints(1, "shape");
  Shape target(dims.begin(), dims.end());
  for (int64_t d : target)
    if (d < 0) op.fail(fmt::format("shape [{}] has a negative dimension", fmt::join(dims, ",")));
  // Expand broadcasts both ways: a 1 in `shape` keeps the input's dimension.
  const Shape &x = op.shape(0);
  Shape out(std::max(x.size(), target.size()));
  for (size_t k = 0; k < out.size(); ++k) {
    int64_t a = k + x.size() >= out.size() ? x[k + x.size() - out.size()] : 1;
    int64_t b = k + target.size() >= out.size() ? target[k + target.size() - out.size()] : 1;
    if (a != b && a != 1 && b != 1) op.fail(fmt::format("cannot expand {} to [{}]", shape_to_string(x), fmt::join(dims, ",")));
    out[k] = a == 1 ? b : a;
  }
  op.set_out(0, op.in(0).type, out);
  require_constant_inputs(op);
  op.check_fold_size(out);
  op.fold_gather(0, 0, broadcast_map(x, out));
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// The table.

const std::map<std::string, ImportFn> &ops() {
  static const std::map<std::string, ImportFn> table = [] {
    std::map<std::string, ImportFn> t;
    for (OpKind k : {OpKind::Relu, OpKind::Sigmoid, OpKind::Tanh, OpKind::Erf, OpKind::Exp, OpKind::Sqrt, OpKind::HardSwish,
                     OpKind::LeakyRelu, OpKind::HardSigmoid, OpKind::Gelu})
      t[op_name(k)] = [k](Op &op) { return unary(op, k); };
    for (OpKind k : {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Div, OpKind::Pow})
      t[op_name(k)] = [k](Op &op) { return binary(op, k); };
    for (OpKind k : {OpKind::MaxPool, OpKind::AveragePool}) t[op_name(k)] = [k](Op &op) { return pool(op, k); };
    for (OpKind k : {OpKind::ReduceMean, OpKind::ReduceSum}) t[op_name(k)] = [k](Op &op) { return reduce(op, k); };
    t["Clip"] = clip;
    t["PRelu"] = prelu;
    t["Conv"] = conv;
    t["ConvTranspose"] = conv_transpose;
    t["GlobalAveragePool"] = global_average_pool;
    t["BatchNormalization"] = batch_norm;
    t["Gemm"] = gemm;
    t["MatMul"] = matmul;
    t["Softmax"] = softmax;
    t["LayerNormalization"] = layer_norm;
    t["Concat"] = concat;
    t["Split"] = split;
    t["Slice"] = slice;
    t["Reshape"] = reshape;
    t["Flatten"] = flatten;
    t["Squeeze"] = squeeze;
    t["Unsqueeze"] = unsqueeze;
    t["Transpose"] = transpose;
    t["Gather"] = gather;
    // Removed or folded at import; never in the graph.
    t["Identity"] = identity;
    t["Dropout"] = dropout;
    t["Cast"] = cast;
    t["Constant"] = constant;
    t["ConstantOfShape"] = constant_of_shape;
    t["Shape"] = shape_op;
    t["Range"] = range;
    t["Equal"] = equal;
    t["Where"] = where;
    t["Expand"] = expand;
    return t;
  }();
  return table;
}

}  // namespace

std::optional<Node> import_node(ImportContext &ctx, OnnxNode &n) {
  auto it = ops().find(n.op_type);
  if (it == ops().end()) ctx.fail(n, fmt::format("unsupported operator '{}'", n.op_type));
  Op op(ctx, n);
  return it->second(op);
}

}  // namespace kcc::frontend::detail
