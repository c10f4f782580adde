// ir/layers.cpp - the layer table and one expansion function per layer.
//
// An expansion reads its tensors' shapes and its keywords through a Call and defines stages
// with a small builder. Every generated node points at the layer's name, a read of a tensor
// argument at that argument, so a message from the checker about generated code points into
// the layer statement. Intermediates carry their `: f32[...]` annotation and reductions their
// explicit ranges, so nothing depends on inference. Generated index variables take the usual
// names (n c h w, i j k, ...) unless a tensor of the kernel has that name (then `n_`).
#include "ir/layers.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <utility>

namespace kcc::ast {

namespace {

[[noreturn]] void fail(const SourceLoc &loc, const std::string &msg) { throw UserError(loc, msg); }

std::string where(const SourceLoc &l) { return fmt::format("{}:{}", l.line, l.col); }

std::string dims_str(const std::vector<int64_t> &d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

template <class... A>
std::vector<NodeP> nodes(A &&...a) {
  std::vector<NodeP> v;
  (v.push_back(std::forward<A>(a)), ...);
  return v;
}

class Call;

constexpr int64_t kMaxKey = int64_t(1) << 30;

/// A tensor a layer takes.
struct TensorParam {
  const char *role;    ///< how docs/language.md names it: "X", "W"
  int rank;            ///< the rank it must have; 0: any (the expansion checks)
  const char *layout;  ///< what its dimensions mean, for rank messages
};

/// What a keyword's value may be.
enum class KeyKind : uint8_t {
  Int,    ///< one integer
  Float,  ///< one float (an integer is accepted too)
  Pair,   ///< one integer for both spatial axes, or `[rows, columns]`
  Pads,   ///< one integer for every side, `[rows, columns]`, or `[top, left, bottom, right]`
};

/// A keyword a layer takes; defaults are the expansion's.
struct KeyParam {
  const char *name;
  KeyKind kind;
};

/// One spatial axis of a sliding window (conv2d, the pools): `out` windows of `k` taps `dil`
/// apart, `stride` apart, over `in` elements padded by `lo` before and `hi` after.
struct Slide {
  int64_t in, k, stride, lo, hi, dil;
  int64_t out = 0;
  int64_t span() const { return dil * (k - 1) + 1; }
  int64_t padded() const { return in + lo + hi; }
  /// How far the windows reach from the start of the padding: the padded extent, or more when
  /// ceil_mode lets the last window hang over the end.
  int64_t extent() const { return std::max(padded(), (out - 1) * stride + span()); }
};

struct LayerDef {
  const char *name;
  std::vector<TensorParam> tensors;
  std::vector<KeyParam> keys;
  void (*expand)(Call &);
};

const std::vector<LayerDef> &layers();

const LayerDef *find_layer(const std::string &name) {
  for (auto &d : layers())
    if (name == d.name) return &d;
  return nullptr;
}

// ---------------------------------------------------------------- one call being expanded

/// A layer call with its arguments checked against the table, and the builder its expansion
/// uses to define stages.
class Call {
 public:
  Call(const LayerCall &c, const LayerScope &s, const LayerDef &d) : c_(c), s_(s), d_(d), taken_(s.tensor_names) {
    check_arguments();
    check_keys();
  }

  const std::string &result() const { return c_.result; }

  // ---- tensors
  const std::string &arg(size_t i) const { return c_.args[i].name; }
  const SourceLoc &arg_loc(size_t i) const { return c_.args[i].loc; }
  const std::vector<int64_t> &dims(size_t i) const { return shapes_[i]->dims; }
  /// "'W' is f32[64, 32, 3, 3]"
  std::string desc(size_t i) const { return fmt::format("'{}' is f32{}", arg(i), dims_str(dims(i))); }

  // ---- keywords
  const LayerKey *key(const char *k) const {
    for (auto &x : c_.keys)
      if (x.key == k) return &x;
    return nullptr;
  }
  /// Where a keyword's value is, or the layer's name when it was not given.
  const SourceLoc &key_loc(const char *k) const { return key(k) ? key(k)->value_loc : c_.layer_loc; }
  int64_t int_key(const char *k, int64_t def) const { return key(k) ? key(k)->int_value : def; }
  double float_key(const char *k, double def) const { return key(k) ? key(k)->float_value : def; }
  int64_t positive(const char *k, int64_t def) const {
    int64_t v = int_key(k, def);
    if (v <= 0) error(key_loc(k), fmt::format("{} must be positive, found {}", k, v));
    return v;
  }
  /// `k=0` or `k=1`.
  bool flag(const char *k, bool def) const {
    int64_t v = int_key(k, def ? 1 : 0);
    if (v != 0 && v != 1) error(key_loc(k), fmt::format("{} must be 0 or 1, found {}", k, v));
    return v == 1;
  }
  /// Where element `i` of a per-axis keyword is: the list's element, or the single value.
  const SourceLoc &elem_loc(const char *k, size_t i) const {
    const LayerKey *x = key(k);
    if (!x) return c_.layer_loc;
    return x->is_list ? x->list_locs[i % x->list.size()] : x->value_loc;
  }
  /// A Pair keyword as {rows, columns}, each positive.
  std::array<int64_t, 2> positive_pair(const char *k, std::array<int64_t, 2> def) const {
    const LayerKey *x = key(k);
    std::array<int64_t, 2> v = def;
    if (x) v = x->is_list ? std::array<int64_t, 2>{x->list[0], x->list[1]} : std::array<int64_t, 2>{x->int_value, x->int_value};
    for (size_t i = 0; i < 2; ++i)
      if (v[i] <= 0) error(elem_loc(k, i), fmt::format("{} must be positive, found {}", k, v[i]));
    return v;
  }
  std::array<int64_t, 2> required_positive_pair(const char *k) const {
    if (!key(k)) error(c_.layer_loc, fmt::format("missing keyword '{0}' ({0}=N or {0}=[rows, columns])", k));
    return positive_pair(k, {0, 0});
  }
  /// The Pads keyword as {top, left, bottom, right}, each non-negative.
  std::array<int64_t, 4> pads(const char *k) const {
    const LayerKey *x = key(k);
    std::array<int64_t, 4> v = {0, 0, 0, 0};
    for (size_t i = 0; x && i < 4; ++i) v[i] = x->is_list ? x->list[i % x->list.size()] : x->int_value;
    for (size_t i = 0; i < 4; ++i)
      if (v[i] < 0) error(elem_loc(k, i), fmt::format("{} must not be negative, found {}", k, v[i]));
    return v;
  }
  /// An axis of tensor `t` (negative counts from the end), as a dimension index.
  size_t axis(const char *k, int64_t def, size_t t) const {
    int64_t a = int_key(k, def), rank = static_cast<int64_t>(dims(t).size());
    if (a < -rank || a >= rank)
      error(key_loc(k), fmt::format("{} {} is out of range for '{}' of rank {}", k, a, arg(t), rank));
    return static_cast<size_t>(a < 0 ? a + rank : a);
  }
  /// Sets `w.out`, the number of windows (ONNX's rule): floor((padded - span) / stride) + 1, or
  /// with `ceil_mode` rounded up, less a last window that would start in the padding after the
  /// input.
  void slide(Slide &w, bool ceil_mode, const char *dim) const {
    if (w.padded() < w.span())
      error(c_.layer_loc, fmt::format("the window spans {} {} but '{}' has {} (with padding {})", w.span(), dim, arg(0),
                                      w.padded(), w.lo == w.hi ? std::to_string(w.lo) : fmt::format("{} + {}", w.lo, w.hi)));
    int64_t room = w.padded() - w.span();
    w.out = (ceil_mode ? (room + w.stride - 1) / w.stride : room / w.stride) + 1;
    if (ceil_mode && (w.out - 1) * w.stride >= w.in + w.lo) --w.out;
  }
  [[noreturn]] void error(const SourceLoc &loc, const std::string &msg) const {
    fail(loc, fmt::format("{}: {}", c_.layer, msg));
  }

  // ---- names
  /// An index variable named `base` unless a tensor has that name.
  std::string var(const std::string &base) const {
    std::string n = base;
    while (taken_.count(n)) n += "_";
    return n;
  }
  /// One index variable per dimension: n c h w for rank 4, else i j k l m, else i0 i1 ...
  std::vector<std::string> vars(size_t rank) const {
    static const char *const nchw[] = {"n", "c", "h", "w"}, *const ijk[] = {"i", "j", "k", "l", "m"};
    std::vector<std::string> v;
    for (size_t d = 0; d < rank; ++d)
      v.push_back(var(rank == 4 ? nchw[d] : rank <= 5 ? ijk[d] : fmt::format("i{}", d)));
    return v;
  }
  /// The name of a helper stage: `Y_pad` for the result `Y`.
  std::string helper(const char *suffix) {
    std::string n = c_.result + "_" + suffix;
    taken_.insert(n);
    return n;
  }

  // ---- expressions
  NodeP make(Node::Kind k, const SourceLoc &loc) const {
    auto n = std::make_unique<Node>();
    n->kind = k;
    n->loc = n->op_loc = loc;
    return n;
  }
  NodeP v(const std::string &name) const {
    auto n = make(Node::Kind::Name, c_.layer_loc);
    n->name = name;
    return n;
  }
  NodeP num(int64_t x) const {
    auto n = make(Node::Kind::Int, c_.layer_loc);
    n->int_value = x;
    n->text = std::to_string(x);
    return n;
  }
  NodeP real(double x) const {
    auto n = make(Node::Kind::Float, c_.layer_loc);
    n->float_value = x;
    n->text = format_float(x);
    return n;
  }
  NodeP bin(BinOp op, NodeP a, NodeP b) const {
    auto n = make(Node::Kind::Binary, c_.layer_loc);
    n->binop = op;
    n->args = nodes(std::move(a), std::move(b));
    return n;
  }
  NodeP fn(const char *name, std::vector<NodeP> args) const {
    auto n = make(Node::Kind::Call, c_.layer_loc);
    n->name = name;
    n->args = std::move(args);
    return n;
  }
  /// `v * k`, or `v` when k is 1.
  NodeP scaled(const std::string &name, int64_t k) const { return k == 1 ? v(name) : bin(BinOp::Mul, v(name), num(k)); }
  /// `y * stride + r * dilation`, without the factors that are 1.
  NodeP window(const std::string &y, int64_t stride, const std::string &r, int64_t dil) const {
    return bin(BinOp::Add, scaled(y, stride), scaled(r, dil));
  }
  /// `T[subs...]`; a read of a tensor argument points at that argument.
  NodeP read(const std::string &t, std::vector<NodeP> subs) const {
    SourceLoc loc = c_.layer_loc;
    for (auto &a : c_.args)
      if (a.name == t) {
        loc = a.loc;
        break;
      }
    auto n = make(Node::Kind::Access, loc);
    n->name = t;
    n->args = std::move(subs);
    return n;
  }
  NodeP read(const std::string &t, const std::vector<std::string> &vs) const {
    std::vector<NodeP> subs;
    for (auto &x : vs) subs.push_back(v(x));
    return read(t, std::move(subs));
  }

  // ---- stages
  /// Defines `name[lhs...] = [reduce(rvars)] body` with shape `dims`. Helpers are annotated;
  /// the result takes the declared output's shape, which must be `dims`.
  void define(const std::string &name, const std::vector<std::string> &lhs, const std::vector<int64_t> &dims,
              NodeP body, ReduceOp reduce = ReduceOp::None,
              const std::vector<std::pair<std::string, int64_t>> &rvars = {}) {
    Stage s;
    s.name = name;
    s.loc = name == c_.result ? c_.result_loc : c_.layer_loc;
    s.lhs = lhs;
    s.lhs_locs.assign(lhs.size(), c_.layer_loc);
    s.reduce = reduce;
    s.reduce_loc = c_.layer_loc;
    for (auto &[rv, ext] : rvars) s.rvars.push_back(RVar{rv, c_.layer_loc, ext, c_.layer_loc});
    s.body = std::move(body);
    if (name == c_.result && s_.output) {
      const TypeAnn &t = s_.output->type;
      if (t.dims != dims)
        fail(c_.result_loc, fmt::format("{} gives '{}' the shape {} but output '{}' is declared {}{} at {}", c_.layer,
                                        name, dims_str(dims), name, t.elem, dims_str(t.dims), where(s_.output->loc)));
    } else {
      TypeAnn ann;
      ann.elem = "f32";
      ann.loc = c_.layer_loc;
      ann.dims = dims;
      ann.dim_locs.assign(dims.size(), c_.layer_loc);
      s.ann = std::move(ann);
    }
    stages_.push_back(std::move(s));
  }

  /// `v >= lo` and `v <= hi` joined by `and` onto `cond` (null: none yet), each only when
  /// `need_lo` / `need_hi`.
  NodeP bounds(NodeP cond, const std::function<NodeP()> &val, bool need_lo, int64_t lo, bool need_hi, int64_t hi) const {
    auto join = [&](NodeP c, NodeP term) { return c ? bin(BinOp::And, std::move(c), std::move(term)) : std::move(term); };
    if (need_lo) cond = join(std::move(cond), bin(BinOp::GE, val(), num(lo)));
    if (need_hi) cond = join(std::move(cond), bin(BinOp::LE, val(), num(hi)));
    return cond;
  }

  /// Tensor `t` padded for the windows `rows` and `cols`, filled with `fill`:
  /// `NAME_pad[n, c, h, w] = select(h >= top and h <= H + top - 1 and w >= ..., X[n, c, h - top, w - left], fill)`,
  /// each comparison only where there is padding on that side. Returns the stage's name, or
  /// `t`'s when nothing is padded.
  std::string pad_stage(size_t t, const Slide &rows, const Slide &cols, NodeP fill) {
    auto &X = dims(t);
    bool top = rows.lo > 0, bottom = rows.extent() > rows.in + rows.lo;
    bool left = cols.lo > 0, right = cols.extent() > cols.in + cols.lo;
    if (!top && !bottom && !left && !right) return arg(t);
    std::string name = helper("pad");
    auto vs = vars(4);
    // Left-associated, as `h >= 1 and h <= 56 and w >= 1 and w <= 56` parses.
    NodeP cond = bounds(nullptr, [&] { return v(vs[2]); }, top, rows.lo, bottom, rows.in + rows.lo - 1);
    cond = bounds(std::move(cond), [&] { return v(vs[3]); }, left, cols.lo, right, cols.in + cols.lo - 1);
    auto shifted = [&](const std::string &x, int64_t by) { return by ? bin(BinOp::Sub, v(x), num(by)) : v(x); };
    NodeP src = read(arg(t), nodes(v(vs[0]), v(vs[1]), shifted(vs[2], rows.lo), shifted(vs[3], cols.lo)));
    define(name, vs, {X[0], X[1], rows.extent(), cols.extent()},
           fn("select", nodes(std::move(cond), std::move(src), std::move(fill))));
    return name;
  }

  std::vector<Stage> take() { return std::move(stages_); }

 private:
  void check_arguments() {
    size_t want = d_.tensors.size(), got = c_.args.size();
    if (got != want) {
      std::string roles;
      for (auto &t : d_.tensors) roles += (roles.empty() ? "" : ", ") + std::string(t.role);
      fail(got > want ? c_.args[want].loc : c_.layer_loc,
           fmt::format("{} takes {} tensor{} ({}) but {} {} given", d_.name, want, want == 1 ? "" : "s", roles, got,
                       got == 1 ? "was" : "were"));
    }
    for (size_t i = 0; i < got; ++i) {
      const LayerArg &a = c_.args[i];
      auto it = s_.known.find(a.name);
      if (it == s_.known.end()) {
        if (s_.unknown.count(a.name))
          error(a.loc, fmt::format("the shape of '{}' is not known before checking; annotate its stage "
                                   "('{}[...] = ... : f32[...]') or define it with a layer",
                                   a.name, a.name));
        std::string names;
        for (auto &[n, sh] : s_.known) names += (names.empty() ? "" : ", ") + n;
        for (auto &n : s_.unknown) names += (names.empty() ? "" : ", ") + n;
        error(a.loc, fmt::format("unknown tensor '{}'; tensors here: {}", a.name, names.empty() ? "none" : names));
      }
      const TensorShape &sh = it->second;
      if (sh.elem != "f32")
        error(a.loc, fmt::format("'{}' has element type {}; layers take f32 tensors", a.name, sh.elem));
      const TensorParam &p = d_.tensors[i];
      if (p.rank != 0 && static_cast<int>(sh.dims.size()) != p.rank)
        error(a.loc, fmt::format("'{}' must have rank {} ({}) but is f32{}", a.name, p.rank, p.layout, dims_str(sh.dims)));
      shapes_.push_back(&sh);
    }
  }

  void check_keys() {
    std::string all;
    for (auto &k : d_.keys) all += (all.empty() ? "" : ", ") + std::string(k.name);
    for (size_t i = 0; i < c_.keys.size(); ++i) {
      const LayerKey &k = c_.keys[i];
      const KeyParam *p = nullptr;
      for (auto &kp : d_.keys)
        if (k.key == kp.name) p = &kp;
      if (!p)
        fail(k.loc, all.empty() ? fmt::format("{} takes no keywords, found '{}'", d_.name, k.key)
                                : fmt::format("{} has no keyword '{}'; keywords: {}", d_.name, k.key, all));
      for (size_t j = 0; j < i; ++j)
        if (c_.keys[j].key == k.key)
          error(k.loc, fmt::format("keyword '{}' is given twice; first at {}", k.key, where(c_.keys[j].loc)));
      check_value(k, p->kind);
    }
  }

  void check_value(const LayerKey &k, KeyKind kind) const {
    if (k.is_list) {
      size_t n = k.list.size();
      if (kind == KeyKind::Int || kind == KeyKind::Float)
        error(k.value_loc, fmt::format("{} takes one number, found the list '{}'", k.key, k.text));
      if (kind == KeyKind::Pair && n != 2)
        error(k.value_loc, fmt::format("{} takes one integer or two ([rows, columns]), found {} in '{}'", k.key, n, k.text));
      if (kind == KeyKind::Pads && n != 2 && n != 4)
        error(k.value_loc, fmt::format("{} takes one integer, two ([rows, columns]) or four ([top, left, bottom, "
                                       "right]), found {} in '{}'",
                                       k.key, n, k.text));
      for (size_t i = 0; i < n; ++i) check_magnitude(k, k.list[i], k.list_locs[i], std::to_string(k.list[i]));
      return;
    }
    if (kind != KeyKind::Float && !k.is_int) error(k.value_loc, fmt::format("{} takes an integer, found '{}'", k.key, k.text));
    if (k.is_int) check_magnitude(k, k.int_value, k.value_loc, k.text);
  }

  /// Keeps the shape arithmetic (pad * 2, dilation * (KH - 1), ...) far from overflow.
  void check_magnitude(const LayerKey &k, int64_t v, const SourceLoc &loc, const std::string &text) const {
    if (v > kMaxKey || v < -kMaxKey)
      error(loc, fmt::format("{}={} is too large (at most {} in magnitude)", k.key, text, kMaxKey));
  }

  const LayerCall &c_;
  const LayerScope &s_;
  const LayerDef &d_;
  std::set<std::string> taken_;  ///< tensor names, helper stages included
  std::vector<const TensorShape *> shapes_;
  std::vector<Stage> stages_;
};

// ---------------------------------------------------------------- the layers

/// Y[n, f, y, x] = sum(c, r, s) P[n, c, y * stride + r * dilation, ...] * W[f, c, r, s]
void conv2d(Call &c) {
  auto X = c.dims(0), W = c.dims(1);
  auto stride = c.positive_pair("stride", {1, 1}), dil = c.positive_pair("dilation", {1, 1});
  auto pad = c.pads("pad");
  int64_t groups = c.positive("groups", 1);
  int64_t C = X[1], F = W[0], Cg = W[1];
  if (C % groups != 0)
    c.error(c.key_loc("groups"), fmt::format("groups={} does not divide the {} channels of '{}'", groups, C, c.arg(0)));
  if (F % groups != 0)
    c.error(c.key_loc("groups"),
            fmt::format("groups={} does not divide the {} filters of '{}' ({})", groups, F, c.arg(1), c.desc(1)));
  if (Cg != C / groups) {
    if (groups == 1)
      c.error(c.arg_loc(1), fmt::format("'{}' has {} channels but '{}' expects {} ({})", c.arg(0), C, c.arg(1), Cg, c.desc(1)));
    c.error(c.arg_loc(1), fmt::format("'{}' has {} channels, {} per group of {}, but '{}' expects {} ({})", c.arg(0), C,
                                      C / groups, groups, c.arg(1), Cg, c.desc(1)));
  }
  Slide rows{X[2], W[2], stride[0], pad[0], pad[2], dil[0]}, cols{X[3], W[3], stride[1], pad[1], pad[3], dil[1]};
  c.slide(rows, false, "rows");
  c.slide(cols, false, "columns");
  std::string src = c.pad_stage(0, rows, cols, c.real(0.0));

  int64_t Fg = F / groups;
  bool sum_c = groups == 1 || Cg > 1;  // depthwise-like groups of one channel need no channel sum
  std::string n = c.var("n"), f = c.var(!sum_c && Fg == 1 ? "c" : "f"), y = c.var("y"), x = c.var("x");
  std::string ci = c.var("c"), r = c.var("r"), s = c.var("s");
  // The input channel: c, or for groups the first channel of f's group (+ c).
  NodeP ch;
  if (groups == 1) {
    ch = c.v(ci);
  } else {
    NodeP group = Fg == 1 ? c.v(f) : c.bin(BinOp::Div, c.v(f), c.num(Fg));
    ch = Cg == 1 ? std::move(group) : c.bin(BinOp::Mul, std::move(group), c.num(Cg));
    if (sum_c) ch = c.bin(BinOp::Add, std::move(ch), c.v(ci));
  }
  NodeP in = c.read(src, nodes(c.v(n), std::move(ch), c.window(y, rows.stride, r, rows.dil),
                               c.window(x, cols.stride, s, cols.dil)));
  NodeP w = c.read(c.arg(1), nodes(c.v(f), sum_c ? c.v(ci) : c.num(0), c.v(r), c.v(s)));
  std::vector<std::pair<std::string, int64_t>> rvars;
  if (sum_c) rvars.emplace_back(ci, Cg);
  rvars.emplace_back(r, W[2]);
  rvars.emplace_back(s, W[3]);
  c.define(c.result(), {n, f, y, x}, {X[0], F, rows.out, cols.out}, c.bin(BinOp::Mul, std::move(in), std::move(w)), ReduceOp::Sum,
           rvars);
}

/// Y[i, j] = sum(k) A[i, k] * B[k, j], or batched: Y[b, i, j] = sum(k) A[b, i, k] * B[b, k, j]
void matmul(Call &c) {
  auto A = c.dims(0), B = c.dims(1);
  for (size_t t = 0; t < 2; ++t)
    if (c.dims(t).size() != 2 && c.dims(t).size() != 3)
      c.error(c.arg_loc(t), fmt::format("'{}' must have rank 2 (M, K) or 3 (batch, M, K) but is f32{}", c.arg(t),
                                        dims_str(c.dims(t))));
  if (A.size() != B.size())
    c.error(c.arg_loc(1), fmt::format("'{}' has rank {} but '{}' has rank {}; multiply two matrices or two batches of "
                                      "matrices",
                                      c.arg(0), A.size(), c.arg(1), B.size()));
  bool batched = A.size() == 3;
  size_t o = batched ? 1 : 0;
  if (batched && A[0] != B[0])
    c.error(c.arg_loc(1), fmt::format("'{}' holds {} matrices but '{}' holds {}", c.arg(0), A[0], c.arg(1), B[0]));
  if (A[o + 1] != B[o])
    c.error(c.arg_loc(1), fmt::format("'{}' has {} columns but '{}' has {} rows ({}, {})", c.arg(0), A[o + 1], c.arg(1),
                                      B[o], c.desc(0), c.desc(1)));
  std::string b = c.var("b"), i = c.var("i"), j = c.var("j"), k = c.var("k");
  std::vector<std::string> lhs = {i, j}, a = {i, k}, bb = {k, j};
  std::vector<int64_t> dims = {A[o], B[o + 1]};
  if (batched) {
    for (auto *v : {&lhs, &a, &bb}) v->insert(v->begin(), b);
    dims.insert(dims.begin(), A[0]);
  }
  c.define(c.result(), lhs, dims, c.bin(BinOp::Mul, c.read(c.arg(0), a), c.read(c.arg(1), bb)), ReduceOp::Sum,
           {{k, A[o + 1]}});
}

/// Y[i, j] = sum(k) X[i, k] * W[j, k]
void dense(Call &c) {
  auto X = c.dims(0), W = c.dims(1);
  if (X[1] != W[1])
    c.error(c.arg_loc(1), fmt::format("'{}' has {} features but '{}' expects {} ({})", c.arg(0), X[1], c.arg(1), W[1], c.desc(1)));
  std::string i = c.var("i"), j = c.var("j"), k = c.var("k");
  c.define(c.result(), {i, j}, {X[0], W[0]},
           c.bin(BinOp::Mul, c.read(c.arg(0), {i, k}), c.read(c.arg(1), {j, k})), ReduceOp::Sum, {{k, X[1]}});
}

/// Y[n, c, h, w] = X[n, c, h, w] + b[c]   (the subscript of b is the variable of `axis`)
void bias_add(Call &c) {
  auto X = c.dims(0), b = c.dims(1);
  size_t axis = c.axis("axis", 1, 0);
  if (b[0] != X[axis])
    c.error(c.arg_loc(1), fmt::format("'{}' has {} elements but dimension {} of '{}' has {}", c.arg(1), b[0], axis,
                                      c.arg(0), X[axis]));
  auto vs = c.vars(X.size());
  c.define(c.result(), vs, X, c.bin(BinOp::Add, c.read(c.arg(0), vs), c.read(c.arg(1), {vs[axis]})));
}

/// Y[...] = max(X[...], 0.0)
void relu(Call &c) {
  auto vs = c.vars(c.dims(0).size());
  c.define(c.result(), vs, c.dims(0), c.fn("max", nodes(c.read(c.arg(0), vs), c.real(0.0))));
}

/// The window of a 2-d pool: `kernel` (required), `stride` (the kernel), `dilation` (1), `pad`
/// (0; each side at most half the window on its axis), `ceil_mode` (0).
struct Pool {
  Slide rows, cols;
};

Pool pool_window(Call &c) {
  auto k = c.required_positive_pair("kernel");
  auto stride = c.positive_pair("stride", k), dil = c.positive_pair("dilation", {1, 1});
  auto pad = c.pads("pad");
  static const char *const side[] = {"top", "left", "bottom", "right"};
  for (size_t i = 0; i < 4; ++i) {
    int64_t kk = k[i % 2];
    if (2 * pad[i] <= kk) continue;
    const LayerKey *pk = c.key("pad"), *kw = c.key("kernel");
    if (!pk->is_list && !kw->is_list)
      c.error(c.elem_loc("pad", i), fmt::format("pad={} is more than half of kernel={}", pad[i], kk));
    c.error(c.elem_loc("pad", i), fmt::format("pad {} at the {} is more than half of the window's {} {}", pad[i], side[i],
                                              kk, i % 2 ? "columns" : "rows"));
  }
  bool ceil_mode = c.flag("ceil_mode", false);
  const auto &X = c.dims(0);
  Pool p{{X[2], k[0], stride[0], pad[0], pad[2], dil[0]}, {X[3], k[1], stride[1], pad[1], pad[3], dil[1]}};
  c.slide(p.rows, ceil_mode, "rows");
  c.slide(p.cols, ceil_mode, "columns");
  return p;
}

/// Y[n, c, y, x] = max(r, s) P[n, c, y * stride + r * dilation, ...]   (P padded with -inf)
void maxpool2d(Call &c) {
  Pool p = pool_window(c);
  std::string src = c.pad_stage(0, p.rows, p.cols, c.real(-std::numeric_limits<double>::infinity()));
  std::string n = c.var("n"), ch = c.var("c"), y = c.var("y"), x = c.var("x"), r = c.var("r"), s = c.var("s");
  NodeP body = c.read(src, nodes(c.v(n), c.v(ch), c.window(y, p.rows.stride, r, p.rows.dil),
                                 c.window(x, p.cols.stride, s, p.cols.dil)));
  c.define(c.result(), {n, ch, y, x}, {c.dims(0)[0], c.dims(0)[1], p.rows.out, p.cols.out}, std::move(body),
           ReduceOp::Max, {{r, p.rows.k}, {s, p.cols.k}});
}

/// Y_sum[n, c, y, x] = sum(r, s) P[n, c, y * stride + r * dilation, ...]   (P padded with 0.0), then
/// Y = Y_sum / the window's size, or, where windows differ in how many taps count, / Y_cnt[y, x]:
/// the taps inside the input (count_include_pad=0) or inside the padded input
/// (count_include_pad=1, the default); a ceil_mode window's overhang never counts.
void avgpool2d(Call &c) {
  Pool p = pool_window(c);
  bool include_pad = c.flag("count_include_pad", true);
  std::string src = c.pad_stage(0, p.rows, p.cols, c.real(0.0));
  std::string n = c.var("n"), ch = c.var("c"), y = c.var("y"), x = c.var("x"), r = c.var("r"), s = c.var("s");
  std::vector<int64_t> dims = {c.dims(0)[0], c.dims(0)[1], p.rows.out, p.cols.out};
  std::string sum = c.helper("sum");
  c.define(sum, {n, ch, y, x}, dims,
           c.read(src, nodes(c.v(n), c.v(ch), c.window(y, p.rows.stride, r, p.rows.dil),
                             c.window(x, p.cols.stride, s, p.cols.dil))),
           ReduceOp::Sum, {{r, p.rows.k}, {s, p.cols.k}});
  // The taps that count lie in [lo, hi) of the padded axis; windows reach [0, extent).
  auto counted = [&](const Slide &w) {
    return include_pad ? std::pair<int64_t, int64_t>{0, w.padded()} : std::pair<int64_t, int64_t>{w.lo, w.lo + w.in};
  };
  auto [rlo, rhi] = counted(p.rows);
  auto [clo, chi] = counted(p.cols);
  bool top = rlo > 0, bottom = p.rows.extent() > rhi, left = clo > 0, right = p.cols.extent() > chi;
  NodeP divisor;
  if (!top && !bottom && !left && !right) {
    divisor = c.real(static_cast<double>(p.rows.k * p.cols.k));
  } else {
    std::string cnt = c.helper("cnt");
    NodeP cond = c.bounds(nullptr, [&] { return c.window(y, p.rows.stride, r, p.rows.dil); }, top, rlo, bottom, rhi - 1);
    cond = c.bounds(std::move(cond), [&] { return c.window(x, p.cols.stride, s, p.cols.dil); }, left, clo, right, chi - 1);
    c.define(cnt, {y, x}, {p.rows.out, p.cols.out}, c.fn("select", nodes(std::move(cond), c.real(1.0), c.real(0.0))),
             ReduceOp::Sum, {{r, p.rows.k}, {s, p.cols.k}});
    divisor = c.read(cnt, {y, x});
  }
  c.define(c.result(), {n, ch, y, x}, dims, c.bin(BinOp::Div, c.read(sum, {n, ch, y, x}), std::move(divisor)));
}

/// A reduction over one axis of X: the variables and shape of the reduced tensors, `[1]` (read
/// at 0) when X has rank 1.
struct Reduced {
  std::vector<std::string> all;  ///< one per dimension of X
  std::string rv;                ///< the reduced axis' variable
  int64_t extent;
  std::vector<std::string> lhs;  ///< of the reduced stages
  std::vector<int64_t> dims;

  NodeP read(const Call &c, const std::string &t) const {
    if (all.size() > 1) {
      std::vector<std::string> v;
      for (auto &x : all)
        if (x != rv) v.push_back(x);
      return c.read(t, v);
    }
    return c.read(t, nodes(c.num(0)));
  }
};

Reduced reduce_axis(const Call &c, size_t axis) {
  const auto &X = c.dims(0);
  Reduced r;
  r.all = c.vars(X.size());
  r.rv = r.all[axis];
  r.extent = X[axis];
  for (size_t d = 0; d < X.size(); ++d)
    if (d != axis) r.lhs.push_back(r.all[d]), r.dims.push_back(X[d]);
  if (r.lhs.empty()) r.lhs.push_back(c.var("o")), r.dims.push_back(1);
  return r;
}

/// Y_max[i] = max(j) X[i, j];  Y_exp[i, j] = exp(X[i, j] - Y_max[i]);  Y_sum[i] = sum(j) Y_exp[i, j];
/// Y[i, j] = Y_exp[i, j] / Y_sum[i]
void softmax(Call &c) {
  Reduced r = reduce_axis(c, c.axis("axis", -1, 0));
  const auto &X = c.dims(0);
  std::string mx = c.helper("max"), ex = c.helper("exp"), sum = c.helper("sum");
  c.define(mx, r.lhs, r.dims, c.read(c.arg(0), r.all), ReduceOp::Max, {{r.rv, r.extent}});
  c.define(ex, r.all, X, c.fn("exp", nodes(c.bin(BinOp::Sub, c.read(c.arg(0), r.all), r.read(c, mx)))));
  c.define(sum, r.lhs, r.dims, c.read(ex, r.all), ReduceOp::Sum, {{r.rv, r.extent}});
  c.define(c.result(), r.all, X, c.bin(BinOp::Div, c.read(ex, r.all), r.read(c, sum)));
}

/// Over the last axis: Y_mean[i] = sum(j) X[i, j] / D;  Y_diff[i, j] = X[i, j] - Y_mean[i];
/// Y_var[i] = sum(j) Y_diff[i, j] * Y_diff[i, j] / D;
/// Y[i, j] = Y_diff[i, j] * rsqrt(Y_var[i] + eps) * g[j] + b[j]
void layernorm(Call &c) {
  const auto &X = c.dims(0);
  int64_t D = X.back();
  for (size_t t = 1; t < 3; ++t)
    if (c.dims(t)[0] != D)
      c.error(c.arg_loc(t), fmt::format("'{}' has {} elements but the last dimension of '{}' has {}", c.arg(t),
                                        c.dims(t)[0], c.arg(0), D));
  double eps = c.float_key("eps", 1e-5);
  Reduced r = reduce_axis(c, X.size() - 1);
  std::string mean = c.helper("mean"), diff = c.helper("diff"), var = c.helper("var");
  auto dd = [&] { return c.real(static_cast<double>(D)); };
  c.define(mean, r.lhs, r.dims, c.bin(BinOp::Div, c.read(c.arg(0), r.all), dd()), ReduceOp::Sum, {{r.rv, D}});
  c.define(diff, r.all, X, c.bin(BinOp::Sub, c.read(c.arg(0), r.all), r.read(c, mean)));
  c.define(var, r.lhs, r.dims, c.bin(BinOp::Div, c.bin(BinOp::Mul, c.read(diff, r.all), c.read(diff, r.all)), dd()),
           ReduceOp::Sum, {{r.rv, D}});
  NodeP norm = c.bin(BinOp::Mul, c.read(diff, r.all),
                     c.fn("rsqrt", nodes(c.bin(BinOp::Add, r.read(c, var), c.real(eps)))));
  c.define(c.result(), r.all, X,
           c.bin(BinOp::Add, c.bin(BinOp::Mul, std::move(norm), c.read(c.arg(1), {r.rv})), c.read(c.arg(2), {r.rv})));
}

const std::vector<LayerDef> &layers() {
  static const std::vector<LayerDef> table = {
      {"conv2d",
       {{"X", 4, "N, C, H, W"}, {"W", 4, "F, C / groups, KH, KW"}},
       {{"stride", KeyKind::Pair}, {"pad", KeyKind::Pads}, {"dilation", KeyKind::Pair}, {"groups", KeyKind::Int}},
       conv2d},
      {"matmul", {{"A", 0, "[batch,] M, K"}, {"B", 0, "[batch,] K, N"}}, {}, matmul},
      {"dense", {{"X", 2, "M, K"}, {"W", 2, "N, K"}}, {}, dense},
      {"bias_add", {{"X", 0, "any"}, {"b", 1, "the extent of X's axis"}}, {{"axis", KeyKind::Int}}, bias_add},
      {"relu", {{"X", 0, "any"}}, {}, relu},
      {"maxpool2d",
       {{"X", 4, "N, C, H, W"}},
       {{"kernel", KeyKind::Pair}, {"stride", KeyKind::Pair}, {"pad", KeyKind::Pads}, {"dilation", KeyKind::Pair},
        {"ceil_mode", KeyKind::Int}},
       maxpool2d},
      {"avgpool2d",
       {{"X", 4, "N, C, H, W"}},
       {{"kernel", KeyKind::Pair}, {"stride", KeyKind::Pair}, {"pad", KeyKind::Pads}, {"dilation", KeyKind::Pair},
        {"ceil_mode", KeyKind::Int}, {"count_include_pad", KeyKind::Int}},
       avgpool2d},
      {"softmax", {{"X", 0, "any"}}, {{"axis", KeyKind::Int}}, softmax},
      {"layernorm", {{"X", 0, "any"}, {"g", 1, "D"}, {"b", 1, "D"}}, {{"eps", KeyKind::Float}}, layernorm},
  };
  return table;
}

}  // namespace

bool is_layer(const std::string &name) { return find_layer(name) != nullptr; }

std::string layer_names() {
  std::string s;
  for (auto &d : layers()) s += (s.empty() ? "" : ", ") + std::string(d.name);
  return s;
}

std::vector<Stage> expand_layer(const LayerCall &call, const LayerScope &scope) {
  const LayerDef *d = find_layer(call.layer);
  if (!d) fail(call.layer_loc, fmt::format("unknown layer '{}'; layers: {}", call.layer, layer_names()));
  Call c(call, scope, *d);
  d->expand(c);
  return c.take();
}

}  // namespace kcc::ast
