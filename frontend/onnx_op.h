// frontend/onnx_op.h - what the per-operator import functions share (internal to frontend/):
// the Op helper (inputs, attributes, outputs, folding of one ONNX node) and the operator table.
// The functions themselves: onnx_ops_nn.cpp (compute operators), onnx_ops_data.cpp (data
// movement, shape computations and the operators folded away).
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <string>

#include "frontend/onnx_ops.h"
#include "ir/diag.h"

namespace kcc::frontend::detail {

// ---------------------------------------------------------------------------------------------
// Constant data.

template <typename T>
inline void store(uint8_t *p, T v) {
  std::memcpy(p, &v, sizeof v);
}

/// Stores v (an integer) as type t, wrapping like a C cast for narrower integers.
inline void store_int(ElemType t, uint8_t *p, int64_t v) {
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

inline void store_double(ElemType t, uint8_t *p, double v) {
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
inline constexpr int64_t kMaxFoldedElements = int64_t{1} << 26;

// ---------------------------------------------------------------------------------------------
// Shapes.

inline std::vector<int64_t> strides_of(const Shape &s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

/// For each element of `out` (row-major), the index of the element of `in` that broadcasting
/// `in` to `out` reads.
inline std::vector<int64_t> broadcast_map(const Shape &in, const Shape &out) {
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
using ImportFn = std::function<std::optional<Node>(Op &)>;
using OpTable = std::map<std::string, ImportFn>;

/// Register the operators of onnx_ops_nn.cpp and onnx_ops_data.cpp.
void add_nn_ops(OpTable &t);
void add_data_ops(OpTable &t);

}  // namespace kcc::frontend::detail
