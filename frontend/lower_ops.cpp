// frontend/lower_ops.cpp - one emitter per operator: the stages a node adds to its kernel.
//
// Layer shorthands where the language has one (docs/language.md, Layer shorthands), index
// notation otherwise. Emitters read their inputs through Operand::at, so an input may be a view
// (a transpose, a slice, ...) read in place, or a literal; a layer needs whole tensors, and
// KernelBody::whole copies a view into a stage first.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>
#include <set>

#include "frontend/lower_ops.h"
#include "frontend/onnx_import.h"

namespace kcc::frontend::detail {

namespace {
/// A name, a number, or an expression in one pair of parentheses.
bool is_atom(const std::string &e) {
  if (e.empty()) return false;
  if (e.front() == '(') {
    int depth = 0;
    for (size_t k = 0; k < e.size(); ++k) {
      depth += e[k] == '(' ? 1 : e[k] == ')' ? -1 : 0;
      if (depth == 0) return k + 1 == e.size();
    }
    return false;
  }
  return std::all_of(e.begin(), e.end(), [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; });
}
}  // namespace

Index apply(const IndexMap &map, const Index &idx) {
  Index atoms = idx;
  for (std::string &e : atoms)
    if (!is_atom(e)) e = "(" + e + ")";
  return map(atoms);
}

std::string Operand::at(const Index &idx) const {
  if (!literal.empty()) return literal;
  Index i = map ? apply(map, idx) : idx;
  std::string s = name + "[";
  for (size_t k = 0; k < i.size(); ++k) s += (k ? ", " : "") + i[k];
  return s + "]";
}

std::string KernelBody::fresh(const std::string &base) {
  std::string n = base;
  for (int k = 1; taken_.count(n); ++k) n = base + std::to_string(k);
  taken_.insert(n);
  return n;
}

std::string KernelBody::whole(const Operand &x) {
  if (x.is_whole()) return x.name;
  std::string n = fresh("V");
  Index v = index_vars(x.shape.size());
  std::string lhs = n + "[";
  for (size_t k = 0; k < v.size(); ++k) lhs += (k ? ", " : "") + v[k];
  line(lhs + "] = " + x.at(v) + " : f32" + dims(x.shape));
  return n;
}

void NodeContext::fail(const std::string &msg) const {
  throw ModelError(path, fmt::format("node '{}' ({})", node.name, op_name(node.op)), msg);
}

namespace {
std::string lhs(const std::string &name, const Index &v) {
  std::string s = name + "[";
  for (size_t k = 0; k < v.size(); ++k) s += (k ? ", " : "") + v[k];
  return s + "]";
}
}  // namespace

Index NodeContext::out_vars(size_t i) const {
  if (out_block[i] > 1) return {"n", "c", "h", "w", "ci"};
  return index_vars(out_shape[i].size());
}

Shape NodeContext::out_stored(size_t i) const {
  const Shape &s = out_shape[i];
  if (out_block[i] == 1) return s;
  return {s[0], s[1] / out_block[i], s[2], s[3], out_block[i]};
}

void NodeContext::stage(size_t i, const std::string &rhs) const {
  std::string s = lhs(out[i], out_vars(i)) + " = " + rhs;
  if (!out_is_result[i]) s += " : f32" + dims(out_stored(i));
  body.line(s);
}

void NodeContext::temp(const std::string &name, const Shape &shape, const std::string &rhs) const {
  body.line(lhs(name, index_vars(shape.size())) + " = " + rhs + " : f32" + dims(shape));
}

Index index_vars(size_t rank) {
  if (rank == 4) return {"n", "c", "h", "w"};
  static const char *names[] = {"i", "j", "k", "l", "m", "o", "p", "q"};
  Index v;
  for (size_t k = 0; k < rank; ++k) v.push_back(k < 8 ? names[k] : fmt::format("d{}", k));
  return v;
}

std::string float_literal(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "(-inf)";
  std::string s = fmt::format("{}", static_cast<float>(v));
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return v < 0 ? "(" + s + ")" : s;
}

std::string dims(const Shape &s) {
  std::string r = "[";
  for (size_t k = 0; k < s.size(); ++k) r += (k ? ", " : "") + std::to_string(s[k]);
  return r + "]";
}

namespace {

/// The indices of an operand broadcast (numpy rules) to an output indexed by `v`.
Index broadcast(const Operand &x, const Index &v, const Shape &out) {
  Index r;
  size_t off = out.size() - x.shape.size();
  for (size_t d = 0; d < x.shape.size(); ++d) r.push_back(x.shape[d] == 1 && out[off + d] != 1 ? "0" : v[off + d]);
  return r;
}

/// The channel an element of a blocked output stands for: `c * 16 + ci`.
std::string blocked_channel(const NodeContext &c) { return fmt::format("c * {} + ci", c.out_block[0]); }

/// The output's element (at out_vars) as indices of its logical shape: with a blocked output
/// [n, c * b + ci, h, w].
Index logical_vars(const NodeContext &c) {
  if (c.out_block[0] == 1) return index_vars(c.out_shape[0].size());
  return {"n", blocked_channel(c), "h", "w"};
}

/// Operand i read at the output's element, broadcast (numpy rules). A blocked operand has the
/// output's block and channels (assign_layouts makes sure), so it is read at [n, c, h, w, ci]
/// (with 0 on its broadcast axes); a row-major one at the logical index.
std::string bc(const NodeContext &c, size_t i) {
  const Operand &x = c.in[i];
  if (x.block > 1 && x.literal.empty()) {
    KCC_INTERNAL(c.out_block[0] == x.block && x.shape.size() == 4 && x.shape[1] == c.out_shape[0][1],
                 "a blocked operand that does not match its blocked output");
    Index v = c.out_vars(0), r = broadcast(x, {v[0], v[1], v[2], v[3]}, c.out_shape[0]);
    r.push_back(v[4]);
    return x.at(r);
  }
  return x.at(broadcast(x, logical_vars(c), c.out_shape[0]));
}

std::string list(const std::vector<int64_t> &v) {
  std::string s = "[";
  for (size_t k = 0; k < v.size(); ++k) s += (k ? ", " : "") + std::to_string(v[k]);
  return s + "]";
}

// Element-wise -------------------------------------------------------------------------------

void emit_unary(const NodeContext &c) {
  std::string x = bc(c, 0);
  std::string r;
  switch (c.node.op) {
    case OpKind::Relu: r = fmt::format("max({}, 0.0)", x); break;
    case OpKind::Sigmoid: r = fmt::format("sigmoid({})", x); break;
    case OpKind::Tanh: r = fmt::format("tanh({})", x); break;
    case OpKind::Erf: r = fmt::format("erf({})", x); break;
    case OpKind::Exp: r = fmt::format("exp({})", x); break;
    case OpKind::Sqrt: r = fmt::format("sqrt({})", x); break;
    case OpKind::LeakyRelu:
      r = fmt::format("select({0} >= 0.0, {0}, {0} * {1})", x, float_literal(c.node.attr_float("alpha")));
      break;
    case OpKind::HardSigmoid:
      r = fmt::format("max(min({} * {} + {}, 1.0), 0.0)", x, float_literal(c.node.attr_float("alpha")),
                      float_literal(c.node.attr_float("beta")));
      break;
    case OpKind::HardSwish: r = fmt::format("{0} * max(min({0} / 6.0 + 0.5, 1.0), 0.0)", x); break;
    case OpKind::Gelu:
      if (c.node.attr_string("approximate") == "tanh")
        r = fmt::format("{0} * 0.5 * (1.0 + tanh(0.7978845608 * ({0} + 0.044715 * {0} * {0} * {0})))", x);
      else
        r = fmt::format("{0} * 0.5 * (1.0 + erf({0} * 0.70710678118654752))", x);
      break;
    case OpKind::Clip: {
      double lo = c.node.attr_float("min"), hi = c.node.attr_float("max");
      r = x;
      if (!std::isinf(lo)) r = fmt::format("max({}, {})", r, float_literal(lo));
      if (!std::isinf(hi)) r = fmt::format("min({}, {})", r, float_literal(hi));
      break;
    }
    case OpKind::PRelu: r = fmt::format("select({0} >= 0.0, {0}, {0} * {1})", x, bc(c, 1)); break;
    default: c.fail("internal: not a unary operator");
  }
  c.stage(0, r);
}

void emit_binary(const NodeContext &c) {
  std::string a = bc(c, 0), b = bc(c, 1);
  const char *op = nullptr;
  switch (c.node.op) {
    case OpKind::Add: op = "+"; break;
    case OpKind::Sub: op = "-"; break;
    case OpKind::Mul: op = "*"; break;
    case OpKind::Div: op = "/"; break;
    case OpKind::Pow: c.stage(0, fmt::format("pow({}, {})", a, b)); return;
    default: c.fail("internal: not a binary operator");
  }
  c.stage(0, fmt::format("{} {} {}", a, op, b));
}

void emit_batchnorm(const NodeContext &c) {
  Index v = logical_vars(c);
  Index ch = {v.size() > 1 ? v[1] : "0"};
  c.stage(0, fmt::format("({} - {}) * {} * rsqrt({} + {}) + {}", bc(c, 0), c.in[3].at(ch), c.in[1].at(ch),
                         c.in[4].at(ch), float_literal(c.node.attr_float("epsilon")), c.in[2].at(ch)));
}

// Convolution and pooling ------------------------------------------------------------------------

void require_2d(const NodeContext &c) {
  if (c.in[0].shape.size() != 4)
    c.fail(fmt::format("only 2-D windows (NCHW input) are supported; the input is {}", shape_to_string(c.in[0].shape)));
}

/// stride=, pad=, dilation= keywords, leaving out defaults.
/// A pool's stride defaults to its window, so pools always write it.
std::string window_keys(const Node &n, bool always_stride) {
  std::string s;
  auto s2 = n.attr_ints("strides"), p = n.attr_ints("pads");
  if (always_stride || s2 != std::vector<int64_t>{1, 1}) s += ", stride=" + list(s2);
  if (p != std::vector<int64_t>(4, 0)) s += ", pad=" + list(p);
  if (n.attr_ints("dilations") != std::vector<int64_t>{1, 1}) s += ", dilation=" + list(n.attr_ints("dilations"));
  return s;
}

// Channel-blocked windows ------------------------------------------------------------------------
// Written in index notation (the layer shorthands are NCHW), in the shape of bench/conv/conv16c.ir:
// the innermost dimension of the output is the block, so the default schedule vectorizes it.

/// One spatial axis of a window: `out` windows of `k` taps `dil` apart, `stride` apart, over `in`
/// elements padded by `lo` before and `hi` after.
struct Axis {
  int64_t in, k, stride, lo, hi, dil, out;
  int64_t span() const { return dil * (k - 1) + 1; }
  /// How far the windows reach (a ceil_mode window may hang over the padded end).
  int64_t extent() const { return std::max(in + lo + hi, (out - 1) * stride + span()); }
  /// How many taps of window `y` lie in [from, to).
  int64_t taps(int64_t y, int64_t from, int64_t to) const {
    int64_t n = 0;
    for (int64_t r = 0; r < k; ++r) n += y * stride + r * dil >= from && y * stride + r * dil < to;
    return n;
  }
};

std::pair<Axis, Axis> window_axes(const NodeContext &c, const std::vector<int64_t> &k) {
  const Shape &xs = c.in[0].shape, &ys = c.out_shape[0];
  auto st = c.node.attr_ints("strides"), dl = c.node.attr_ints("dilations"), pd = c.node.attr_ints("pads");
  return {Axis{xs[2], k[0], st[0], pd[0], pd[2], dl[0], ys[2]}, Axis{xs[3], k[1], st[1], pd[1], pd[3], dl[1], ys[3]}};
}

/// `y * 2 + r * 3`: where tap `r` of window `y` reads the padded input.
std::string tap(const char *y, int64_t stride, const char *r, int64_t dil) {
  return fmt::format("{} + {}", stride == 1 ? y : fmt::format("{} * {}", y, stride),
                     dil == 1 ? r : fmt::format("{} * {}", r, dil));
}

/// `x` (logical shape xs, stored with `block`) padded with `fill` for the windows `rows`, `cols`:
/// a stage `P[n, c, h, w(, ci)] = select(h >= top and ..., x[n, c, h - top, w - left(, ci)], fill)`
/// comparing only on the sides that are padded. Returns its name, or x's when nothing is.
std::string pad_stage(const NodeContext &c, const std::string &x, const Shape &xs, int64_t block, const Axis &rows,
                      const Axis &cols, const std::string &fill) {
  std::vector<std::string> conds;
  Index v = block > 1 ? Index{"n", "c", "h", "w", "ci"} : Index{"n", "c", "h", "w"}, src = v;
  auto side = [&](size_t d, const Axis &a) {
    if (a.lo > 0) conds.push_back(fmt::format("{} >= {}", v[d], a.lo));
    if (a.extent() > a.lo + a.in) conds.push_back(fmt::format("{} <= {}", v[d], a.lo + a.in - 1));
    if (a.lo > 0) src[d] = fmt::format("{} - {}", v[d], a.lo);
  };
  side(2, rows);
  side(3, cols);
  if (conds.empty()) return x;
  Shape ps = {xs[0], xs[1] / block, rows.extent(), cols.extent()};
  if (block > 1) ps.push_back(block);
  std::string p = c.body.fresh("P"), cond;
  for (size_t k = 0; k < conds.size(); ++k) cond += (k ? " and " : "") + conds[k];
  c.body.line(fmt::format("{} = select({}, {}, {}) : f32{}", lhs(p, v), cond, lhs(x, src), fill, dims(ps)));
  return p;
}

/// A convolution with a blocked input or output (assign_layouts chose which; the weights are
/// stored as it wrote them, see there): input block bi, output block bo, group g.
///   g = 1, bi = bo = b:  Y[n, f, y, x, fi] = sum(c, r, s, ci) P[n, c, Y, X, ci] * W[f, c, r, s, ci, fi]
///   g = 1, bi = 1:       Y[n, f, y, x, fi] = sum(c, r, s) P[n, c, Y, X] * W[f, c, r, s, fi]
///   g = 1, bo = 1:       Y[n, f, y, x] = sum(c, r, s, ci) P[n, c, Y, X, ci] * W[f, c, r, s, ci]
///   depthwise:           Y[n, f, y, x, fi] = sum(r, s) P[n, f, Y, X, fi] * W[f, r, s, fi]
///   grouped:             as g = 1, bi = bo = b, with the group's first input block added to c
void emit_conv_blocked(const NodeContext &c) {
  const Operand &xo = c.in[0];
  const Shape &xs = xo.shape, &ys = c.out_shape[0];
  int64_t bi = xo.block, bo = c.out_block[0], g = c.node.attr_int("group"), C = xs[1], F = ys[1];
  auto k = c.node.attr_ints("kernel_shape");
  auto [rows, cols] = window_axes(c, k);
  std::string x = c.body.whole(xo), w = c.body.whole(c.in[1]);
  std::string p = pad_stage(c, x, xs, bi, rows, cols, "0.0");
  std::string yy = tap("y", rows.stride, "r", rows.dil), xx = tap("x", cols.stride, "s", cols.dil);
  std::string rhs;
  if (g == 1 && bi > 1 && bo > 1) {
    rhs = fmt::format("sum(c: {}, r: {}, s: {}, ci: {}) {}[n, c, {}, {}, ci] * {}[f, c, r, s, ci, fi]", C / bi, k[0], k[1],
                      bi, p, yy, xx, w);
  } else if (g == 1 && bo > 1) {
    rhs = fmt::format("sum(c: {}, r: {}, s: {}) {}[n, c, {}, {}] * {}[f, c, r, s, fi]", C, k[0], k[1], p, yy, xx, w);
  } else if (g == 1) {
    rhs = fmt::format("sum(c: {}, r: {}, s: {}, ci: {}) {}[n, c, {}, {}, ci] * {}[f, c, r, s, ci]", C / bi, k[0], k[1], bi,
                      p, yy, xx, w);
  } else if (g == C && g == F) {
    KCC_INTERNAL(bi == bo && bi > 1, "a depthwise convolution between layouts");
    rhs = fmt::format("sum(r: {}, s: {}) {}[n, f, {}, {}, fi] * {}[f, r, s, fi]", k[0], k[1], p, yy, xx, w);
  } else {
    KCC_INTERNAL(bi == bo && bi > 1, "a grouped convolution between layouts");
    int64_t cb = C / g / bi, fb = F / g / bo;  // blocks per group
    std::string first = fb == 1 ? "f" : fmt::format("f / {}", fb);
    if (cb != 1) first += fmt::format(" * {}", cb);
    rhs = fmt::format("sum(c: {}, r: {}, s: {}, ci: {}) {}[n, {} + c, {}, {}, ci] * {}[f, c, r, s, ci, fi]", cb, k[0], k[1],
                      bi, p, first, yy, xx, w);
  }
  Index vars = bo > 1 ? Index{"n", "f", "y", "x", "fi"} : Index{"n", "f", "y", "x"};
  if (c.in.size() < 3) {
    c.body.line(lhs(c.out[0], vars) + " = " + rhs + (c.out_is_result[0] ? "" : " : f32" + dims(c.out_stored(0))));
    return;
  }
  std::string t = c.body.fresh("T");
  c.body.line(lhs(t, vars) + " = " + rhs + " : f32" + dims(c.out_stored(0)));
  if (bo == 1) return c.layer(0, fmt::format("bias_add({}, {})", t, c.body.whole(c.in[2])));
  c.stage(0, fmt::format("{} + {}", lhs(t, c.out_vars(0)), c.in[2].at({blocked_channel(c)})));
}

/// A pool over a blocked input (to a blocked output), as maxpool2d/avgpool2d expand with a ci axis.
void emit_pool_blocked(const NodeContext &c) {
  auto k = c.node.attr_ints("kernel_shape");
  auto [rows, cols] = window_axes(c, k);
  bool avg = c.node.op == OpKind::AveragePool;
  int64_t b = c.in[0].block;
  std::string p = pad_stage(c, c.body.whole(c.in[0]), c.in[0].shape, b, rows, cols, avg ? "0.0" : "-inf");
  std::string read = fmt::format("{}[n, c, {}, {}, ci]", p, tap("h", rows.stride, "r", rows.dil),
                                 tap("w", cols.stride, "s", cols.dil));
  if (!avg) return c.stage(0, fmt::format("max(r: {}, s: {}) {}", k[0], k[1], read));
  std::string sum = c.body.fresh("S");
  c.body.line(fmt::format("{} = sum(r: {}, s: {}) {} : f32{}", lhs(sum, c.out_vars(0)), k[0], k[1], read,
                          dims(c.out_stored(0))));
  // The taps that count lie in [from, to) of the padded axis; a ceil_mode overhang never counts.
  bool include = c.node.attr_int("count_include_pad");
  auto limits = [&](const Axis &a) {
    return include ? std::pair<int64_t, int64_t>{0, a.in + a.lo + a.hi} : std::pair<int64_t, int64_t>{a.lo, a.lo + a.in};
  };
  auto [rlo, rhi] = limits(rows);
  auto [clo, chi] = limits(cols);
  std::set<int64_t> counts;
  for (int64_t y = 0; y < rows.out; ++y)
    for (int64_t x = 0; x < cols.out; ++x) counts.insert(rows.taps(y, rlo, rhi) * cols.taps(x, clo, chi));
  if (counts.size() == 1)
    return c.stage(0, fmt::format("{} / {}", lhs(sum, c.out_vars(0)), float_literal(double(*counts.begin()))));
  std::string cnt = c.body.fresh("N"), th = tap("h", rows.stride, "r", rows.dil), tw = tap("w", cols.stride, "s", cols.dil);
  c.body.line(fmt::format("{}[h, w] = sum(r: {}, s: {}) select({} >= {} and {} <= {} and {} >= {} and {} <= {}, 1.0, 0.0) : "
                          "f32[{}, {}]",
                          cnt, k[0], k[1], th, rlo, th, rhi - 1, tw, clo, tw, chi - 1, rows.out, cols.out));
  c.stage(0, fmt::format("{} / {}[h, w]", lhs(sum, c.out_vars(0)), cnt));
}

/// Between row-major and channel-blocked: Y[n, c, h, w, ci] = X[n, c * b + ci, h, w], or back
/// Y[n, c, h, w] = X[n, c / b, h, w, c % b].
void emit_relayout(const NodeContext &c) {
  const Operand &x = c.in[0];
  if (c.out_block[0] > 1) {
    KCC_INTERNAL(x.block == 1, "a relayout between two blocked layouts");
    return c.stage(0, x.at({"n", blocked_channel(c), "h", "w"}));
  }
  KCC_INTERNAL(x.block > 1 && x.literal.empty(), "a relayout of a row-major tensor to row-major");
  c.stage(0, x.at({"n", fmt::format("c / {}", x.block), "h", "w", fmt::format("c % {}", x.block)}));
}

void emit_conv(const NodeContext &c) {
  require_2d(c);
  if (c.in[0].block > 1 || c.out_block[0] > 1) return emit_conv_blocked(c);
  std::string x = c.body.whole(c.in[0]), w = c.body.whole(c.in[1]);
  std::string call = fmt::format("conv2d({}, {}{}", x, w, window_keys(c.node, false));
  if (c.node.attr_int("group") != 1) call += fmt::format(", groups={}", c.node.attr_int("group"));
  call += ")";
  if (c.in.size() < 3) return c.layer(0, call);
  std::string t = c.body.fresh("T");
  c.body.line(t + " = " + call);
  c.layer(0, fmt::format("bias_add({}, {})", t, c.body.whole(c.in[2])));
}

void emit_conv_transpose(const NodeContext &c) {
  require_2d(c);
  const Shape &xs = c.in[0].shape, &ws = c.in[1].shape;
  int64_t g = c.node.attr_int("group"), cg = xs[1] / g, fg = ws[1];
  auto st = c.node.attr_ints("strides"), dl = c.node.attr_ints("dilations"), pd = c.node.attr_ints("pads");
  // y = h * stride - pad + r * dilation, so input row h = (y + pad - r * dilation) / stride where exact.
  std::string conds, xi[2];
  const char *ov[2] = {"h", "w"}, *rv[2] = {"r", "s"};
  for (int a = 0; a < 2; ++a) {
    std::string e = fmt::format("{} + {} - {} * {}", ov[a], pd[a], rv[a], dl[a]);
    std::string q = st[a] == 1 ? e : fmt::format("({}) / {}", e, st[a]);
    conds += fmt::format("{}{} >= 0 and {} < {}", a ? " and " : "", e, q, xs[2 + a]);
    if (st[a] != 1) conds += fmt::format(" and ({}) % {} == 0", e, st[a]);
    xi[a] = fmt::format("max(min({}, {}), 0)", q, xs[2 + a] - 1);
  }
  // The output channel is `c` (index_vars of rank 4), the reduced input channel of its group `u`.
  std::string ci = g == 1 ? "u" : fmt::format("c / {} * {} + u", fg, cg), fi = g == 1 ? "c" : fmt::format("c % {}", fg);
  std::string x = c.body.whole(c.in[0]), w = c.body.whole(c.in[1]);
  std::string rhs = fmt::format("sum(u: {}, r: {}, s: {}) select({}, {}[n, {}, {}, {}] * {}[{}, {}, r, s], 0.0)", cg, ws[2],
                                ws[3], conds, x, ci, xi[0], xi[1], w, ci, fi);
  if (c.in.size() < 3) return c.stage(0, rhs);
  std::string t = c.body.fresh("T");
  c.temp(t, c.out_shape[0], rhs);
  c.layer(0, fmt::format("bias_add({}, {})", t, c.body.whole(c.in[2])));
}

void emit_pool(const NodeContext &c) {
  require_2d(c);
  auto k = c.node.attr_ints("kernel_shape"), p = c.node.attr_ints("pads");
  for (int a = 0; a < 2; ++a)
    if (p[a] > k[a] / 2 || p[a + 2] > k[a] / 2)
      c.fail(fmt::format("pads {} exceed half the window {} (the language's pools allow at most half)", list(p), list(k)));
  if (c.in[0].block > 1) return emit_pool_blocked(c);
  bool avg = c.node.op == OpKind::AveragePool;
  std::string call = fmt::format("{}({}, kernel={}{}", avg ? "avgpool2d" : "maxpool2d", c.body.whole(c.in[0]), list(k),
                                 window_keys(c.node, true));
  if (c.node.attr_int("ceil_mode")) call += ", ceil_mode=1";
  if (avg) call += fmt::format(", count_include_pad={}", c.node.attr_int("count_include_pad"));
  c.layer(0, call + ")");
}

void emit_global_avgpool(const NodeContext &c) {
  const Shape &s = c.in[0].shape;
  if (c.in[0].block > 1)
    return c.stage(0, fmt::format("sum(r: {}, s: {}) {}[n, c, r, s, ci] / {}", s[2], s[3], c.body.whole(c.in[0]),
                                  float_literal(double(s[2] * s[3]))));
  Index v = index_vars(s.size()), x = {v[0], v[1]};
  std::string red;
  int64_t count = 1;
  static const char *rv[] = {"r", "s", "u", "t"};
  for (size_t d = 2; d < s.size(); ++d) {
    red += fmt::format("{}{}: {}", d > 2 ? ", " : "", rv[d - 2], s[d]);
    x.push_back(rv[d - 2]);
    count *= s[d];
  }
  if (s.size() < 3 || s.size() > 6) c.fail("GlobalAveragePool needs an input of rank 3 to 6");
  c.stage(0, fmt::format("sum({}) {} / {}", red, c.in[0].at(x), float_literal(double(count))));
}

// Matrix products ----------------------------------------------------------------------------

void emit_gemm(const NodeContext &c) {
  bool ta = c.node.attr_int("transA"), tb = c.node.attr_int("transB");
  double alpha = c.node.attr_float("alpha"), beta = c.node.attr_float("beta");
  bool epilogue = alpha != 1.0 || (c.in.size() > 2 && beta != 0.0);
  const Shape &as = c.in[0].shape;
  int64_t k = ta ? as[0] : as[1];
  std::string prod;
  bool layer = !ta && c.in[0].is_whole() && c.in[1].is_whole();
  if (layer) {
    prod = fmt::format("{}({}, {})", tb ? "dense" : "matmul", c.in[0].name, c.in[1].name);
  } else {
    prod = fmt::format("sum(r: {}) {} * {}", k, c.in[0].at(ta ? Index{"r", "i"} : Index{"i", "r"}),
                       c.in[1].at(tb ? Index{"j", "r"} : Index{"r", "j"}));
  }
  if (!epilogue) return layer ? c.layer(0, prod) : c.stage(0, prod);
  std::string t = c.body.fresh("T");
  if (layer)
    c.body.line(t + " = " + prod);
  else
    c.temp(t, c.out_shape[0], prod);
  std::string rhs = fmt::format("{}[i, j]", t);
  if (alpha != 1.0) rhs += " * " + float_literal(alpha);
  if (c.in.size() > 2 && beta != 0.0) {
    rhs += " + " + bc(c, 2);
    if (beta != 1.0) rhs += " * " + float_literal(beta);
  }
  c.stage(0, rhs);
}

void emit_matmul(const NodeContext &c) {
  const Operand &a = c.in[0], &b = c.in[1];
  size_t ra = a.shape.size(), rb = b.shape.size();
  bool same_batch = ra == 3 && rb == 3 && a.shape[0] == b.shape[0];
  if (a.is_whole() && b.is_whole() && ((ra == 2 && rb == 2) || same_batch))
    return c.layer(0, fmt::format("matmul({}, {})", a.name, b.name));
  const Shape &out = c.out_shape[0];
  Index v = index_vars(out.size());
  int64_t k = ra == 1 ? a.shape[0] : a.shape[ra - 1];
  // Output: batch dims, then i (when A is a matrix), then j (when B is a matrix).
  size_t nb = out.size() - (ra >= 2) - (rb >= 2);
  auto operand_index = [&](const Operand &x, bool is_a) {
    size_t r = x.shape.size();
    if (r == 1) return Index{"r"};
    Index idx;
    for (size_t d = 0; d + 2 < r; ++d) {
      size_t od = nb - (r - 2) + d;
      idx.push_back(x.shape[d] == 1 && out[od] != 1 ? "0" : v[od]);
    }
    std::string row = is_a ? v[nb] : "r", col = is_a ? "r" : v[out.size() - 1];
    idx.push_back(row);
    idx.push_back(col);
    return idx;
  };
  c.stage(0, fmt::format("sum(r: {}) {} * {}", k, a.at(operand_index(a, true)), b.at(operand_index(b, false))));
}

// Data movement and normalization ----------------------------------------------------------------

/// Concat along any axis; blocked (assign_layouts: along the channels, every input's block a
/// multiple of the result's b), it selects whole blocks: [n, c, h, w, ci] reads input i at
/// [n, c - C_i / b, h, w, ci], with C_i the channels before input i; an input of k times the
/// block at [n, (c - C_i / b) / k, h, w, (c - C_i / b) % k * b + ci].
void emit_concat(const NodeContext &c) {
  int64_t axis = c.node.attr_int("axis"), b = c.out_block[0];
  Index v = c.out_vars(0);
  std::vector<int64_t> offs;
  int64_t off = 0;
  for (const Operand &x : c.in) {
    KCC_INTERNAL(b == 1 ? x.block == 1 : axis == 1 && x.block % b == 0 && x.shape[1] % b == 0 && x.is_whole(),
                 "a blocked Concat needs whole inputs of its block or a multiple, along the channels");
    offs.push_back(off / b);
    off += x.shape[axis];
  }
  auto read = [&](size_t i) {
    Index idx = v;
    const std::string block = offs[i] ? fmt::format("({} - {})", v[axis], offs[i]) : v[axis];
    if (offs[i]) idx[axis] = block;
    if (const int64_t k = c.in[i].block / std::max<int64_t>(1, b); k > 1) {
      idx[axis] = fmt::format("{} / {}", block, k);
      idx[4] = fmt::format("{} % {} * {} + {}", block, k, b, v[4]);
    }
    return c.in[i].at(idx);
  };
  std::string rhs = read(c.in.size() - 1);
  for (size_t i = c.in.size() - 1; i-- > 0;) rhs = fmt::format("select({} < {}, {}, {})", v[axis], offs[i + 1], read(i), rhs);
  c.stage(0, rhs);
}

/// Pad (constant mode): the input where the index falls inside it, the value elsewhere.
void emit_pad(const NodeContext &c) {
  const Shape &s = c.in[0].shape;
  auto pads = c.node.attr_ints("pads");
  size_t r = s.size();
  Index v = index_vars(r), x = v;
  std::vector<std::string> inside;
  for (size_t d = 0; d < r; ++d) {
    int64_t lo = pads[d];
    if (lo == 0 && pads[r + d] == 0) continue;
    if (lo) x[d] = fmt::format("{} - {}", v[d], lo);
    if (lo) inside.push_back(fmt::format("{} >= {}", v[d], lo));
    if (pads[r + d]) inside.push_back(fmt::format("{} < {}", v[d], lo + s[d]));
  }
  c.stage(0, fmt::format("select({}, {}, {})", fmt::join(inside, " and "), c.in[0].at(x),
                         float_literal(c.node.attr_float("value"))));
}

void emit_softmax(const NodeContext &c) {
  int64_t axis = c.node.attr_int("axis");
  std::string call = fmt::format("softmax({}", c.body.whole(c.in[0]));
  if (axis != int64_t(c.in[0].shape.size()) - 1) call += fmt::format(", axis={}", axis);
  c.layer(0, call + ")");
}

void emit_layernorm(const NodeContext &c) {
  const Shape &s = c.in[0].shape;
  if (c.node.attr_int("axis") != int64_t(s.size()) - 1)
    c.fail(fmt::format("normalization over axes {}.. of a rank-{} input: only the last axis is supported",
                       c.node.attr_int("axis"), s.size()));
  if (c.in.size() < 3 || c.in[1].shape.size() != 1 || c.in[2].shape.size() != 1)
    c.fail("LayerNormalization needs a scale and a bias of rank 1");
  std::string call = fmt::format("layernorm({}, {}, {}", c.body.whole(c.in[0]), c.body.whole(c.in[1]), c.body.whole(c.in[2]));
  double eps = c.node.attr_float("epsilon");
  if (static_cast<float>(eps) != 1e-5f) call += ", eps=" + float_literal(eps);
  c.layer(0, call + ")");
}

void emit_reduce(const NodeContext &c) {
  const Shape &s = c.in[0].shape;
  auto axes = c.node.attr_ints("axes");
  bool keep = c.node.attr_int("keepdims");
  Index v = index_vars(c.out_shape[0].size()), x;
  std::string red;
  int64_t count = 1;
  size_t o = 0;
  static const char *rv[] = {"r", "s", "u", "t", "x", "y", "z", "e"};
  for (size_t d = 0, nr = 0; d < s.size(); ++d) {
    bool reduced = std::find(axes.begin(), axes.end(), int64_t(d)) != axes.end();
    if (!reduced) {
      x.push_back(v[o++]);
      continue;
    }
    red += fmt::format("{}{}: {}", nr ? ", " : "", rv[nr], s[d]);
    x.push_back(rv[nr++]);
    count *= s[d];
    if (keep) ++o;
  }
  std::string body = c.in[0].at(x);
  if (c.node.op == OpKind::ReduceMean) body += " / " + float_literal(double(count));
  c.stage(0, red.empty() ? body : fmt::format("sum({}) {}", red, body));
}

}  // namespace

/// Operators that read and write channel-blocked tensors (assign_layouts gives no others one).
bool layout_aware(OpKind op) {
  switch (op) {
    case OpKind::Gemm:
    case OpKind::MatMul:
    case OpKind::Pad:
    case OpKind::Softmax:
    case OpKind::LayerNormalization:
    case OpKind::ReduceMean:
    case OpKind::ReduceSum:
    case OpKind::ConvTranspose:
    case OpKind::Gather: return false;
    default: return true;
  }
}

void emit_node(const NodeContext &c) {
  if (!layout_aware(c.node.op)) {
    for (const Operand &x : c.in) KCC_INTERNAL(x.block == 1, "a blocked input to an operator that is not layout-aware");
    for (int64_t b : c.out_block) KCC_INTERNAL(b == 1, "a blocked output of an operator that is not layout-aware");
  }
  switch (c.node.op) {
    case OpKind::Relayout: return emit_relayout(c);
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
    case OpKind::Sqrt: return emit_unary(c);
    case OpKind::Pow:
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div: return emit_binary(c);
    case OpKind::BatchNormalization: return emit_batchnorm(c);
    case OpKind::Conv: return emit_conv(c);
    case OpKind::ConvTranspose: return emit_conv_transpose(c);
    case OpKind::MaxPool:
    case OpKind::AveragePool: return emit_pool(c);
    case OpKind::GlobalAveragePool: return emit_global_avgpool(c);
    case OpKind::Gemm: return emit_gemm(c);
    case OpKind::MatMul: return emit_matmul(c);
    case OpKind::Concat: return emit_concat(c);
    case OpKind::Pad: return emit_pad(c);
    case OpKind::Softmax: return emit_softmax(c);
    case OpKind::LayerNormalization: return emit_layernorm(c);
    case OpKind::ReduceMean:
    case OpKind::ReduceSum: return emit_reduce(c);
    case OpKind::Gather:
      c.fail("Gather with indices computed at run time (an embedding lookup) is not supported yet; indices "
             "must be constant");
    // Views make no stages of their own (lower_graph.cpp reads through them).
    case OpKind::Split:
    case OpKind::Slice:
    case OpKind::Flatten:
    case OpKind::Reshape:
    case OpKind::Transpose:
    case OpKind::Squeeze:
    case OpKind::Unsqueeze: c.fail("internal: a view lowered as a kernel");
  }
  c.fail("internal: unknown operator");
}

}  // namespace kcc::frontend::detail
