// frontend/lower_graph.cpp - Graph + Partition -> `.ir` text and weights (see lower_graph.h).
//
// Model-level names come from the ONNX names, made identifiers ("/layer1/0/relu/Relu_output_0"
// -> layer1_0_relu_Relu). Inside a kernel, tensors get short role names (X, W, B for a
// convolution; A, B, C for a Gemm; R for a residual read by an epilogue; T for intermediates,
// Y for results), so that the same workload gives the same text wherever it occurs: that text is
// the deduplication key.
#include "frontend/lower_graph.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <set>

#include "frontend/lower_ops.h"
#include "frontend/onnx_import.h"

namespace kcc::frontend {

using detail::Index;
using detail::IndexMap;

bool is_view(const Graph &g, const Node &n) {
  switch (n.op) {
    case OpKind::Reshape:
    case OpKind::Flatten:
    case OpKind::Squeeze:
    case OpKind::Unsqueeze:
    case OpKind::Transpose:
    case OpKind::Slice:
    case OpKind::Split: return true;
    case OpKind::Gather: return g.tensor(n.inputs[1]).is_constant() && !g.tensor(n.inputs[0]).is_constant();
    default: return false;
  }
}

namespace {

/// Words the `.ir` reader treats specially where a model is read.
const std::set<std::string> kReserved = {"kernel", "schedule", "and", "or", "not", "true", "false", "inf",
                                         "nan", "model", "weights", "weight", "at"};

std::string identifier(const std::string &name) {
  std::string s;
  for (char ch : name) {
    char c = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
    if (c == '_' && (s.empty() || s.back() == '_')) continue;
    s += c;
  }
  while (!s.empty() && s.back() == '_') s.pop_back();
  for (const char *suffix : {"_output_0", "_output"})
    if (s.size() > std::strlen(suffix) && s.compare(s.size() - std::strlen(suffix), std::string::npos, suffix) == 0)
      s.resize(s.size() - std::strlen(suffix));
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) s = "t_" + s;
  if (kReserved.count(s)) s += "_";
  return s;
}

std::string join_dims(const Shape &s, const char *sep = "x") {
  std::string r;
  for (size_t k = 0; k < s.size(); ++k) r += (k ? sep : "") + std::to_string(s[k]);
  return r.empty() ? "scalar" : r;
}

// Views ------------------------------------------------------------------------------------------

/// `v * step + base` as text (`base - v * 2` for a negative step).
std::string affine(const std::string &v, bool compound, int64_t step, int64_t base) {
  std::string x = compound && step != 1 ? "(" + v + ")" : v;
  if (step < 0) return fmt::format("{} - {}", base, step == -1 ? x : fmt::format("{} * {}", x, -step));
  std::string s = step == 1 ? x : fmt::format("{} * {}", x, step);
  return base == 0 ? s : fmt::format("{} + {}", s, base);
}

/// Row-major position of out[a, b) within those dims, and whether it has several terms.
std::pair<std::string, bool> linear(const Index &o, const Shape &out, size_t a, size_t b) {
  std::vector<std::string> terms;
  int64_t stride = 1;
  for (size_t k = b; k-- > a;) {
    if (out[k] != 1) terms.insert(terms.begin(), stride == 1 ? o[k] : fmt::format("{} * {}", o[k], stride));
    stride *= out[k];
  }
  std::string s;
  for (size_t k = 0; k < terms.size(); ++k) s += (k ? " + " : "") + terms[k];
  return {s.empty() ? "0" : s, terms.size() > 1};
}

/// A reshape keeps the row-major order: dims are matched in groups of equal size, and within a
/// group the output position is linearized and split into the input's dims.
IndexMap reshape_map(const Shape &in, const Shape &out) {
  return [in, out](const Index &o) {
    Index r(in.size());
    size_t i = 0, j = 0;
    while (i < in.size() || j < out.size()) {
      size_t a = i, c = j;
      int64_t pi = i < in.size() ? in[i++] : 1, pj = j < out.size() ? out[j++] : 1;
      while (pi != pj) {
        if (pi < pj && i < in.size())
          pi *= in[i++];
        else if (j < out.size())
          pj *= out[j++];
        else
          break;
      }
      auto [lin, compound] = linear(o, out, c, j);
      int64_t stride = 1;
      for (size_t m = i; m-- > a;) {
        bool outermost = true;
        for (size_t q = a; q < m; ++q) outermost = outermost && in[q] == 1;
        if (in[m] == 1) {
          r[m] = "0";
        } else if (stride == 1 && outermost) {
          r[m] = lin;
        } else {
          std::string e = compound ? "(" + lin + ")" : lin;
          if (stride != 1) e += fmt::format(" / {}", stride);
          if (!outermost) e += fmt::format(" % {}", in[m]);
          r[m] = e;
        }
        stride *= in[m];
      }
    }
    return r;
  };
}

class Lowering {
 public:
  Lowering(const Graph &g, const Partition &p, const LowerOptions &o) : g_(g), p_(p), o_(o) {}
  LoweredModel run();

 private:
  struct View {
    TensorId base;
    IndexMap map;  ///< view indices -> base indices; empty: the same
  };

  [[noreturn]] void fail_node(const Node &n, const std::string &msg) const {
    throw ModelError(o_.path, fmt::format("node '{}' ({})", n.name, op_name(n.op)), msg);
  }
  void add_view(const Node &n);
  View view_of(TensorId t) const {
    auto it = views_.find(t);
    return it == views_.end() ? View{t, {}} : it->second;
  }
  const std::string &model_name(TensorId t);
  const std::string &weight(TensorId t);
  void lower_group(const std::vector<size_t> &group);
  void lower_output_copy(TensorId out);
  std::string kernel_name(const std::vector<size_t> &group) const;

  /// A kernel being built: its arguments (model tensors) and results.
  struct KernelArgs {
    std::vector<std::pair<TensorId, std::string>> args, results;
  };
  detail::Operand operand(TensorId t, const std::string &role, KernelArgs &k, detail::KernelBody &body);
  void finish_kernel(const std::string &base, const KernelArgs &k, const detail::KernelBody &body);

  const Graph &g_;
  const Partition &p_;
  const LowerOptions &o_;
  std::map<TensorId, View> views_;
  std::map<TensorId, std::string> names_;
  std::set<std::string> used_names_;
  std::vector<TensorId> weights_;
  std::string weight_bytes_;
  std::vector<std::string> weight_decls_;
  std::map<std::string, std::string> kernel_by_text_;  ///< text without its name -> name
  std::set<std::string> kernel_names_;
  std::string kernels_;
  std::vector<std::string> calls_;
};

void Lowering::add_view(const Node &n) {
  TensorId in = n.inputs[0];
  const Shape &is = g_.tensor(in).shape;
  View inner = view_of(in);
  for (size_t k = 0; k < n.outputs.size(); ++k) {
    const Shape &os = g_.tensor(n.outputs[k]).shape;
    IndexMap map;
    switch (n.op) {
      case OpKind::Reshape:
      case OpKind::Flatten:
      case OpKind::Squeeze:
      case OpKind::Unsqueeze: map = reshape_map(is, os); break;
      case OpKind::Transpose: {
        auto perm = n.attr_ints("perm");
        map = [perm](const Index &o) {
          Index r(o.size());
          for (size_t q = 0; q < perm.size(); ++q) r[perm[q]] = o[q];
          return r;
        };
        break;
      }
      case OpKind::Slice: {
        auto st = n.attr_ints("starts"), ax = n.attr_ints("axes"), sp = n.attr_ints("steps");
        map = [st, ax, sp](const Index &o) {
          Index r = o;
          for (size_t q = 0; q < ax.size(); ++q) r[ax[q]] = affine(o[ax[q]], false, sp[q], st[q]);
          return r;
        };
        break;
      }
      case OpKind::Split: {
        int64_t axis = n.attr_int("axis"), off = 0;
        auto sizes = n.attr_ints("split");
        for (size_t q = 0; q < k; ++q) off += sizes[q];
        map = [axis, off](const Index &o) {
          Index r = o;
          r[axis] = affine(o[axis], false, 1, off);
          return r;
        };
        break;
      }
      case OpKind::Gather: {
        int64_t axis = n.attr_int("axis"), extent = is[axis];
        const Tensor &it = g_.tensor(n.inputs[1]);
        std::vector<int64_t> idx = read_ints(it);
        for (int64_t &v : idx) v = v < 0 ? v + extent : v;
        size_t rq = it.shape.size();
        bool same_step = idx.size() >= 2;
        for (size_t q = 2; q < idx.size(); ++q) same_step = same_step && idx[q] - idx[q - 1] == idx[1] - idx[0];
        if (idx.size() > 64 && !same_step)
          fail_node(n, fmt::format("Gather with {} irregular constant indices: at most 64 are supported", idx.size()));
        Shape qs = it.shape;
        map = [axis, rq, idx, same_step, qs](const Index &o) {
          Index r;
          for (int64_t d = 0; d < axis; ++d) r.push_back(o[d]);
          Shape full(o.size(), 1);
          for (size_t q = 0; q < rq; ++q) full[axis + q] = qs[q];
          auto [lin, compound] = linear(o, full, axis, axis + rq);
          if (idx.size() == 1)
            r.push_back(std::to_string(idx[0]));
          else if (same_step)
            r.push_back(affine(lin, compound, idx[1] - idx[0], idx[0]));
          else {
            std::string e = std::to_string(idx.back());
            for (size_t q = idx.size() - 1; q-- > 0;) e = fmt::format("select({} == {}, {}, {})", lin, q, idx[q], e);
            r.push_back(e);
          }
          for (size_t d = axis + rq; d < o.size(); ++d) r.push_back(o[d]);
          return r;
        };
        break;
      }
      default: KCC_INTERNAL(false, "not a view");
    }
    IndexMap composed =
        inner.map ? IndexMap([inner = inner.map, map](const Index &o) { return detail::apply(inner, map(o)); }) : map;
    views_[n.outputs[k]] = View{inner.base, composed};
  }
}

const std::string &Lowering::model_name(TensorId t) {
  auto it = names_.find(t);
  if (it != names_.end()) return it->second;
  std::string base = identifier(g_.tensor(t).name), n = base;
  for (int k = 2; used_names_.count(n); ++k) n = fmt::format("{}_{}", base, k);
  used_names_.insert(n);
  return names_[t] = n;
}

const std::string &Lowering::weight(TensorId t) {
  if (names_.count(t)) return names_[t];
  const Tensor &w = g_.tensor(t);
  const std::string &name = model_name(t);
  size_t offset = (weight_bytes_.size() + 63) / 64 * 64;
  weight_bytes_.resize(offset);
  for (double v : read_doubles(w)) {
    float f = static_cast<float>(v);
    char b[4];
    std::memcpy(b, &f, 4);  // little-endian hosts only, as the weights file format
    weight_bytes_.append(b, 4);
  }
  weight_decls_.push_back(fmt::format("{}: f32{} = weight at {}", name, detail::dims(w.shape), offset));
  return name;
}

detail::Operand Lowering::operand(TensorId t, const std::string &role, KernelArgs &k, detail::KernelBody &body) {
  View v = view_of(t);
  const Tensor &base = g_.tensor(v.base);
  detail::Operand op;
  op.shape = g_.tensor(t).shape;
  op.map = v.map;
  op.block = base.channel_block;
  KCC_INTERNAL(!op.map || !base.is_blocked(), fmt::format("a view of the blocked tensor '{}'", base.name));
  if (base.is_constant() && num_elements(base.shape) == 1) {
    op.literal = detail::float_literal(read_doubles(base)[0]);
    op.map = {};
    return op;
  }
  for (auto &[id, local] : k.args)
    if (id == v.base) {
      op.name = local;
      return op;
    }
  if (base.type != ElemType::F32 && !base.is_constant())
    throw ModelError(o_.path, "", fmt::format("tensor '{}' is {}: only float tensors are supported between kernels",
                                              base.name, elem_type_name(base.type)));
  op.name = body.fresh(role);
  k.args.push_back({v.base, op.name});
  if (base.is_constant()) weight(v.base);
  return op;
}

/// Role names of a group's first node's inputs.
std::string role(const Node &n, size_t i, bool first, bool constant) {
  if (!first) return constant ? "C" : "R";
  static const std::map<OpKind, std::vector<const char *>> roles = {
      {OpKind::Conv, {"X", "W", "B"}},           {OpKind::ConvTranspose, {"X", "W", "B"}},
      {OpKind::Gemm, {"A", "B", "C"}},           {OpKind::MatMul, {"A", "B"}},
      {OpKind::PRelu, {"X", "S"}},               {OpKind::LayerNormalization, {"X", "G", "B"}},
      {OpKind::BatchNormalization, {"X", "S", "B", "M", "V"}}};
  auto it = roles.find(n.op);
  return it != roles.end() && i < it->second.size() ? it->second[i] : "X";
}

std::string short_op(OpKind op) {
  switch (op) {
    case OpKind::BatchNormalization: return "bn";
    case OpKind::GlobalAveragePool: return "gap";
    case OpKind::LayerNormalization: return "layernorm";
    case OpKind::ConvTranspose: return "deconv";
    case OpKind::ReduceMean: return "mean";
    case OpKind::ReduceSum: return "sum";
    default: break;
  }
  std::string s = op_name(op);
  for (char &c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Lowering::kernel_name(const std::vector<size_t> &group) const {
  const Node &n = g_.nodes[group[0]];
  const Shape &os = g_.tensor(n.outputs[0]).shape;
  std::string s;
  auto window = [&](const char *what) {
    auto k = n.attr_ints("kernel_shape"), st = n.attr_ints("strides");
    std::string r = fmt::format("{}_{}_k{}s{}", what, join_dims(Shape(os.begin() + 1, os.end())),
                                k[0] == k[1] ? std::to_string(k[0]) : join_dims(k),
                                st[0] == st[1] ? std::to_string(st[0]) : join_dims(st));
    return r;
  };
  if (n.op == OpKind::Conv && os.size() == 4) {
    s = window("conv");
    int64_t g = n.attr_int("group");
    if (g > 1) s += g == os[1] ? "_dw" : fmt::format("_g{}", g);
    auto d = n.attr_ints("dilations");
    if (d[0] != 1 || d[1] != 1) s += "_d" + (d[0] == d[1] ? std::to_string(d[0]) : join_dims(d));
  } else if ((n.op == OpKind::MaxPool || n.op == OpKind::AveragePool) && os.size() == 4) {
    s = window(n.op == OpKind::MaxPool ? "maxpool" : "avgpool");
  } else if (n.op == OpKind::Relayout) {
    int64_t b = g_.tensor(n.outputs[0]).channel_block;
    s = (b > 1 ? fmt::format("to_{}c", b) : std::string("to_nchw")) + "_" + join_dims(os);
  } else {
    s = short_op(n.op) + "_" + join_dims(os);
  }
  // A blocked result says its block as oneDNN's nChw16c does: conv_64x56x56_k3s1_16c.
  if (n.op != OpKind::Relayout && g_.tensor(n.outputs[0]).is_blocked())
    s += fmt::format("_{}c", g_.tensor(n.outputs[0]).channel_block);
  for (size_t k = 1; k < group.size(); ++k) s += "_" + short_op(g_.nodes[group[k]].op);
  return s;
}

void Lowering::finish_kernel(const std::string &base, const KernelArgs &k, const detail::KernelBody &body) {
  auto param = [&](const std::pair<TensorId, std::string> &a) {
    return fmt::format("{}: f32{}", a.second, detail::dims(stored_shape(g_.tensor(a.first))));
  };
  std::string sig = "(";
  for (size_t i = 0; i < k.args.size(); ++i) sig += (i ? ", " : "") + param(k.args[i]);
  sig += ") -> ";
  if (k.results.size() == 1) {
    sig += param(k.results[0]);
  } else {
    sig += "(";
    for (size_t i = 0; i < k.results.size(); ++i) sig += (i ? ", " : "") + param(k.results[i]);
    sig += ")";
  }
  std::string text = sig + " {\n";
  for (const std::string &l : body.lines()) text += "  " + l + "\n";
  text += "}\n";

  std::string name;
  auto it = kernel_by_text_.find(text);
  if (it != kernel_by_text_.end()) {
    name = it->second;
  } else {
    name = base;
    for (int n = 2; kernel_names_.count(name) || name == o_.model_name; ++n) name = fmt::format("{}_{}", base, n);
    kernel_names_.insert(name);
    kernel_by_text_[text] = name;
    kernels_ += "kernel " + name + text + "\n";
  }
  std::string call;
  for (size_t i = 0; i < k.results.size(); ++i) call += (i ? ", " : "") + model_name(k.results[i].first);
  call += " = " + name + "(";
  for (size_t i = 0; i < k.args.size(); ++i) call += (i ? ", " : "") + model_name(k.args[i].first);
  calls_.push_back(call + ")");
}

void Lowering::lower_group(const std::vector<size_t> &group) {
  std::set<size_t> members(group.begin(), group.end());
  std::set<TensorId> graph_outputs(g_.outputs.begin(), g_.outputs.end());
  detail::KernelBody body({});
  KernelArgs k;
  std::map<TensorId, std::string> local;
  for (size_t gi = 0; gi < group.size(); ++gi) {
    const Node &n = g_.nodes[group[gi]];
    detail::NodeContext c{n, o_.path, {}, {}, {}, {}, {}, body};
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      TensorId t = n.inputs[i];
      if (local.count(t)) {
        c.in.push_back(detail::Operand{local[t], g_.tensor(t).shape, "", {}, g_.tensor(t).channel_block});
        continue;
      }
      c.in.push_back(operand(t, role(n, i, gi == 0, g_.tensor(view_of(t).base).is_constant()), k, body));
    }
    for (TensorId t : n.outputs) {
      bool escapes = graph_outputs.count(t) != 0;
      for (size_t q = 0; q < g_.nodes.size() && !escapes; ++q)
        if (!members.count(q))
          for (TensorId in : g_.nodes[q].inputs) escapes = escapes || in == t;
      std::string name = body.fresh(escapes ? "Y" : "T");
      local[t] = name;
      c.out.push_back(name);
      c.out_shape.push_back(g_.tensor(t).shape);
      c.out_is_result.push_back(escapes);
      c.out_block.push_back(g_.tensor(t).channel_block);
      if (escapes) k.results.push_back({t, name});
      if (g_.tensor(t).type != ElemType::F32)
        fail_node(n, fmt::format("output '{}' is {}: only float tensors are supported", g_.tensor(t).name,
                                 elem_type_name(g_.tensor(t).type)));
    }
    detail::emit_node(c);
  }
  if (k.results.empty()) return;  // nothing read: dead code the passes left
  finish_kernel(kernel_name(group), k, body);
}

/// A graph output that no kernel computes (a view, an input, a constant) gets a copy kernel.
void Lowering::lower_output_copy(TensorId out) {
  detail::KernelBody body({});
  KernelArgs k;
  detail::Operand x = operand(out, "X", k, body);
  Shape s = g_.tensor(out).shape;
  std::string y = body.fresh("Y");
  Index v = detail::index_vars(s.size());
  std::string lhs = y + "[";
  for (size_t q = 0; q < v.size(); ++q) lhs += (q ? ", " : "") + v[q];
  body.line(lhs + "] = " + x.at(v));
  // The result is the graph output itself; the argument is what it views.
  if (k.args.empty()) throw ModelError(o_.path, "", fmt::format("output '{}' is a constant", g_.tensor(out).name));
  k.results.push_back({out, y});
  finish_kernel("copy_" + join_dims(s), k, body);
}

LoweredModel Lowering::run() {
  used_names_.insert(o_.model_name);
  for (TensorId t : g_.inputs) {
    const Tensor &x = g_.tensor(t);
    if (x.type != ElemType::F32)
      throw ModelError(o_.path, "", fmt::format("input '{}' is {}: only float inputs are supported", x.name,
                                                elem_type_name(x.type)));
    model_name(t);
  }
  for (TensorId t : g_.outputs) model_name(t);
  // Calls run in the order of each group's last node, so every kernel reads only tensors
  // defined before it.
  std::vector<std::pair<size_t, const std::vector<size_t> *>> order;
  for (const auto &grp : p_.groups) order.push_back({grp.back(), &grp});
  std::sort(order.begin(), order.end());
  std::set<TensorId> computed;
  size_t next = 0;
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    if (is_view(g_, g_.nodes[i])) add_view(g_.nodes[i]);
    while (next < order.size() && order[next].first == i) {
      lower_group(*order[next].second);
      for (size_t m : *order[next].second)
        for (TensorId t : g_.nodes[m].outputs) computed.insert(t);
      ++next;
    }
  }
  std::set<TensorId> seen;
  for (TensorId t : g_.outputs) {
    if (!seen.insert(t).second)
      throw ModelError(o_.path, "", fmt::format("output '{}' is listed twice", g_.tensor(t).name));
    if (!computed.count(t)) lower_output_copy(t);
  }

  auto params = [&](const std::vector<TensorId> &ts) {
    std::string s;
    for (size_t i = 0; i < ts.size(); ++i)
      s += fmt::format("{}{}: f32{}", i ? ", " : "", names_.at(ts[i]), detail::dims(stored_shape(g_.tensor(ts[i]))));
    return s;
  };
  std::string m = fmt::format("model {}({}) -> ({}) {{\n", o_.model_name, params(g_.inputs), params(g_.outputs));
  if (!weight_decls_.empty()) m += fmt::format("  weights \"{}\"\n", o_.weights_file);
  for (const std::string &w : weight_decls_) m += "  " + w + "\n";
  for (const std::string &c : calls_) m += "  " + c + "\n";
  m += "}\n";
  std::string header = fmt::format("# imported from {} by kcc import: {} kernels, {} calls, {} weights ({} bytes)\n\n",
                                   o_.path, kernel_names_.size(), calls_.size(), weight_decls_.size(),
                                   weight_bytes_.size());
  return LoweredModel{header + kernels_ + m, weight_bytes_};
}

}  // namespace

LoweredModel lower_graph(const Graph &g, const Partition &p, const LowerOptions &o) { return Lowering(g, p, o).run(); }

}  // namespace kcc::frontend
