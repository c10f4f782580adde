#include "frontend/graph.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ir/diag.h"

namespace kcc::frontend {

const char *elem_type_name(ElemType t) {
  switch (t) {
#define KCC_X(name, str, size) \
  case ElemType::name:         \
    return str;
    KCC_FRONTEND_ELEM_TYPES(KCC_X)
#undef KCC_X
  }
  return "?";
}

int elem_size(ElemType t) {
  switch (t) {
#define KCC_X(name, str, size) \
  case ElemType::name:         \
    return size;
    KCC_FRONTEND_ELEM_TYPES(KCC_X)
#undef KCC_X
  }
  return 0;
}

namespace {

template <typename T>
T load(const uint8_t *p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

/// A C cast, saturated: out-of-range and NaN conversions are undefined in C++.
int64_t to_int(double v) { return std::isnan(v) ? 0 : static_cast<int64_t>(std::clamp(v, -9.2e18, 9.2e18)); }

int64_t load_int(ElemType t, const uint8_t *p) {
  switch (t) {
    case ElemType::F32: return to_int(load<float>(p));
    case ElemType::F64: return to_int(load<double>(p));
    case ElemType::I8: return load<int8_t>(p);
    case ElemType::U8: return load<uint8_t>(p);
    case ElemType::I32: return load<int32_t>(p);
    case ElemType::I64: return load<int64_t>(p);
    case ElemType::Bool: return load<uint8_t>(p) != 0;
  }
  return 0;
}

double load_double(ElemType t, const uint8_t *p) {
  switch (t) {
    case ElemType::F32: return load<float>(p);
    case ElemType::F64: return load<double>(p);
    case ElemType::I8:
    case ElemType::U8:
    case ElemType::I32:
    case ElemType::I64:
    case ElemType::Bool: return static_cast<double>(load_int(t, p));
  }
  return 0;
}

}  // namespace

std::vector<int64_t> read_ints(const Tensor &t) {
  KCC_INTERNAL(t.is_constant(), "read_ints of a non-constant tensor");
  int64_t n = num_elements(t.shape);
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = load_int(t.type, t.data->data() + i * elem_size(t.type));
  return out;
}

std::vector<double> read_doubles(const Tensor &t) {
  KCC_INTERNAL(t.is_constant(), "read_doubles of a non-constant tensor");
  int64_t n = num_elements(t.shape);
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = load_double(t.type, t.data->data() + i * elem_size(t.type));
  return out;
}

bool is_float(ElemType t) { return t == ElemType::F32 || t == ElemType::F64; }

int64_t num_elements(const Shape &s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n))
      throw UserError(SourceLoc{}, fmt::format("shape {} is too large", shape_to_string(s)));
  }
  return n;
}

Shape stored_shape(const Tensor &t) {
  if (!t.is_blocked()) return t.shape;
  const Shape &s = t.shape;
  return {s[0], s[1] / t.channel_block, s[2], s[3], t.channel_block};
}

std::string shape_to_string(const Shape &s) {
  if (s.empty()) return "scalar";
  return fmt::format("{}", fmt::join(s, "x"));
}

bool is_activation(OpKind op) {
  switch (op) {
    case OpKind::Relu:
    case OpKind::Clip:
    case OpKind::LeakyRelu:
    case OpKind::PRelu:
    case OpKind::Sigmoid:
    case OpKind::HardSigmoid:
    case OpKind::HardSwish:
    case OpKind::Tanh:
    case OpKind::Erf:
    case OpKind::Gelu:
    case OpKind::Exp:
    case OpKind::Sqrt: return true;
    default: return false;
  }
}

const char *op_name(OpKind op) {
  switch (op) {
#define KCC_X(name)    \
  case OpKind::name: \
    return #name;
    KCC_FRONTEND_OPS(KCC_X)
#undef KCC_X
  }
  return "?";
}

std::optional<OpKind> op_from_name(const std::string &name) {
#define KCC_X(n) \
  if (name == #n) return OpKind::n;
  KCC_FRONTEND_OPS(KCC_X)
#undef KCC_X
  return std::nullopt;
}

Attribute Attribute::of_int(int64_t v) {
  Attribute a;
  a.kind = Kind::Int;
  a.i = v;
  return a;
}
Attribute Attribute::of_float(double v) {
  Attribute a;
  a.kind = Kind::Float;
  a.f = v;
  return a;
}
Attribute Attribute::of_string(std::string v) {
  Attribute a;
  a.kind = Kind::String;
  a.s = std::move(v);
  return a;
}
Attribute Attribute::of_ints(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Kind::Ints;
  a.ints = std::move(v);
  return a;
}
Attribute Attribute::of_floats(std::vector<double> v) {
  Attribute a;
  a.kind = Kind::Floats;
  a.floats = std::move(v);
  return a;
}

namespace {

const Attribute &find_attr(const Node &n, const std::string &key, Attribute::Kind kind) {
  auto it = n.attrs.find(key);
  KCC_INTERNAL(it != n.attrs.end(), fmt::format("{} node '{}' has no attribute '{}'", op_name(n.op), n.name, key));
  KCC_INTERNAL(it->second.kind == kind,
               fmt::format("{} node '{}': attribute '{}' has another kind", op_name(n.op), n.name, key));
  return it->second;
}

std::string attr_to_string(const Attribute &a) {
  switch (a.kind) {
    case Attribute::Kind::Int:
      return std::to_string(a.i);
    case Attribute::Kind::Float:
      return fmt::format("{}", a.f);
    case Attribute::Kind::String:
      return "\"" + a.s + "\"";
    case Attribute::Kind::Ints:
      return fmt::format("[{}]", fmt::join(a.ints, ","));
    case Attribute::Kind::Floats:
      return fmt::format("[{}]", fmt::join(a.floats, ","));
    case Attribute::Kind::Strings:
      return fmt::format("[{}]", fmt::join(a.strings, ","));
  }
  return "?";
}

std::string tensor_to_string(const Tensor &t) {
  return fmt::format("{}: {} {}{}{}", t.name, elem_type_name(t.type), shape_to_string(t.shape),
                     t.is_blocked() ? fmt::format(" blocked{}c", t.channel_block) : "", t.is_constant() ? " const" : "");
}

}  // namespace

int64_t Node::attr_int(const std::string &key) const { return find_attr(*this, key, Attribute::Kind::Int).i; }
double Node::attr_float(const std::string &key) const { return find_attr(*this, key, Attribute::Kind::Float).f; }
const std::string &Node::attr_string(const std::string &key) const {
  return find_attr(*this, key, Attribute::Kind::String).s;
}
const std::vector<int64_t> &Node::attr_ints(const std::string &key) const {
  return find_attr(*this, key, Attribute::Kind::Ints).ints;
}

std::string to_string(const Graph &g) {
  std::string out;
  for (TensorId id : g.inputs) out += "input  " + tensor_to_string(g.tensor(id)) + "\n";
  for (const Node &n : g.nodes) {
    std::vector<std::string> attrs, ins, outs;
    for (const auto &[key, a] : n.attrs) attrs.push_back(key + "=" + attr_to_string(a));
    for (TensorId id : n.inputs) ins.push_back(tensor_to_string(g.tensor(id)));
    for (TensorId id : n.outputs) outs.push_back(tensor_to_string(g.tensor(id)));
    out += fmt::format("{} '{}'", op_name(n.op), n.name);
    if (!attrs.empty()) out += fmt::format(" {{{}}}", fmt::join(attrs, ", "));
    out += fmt::format(" ({}) -> ({})\n", fmt::join(ins, ", "), fmt::join(outs, ", "));
  }
  for (TensorId id : g.outputs) out += "output " + tensor_to_string(g.tensor(id)) + "\n";
  return out;
}

}  // namespace kcc::frontend
