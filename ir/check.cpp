// ir/check.cpp - checks a kernel's syntax tree and builds the kcc::Kernel.
//
// One stage at a time, in order:
//   1. names: index and reduction variables, the tensor the stage defines;
//   2. types: the body is lowered to an Expr; literals take the type their context asks for
//      (an integer literal in a float context is a float constant), everything else must match
//      exactly (mixing int and float needs a cast);
//   3. ranges: extents come from declared shapes, explicit `sum(k: N)`, or plain subscripts
//      (`X[i, k]` gives i the extent of X's dimension 0);
//   4. accesses: the interval of each subscript, with the conditions of enclosing `select`s
//      narrowing the variables in the chosen arm, must lie inside the tensor. Only bounds that
//      are exact (attained) are reported, so a correct kernel is never rejected.
// Every problem is a UserError at the offending token.
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include "ir/check.h"
#include "ir/visitor.h"

namespace kcc {

namespace {

using ast::Node;
using i128 = __int128;

[[noreturn]] void fail(const SourceLoc &loc, const std::string &msg) { throw UserError(loc, msg); }

std::string where(const SourceLoc &l) { return fmt::format("{}:{}", l.line, l.col); }

std::string join(const std::vector<std::string> &v) {
  std::string s;
  for (auto &x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

std::string i128_str(i128 v) { return std::to_string(static_cast<long long>(v)); }

std::string shape_str(ScalarKind k, const std::vector<int64_t> &dims) {
  std::vector<std::string> d;
  for (int64_t x : dims) d.push_back(std::to_string(x));
  return fmt::format("{}[{}]", to_string(k), join(d));
}

const char *const kElemTypes = "f32, f16, bf16, f64, i8, i32, i64";

/// An element type a tensor may have (bool may not be stored).
ScalarKind elem_kind(const ast::TypeAnn &t, const std::string &tensor) {
  ScalarKind k;
  if (!parse_scalar_kind(t.elem, k))
    fail(t.loc, fmt::format("unknown element type '{}' for '{}'; expected one of {}", t.elem, tensor, kElemTypes));
  if (k == ScalarKind::Bool)
    fail(t.loc, fmt::format("tensor '{}' cannot hold bool; expected one of {}", tensor, kElemTypes));
  return k;
}

void check_dims(const ast::TypeAnn &t, const std::string &tensor) {
  i128 n = 1;
  for (size_t d = 0; d < t.dims.size(); ++d) {
    if (t.dims[d] <= 0)
      fail(t.dim_locs[d], fmt::format("dimension {} of '{}' must be positive, found {}", d, tensor, t.dims[d]));
    n *= t.dims[d];
    if (n > (i128(1) << 48))
      fail(t.dim_locs[d], fmt::format("tensor '{}' has more than 2^48 elements", tensor));
  }
}

// ---------------------------------------------------------------- intervals

/// A closed integer interval of a variable.
struct Range {
  i128 lo = 0, hi = -1;
  bool empty() const { return lo > hi; }
};
using Ranges = std::map<const Variable *, Range>;

constexpr i128 kHuge = i128(1) << 100;

bool small(i128 v) { return v < kHuge && v > -kHuge; }

/// sum(coeff * var) + constant.
struct Affine {
  std::map<const Variable *, i128> coeff;
  i128 k = 0;
};

bool linearize(const Expr &e, i128 scale, Affine &out) {
  // |scale| < 2^63 and constants are int64, so scale * constant cannot overflow i128.
  if (scale >= (i128(1) << 63) || scale <= -(i128(1) << 63)) return false;
  if (auto *i = e.as<IntImm>()) {
    out.k += scale * i->value;
    return small(out.k) && e.type() == Type::i64();
  }
  if (auto *v = e.as<Variable>()) {
    out.coeff[v] += scale;
    return true;
  }
  if (auto *u = e.as<Unary>()) return u->op == UnOp::Neg && linearize(u->a, -scale, out);
  auto *b = e.as<Binary>();
  if (!b) return false;
  int64_t c;
  switch (b->op) {
    case BinOp::Add: return linearize(b->a, scale, out) && linearize(b->b, scale, out);
    case BinOp::Sub: return linearize(b->a, scale, out) && linearize(b->b, -scale, out);
    case BinOp::Mul:
      if (is_const_int(b->b, &c)) return linearize(b->a, scale * c, out);
      if (is_const_int(b->a, &c)) return linearize(b->b, scale * c, out);
      return false;
    default: return false;
  }
}

/// The values an index expression takes. `exact`: both ends are attained, so a bound outside
/// the tensor is a real out-of-range access. `contiguous`: every integer in between is taken.
struct Bound {
  bool known = false;
  i128 lo = 0, hi = 0;
  bool exact = false;
  bool contiguous = false;
  std::set<const Variable *> vars;
};

i128 floor_div(i128 a, i128 b) {
  i128 q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
i128 floor_mod(i128 a, i128 b) { return a - floor_div(a, b) * b; }

bool disjoint(const std::set<const Variable *> &a, const std::set<const Variable *> &b) {
  for (auto *v : a)
    if (b.count(v)) return false;
  return true;
}

Bound bounds(const Expr &e, const Ranges &r) {
  Bound out;
  Affine a;
  if (linearize(e, 1, a)) {
    out.known = out.exact = out.contiguous = true;
    out.lo = out.hi = a.k;
    for (auto &[v, c] : a.coeff) {
      if (c == 0) continue;
      auto it = r.find(v);
      if (it == r.end()) return Bound{};
      out.lo += c > 0 ? c * it->second.lo : c * it->second.hi;
      out.hi += c > 0 ? c * it->second.hi : c * it->second.lo;
      out.vars.insert(v);
      if (c != 1 && c != -1) out.contiguous = false;
      if (!small(out.lo) || !small(out.hi)) return Bound{};
    }
    return out;
  }
  int64_t c;
  if (auto *u = e.as<Unary>()) {
    if (u->op != UnOp::Neg) return out;
    Bound x = bounds(u->a, r);
    if (!x.known) return out;
    x.lo = -x.lo;
    x.hi = -x.hi;
    std::swap(x.lo, x.hi);
    return x;
  }
  auto *b = e.as<Binary>();
  if (!b || !b->a.type().is_int()) return out;
  Bound x = bounds(b->a, r);
  if (!x.known) return out;
  if ((b->op == BinOp::Div || b->op == BinOp::Mod) && is_const_int(b->b, &c) && c > 0) {
    out = x;
    out.contiguous = false;
    if (b->op == BinOp::Div) {
      out.lo = floor_div(x.lo, c);
      out.hi = floor_div(x.hi, c);
      out.contiguous = x.contiguous;
    } else if (floor_div(x.lo, c) == floor_div(x.hi, c)) {
      out.lo = floor_mod(x.lo, c);
      out.hi = floor_mod(x.hi, c);
      out.contiguous = x.contiguous;
    } else {
      out.lo = 0;
      out.hi = c - 1;
      out.exact = x.exact && x.contiguous;
      out.contiguous = x.contiguous;
    }
    return out;
  }
  Bound y = bounds(b->b, r);
  if (!y.known) return out;
  out.known = true;
  out.vars = x.vars;
  out.vars.insert(y.vars.begin(), y.vars.end());
  bool indep = x.exact && y.exact && disjoint(x.vars, y.vars);
  switch (b->op) {
    case BinOp::Add: out.lo = x.lo + y.lo, out.hi = x.hi + y.hi, out.exact = indep; break;
    case BinOp::Sub: out.lo = x.lo - y.hi, out.hi = x.hi - y.lo, out.exact = indep; break;
    case BinOp::Min: out.lo = std::min(x.lo, y.lo), out.hi = std::min(x.hi, y.hi), out.exact = indep; break;
    case BinOp::Max: out.lo = std::max(x.lo, y.lo), out.hi = std::max(x.hi, y.hi), out.exact = indep; break;
    case BinOp::Mul: {
      // Not affine: the corners bound it, but the subscript is accepted unchecked.
      if (!small(x.lo) || !small(x.hi) || !small(y.lo) || !small(y.hi) || x.lo < -(i128(1) << 60) ||
          x.hi > (i128(1) << 60) || y.lo < -(i128(1) << 60) || y.hi > (i128(1) << 60))
        return Bound{};
      i128 p[] = {x.lo * y.lo, x.lo * y.hi, x.hi * y.lo, x.hi * y.hi};
      out.lo = *std::min_element(p, p + 4);
      out.hi = *std::max_element(p, p + 4);
      out.exact = false;
      break;
    }
    default: return Bound{};
  }
  if (!small(out.lo) || !small(out.hi)) return Bound{};
  return out;
}

/// Narrows `r` by `cond == pol`. Returns false when part of the condition could not be used
/// (then bounds in that arm are over-approximations). Sets `dead` when the arm cannot run.
bool refine(Ranges &r, const Expr &cond, bool pol, bool &dead) {
  if (auto *i = cond.as<IntImm>()) {
    if ((i->value != 0) != pol) dead = true;
    return true;
  }
  if (auto *u = cond.as<Unary>()) return u->op == UnOp::Not && refine(r, u->a, !pol, dead);
  auto *b = cond.as<Binary>();
  if (!b) return false;
  if (b->op == BinOp::And || b->op == BinOp::Or) {
    if ((b->op == BinOp::And) != pol) return false;  // a disjunction: no box
    bool ca = refine(r, b->a, pol, dead);
    bool cb = refine(r, b->b, pol, dead);
    return ca && cb;
  }
  if (!is_comparison(b->op) || b->a.type() != Type::i64()) return false;
  Affine a;
  if (!linearize(b->a, 1, a) || !linearize(b->b, -1, a)) return false;
  // sum(coeff * v) + k  OP  0
  BinOp op = b->op;
  if (!pol) {
    switch (op) {
      case BinOp::LT: op = BinOp::GE; break;
      case BinOp::LE: op = BinOp::GT; break;
      case BinOp::GT: op = BinOp::LE; break;
      case BinOp::GE: op = BinOp::LT; break;
      case BinOp::EQ: op = BinOp::NE; break;
      case BinOp::NE: op = BinOp::EQ; break;
      default: return false;
    }
  }
  const Variable *v = nullptr;
  i128 c = 0;
  for (auto &[var, co] : a.coeff) {
    if (co == 0) continue;
    if (v) return false;
    v = var;
    c = co;
  }
  if (!v) {
    i128 k = a.k;
    bool holds = op == BinOp::LT ? k < 0 : op == BinOp::LE ? k <= 0 : op == BinOp::GT ? k > 0
               : op == BinOp::GE ? k >= 0 : op == BinOp::EQ ? k == 0 : k != 0;
    if (!holds) dead = true;
    return true;
  }
  if (c != 1 && c != -1) return false;
  auto it = r.find(v);
  if (it == r.end()) return false;
  Range &rg = it->second;
  // c*v + k OP 0  ->  v OP' bound
  i128 k = c == 1 ? -a.k : a.k;
  if (c == -1) {
    switch (op) {
      case BinOp::LT: op = BinOp::GT; break;
      case BinOp::LE: op = BinOp::GE; break;
      case BinOp::GT: op = BinOp::LT; break;
      case BinOp::GE: op = BinOp::LE; break;
      default: break;
    }
  }
  switch (op) {
    case BinOp::LT: rg.hi = std::min(rg.hi, k - 1); break;
    case BinOp::LE: rg.hi = std::min(rg.hi, k); break;
    case BinOp::GT: rg.lo = std::max(rg.lo, k + 1); break;
    case BinOp::GE: rg.lo = std::max(rg.lo, k); break;
    case BinOp::EQ: rg.lo = std::max(rg.lo, k), rg.hi = std::min(rg.hi, k); break;
    case BinOp::NE:
      if (rg.lo == k) ++rg.lo;
      else if (rg.hi == k) --rg.hi;
      else if (k > rg.lo && k < rg.hi) return false;
      break;
    default: return false;
  }
  if (rg.empty()) dead = true;
  return true;
}

// ---------------------------------------------------------------- the checker

/// Is this literal-only arithmetic whose type comes from the context?
bool untyped(const Node &n) {
  switch (n.kind) {
    case Node::Kind::Int:
    case Node::Kind::Float: return true;
    case Node::Kind::Unary: return n.unop == UnOp::Neg && untyped(*n.args[0]);
    case Node::Kind::Binary:
      return !is_comparison(n.binop) && !is_logical(n.binop) && untyped(*n.args[0]) && untyped(*n.args[1]);
    case Node::Kind::Call:
      if ((n.name == "min" || n.name == "max") && n.args.size() == 2) return untyped(*n.args[0]) && untyped(*n.args[1]);
      if (n.name == "select" && n.args.size() == 3) return untyped(*n.args[1]) && untyped(*n.args[2]);
      return false;
    case Node::Kind::Bool:
    case Node::Kind::Name:
    case Node::Kind::Access: return false;
  }
  return false;
}

/// The default type of an untyped subtree: f32 if a float literal is in it, else i64.
bool has_float_literal(const Node &n) {
  if (n.kind == Node::Kind::Float) return true;
  if (n.kind == Node::Kind::Call && n.name == "select" && n.args.size() == 3)
    return has_float_literal(*n.args[1]) || has_float_literal(*n.args[2]);
  for (auto &a : n.args)
    if (has_float_literal(*a)) return true;
  return false;
}

using Want = std::optional<Type>;
using Cond = std::pair<Expr, bool>;

struct AccessRec {
  Tensor tensor;
  std::vector<Expr> idx;
  std::vector<const Node *> nodes;
  std::vector<Cond> ctx;  ///< enclosing select conditions and the arm taken
};

/// `X[..., v, ...]`: v ranges over X's dimension `dim`.
struct PlainUse {
  const Variable *var;
  int64_t extent;
  SourceLoc loc;
  std::string tensor;
  size_t dim;
};

class KernelChecker {
 public:
  explicit KernelChecker(const ast::Kernel &k) : k_(k) {}

  Kernel run() {
    out_.name = k_.name;
    out_.loc = k_.loc;
    std::map<std::string, SourceLoc> params;
    auto declare = [&](const ast::Param &p, TensorRole role) {
      auto it = params.find(p.name);
      if (it != params.end())
        fail(p.loc, fmt::format("'{}' is declared twice in the signature of '{}'; first at {}", p.name, k_.name, where(it->second)));
      params[p.name] = p.loc;
      auto t = std::make_shared<TensorDecl>();
      t->name = p.name;
      t->elem = elem_kind(p.type, p.name);
      check_dims(p.type, p.name);
      t->shape = p.type.dims;
      t->role = role;
      t->loc = p.loc;
      return Tensor(t);
    };
    for (auto &p : k_.inputs) {
      Tensor t = declare(p, TensorRole::Input);
      out_.inputs.push_back(t);
      visible_[p.name] = t;
    }
    for (auto &p : k_.outputs) out_.outputs.push_back(declare(p, TensorRole::Output));

    for (auto &s : k_.stages) {
      for (auto &in : out_.inputs)
        if (in->name == s.name) fail(s.loc, fmt::format("cannot assign to input '{}'; inputs are read-only", s.name));
      auto it = defs_.find(s.name);
      if (it != defs_.end())
        fail(s.loc, fmt::format("{}'{}' is defined twice; first definition at {}", output(s.name) ? "output " : "",
                                s.name, where(it->second)));
      defs_[s.name] = s.loc;
    }
    for (size_t i = 0; i < out_.outputs.size(); ++i)
      if (!defs_.count(out_.outputs[i]->name))
        fail(k_.outputs[i].loc, fmt::format("output '{}' is never defined", out_.outputs[i]->name));

    for (auto &s : k_.stages) stage(s);
    return std::move(out_);
  }

 private:
  Tensor output(const std::string &n) const {
    for (auto &t : out_.outputs)
      if (t->name == n) return t;
    return nullptr;
  }

  bool is_tensor_name(const std::string &n) const {
    if (defs_.count(n)) return true;
    for (auto &t : out_.inputs)
      if (t->name == n) return true;
    return output(n) != nullptr;
  }

  // ---------------------------------------------------------------- stages

  void stage(const ast::Stage &s) {
    st_ = &s;
    vars_.clear();
    accesses_.clear();
    plain_.clear();
    ctx_.clear();

    std::vector<Var> axes;
    for (size_t i = 0; i < s.lhs.size(); ++i) {
      for (auto &[n, v] : vars_)
        if (n == s.lhs[i]) fail(s.lhs_locs[i], fmt::format("index variable '{}' appears twice on the left of '='", n));
      if (is_tensor_name(s.lhs[i]))
        fail(s.lhs_locs[i], fmt::format("index variable '{}' has the name of a tensor", s.lhs[i]));
      axes.push_back(make_var(s.lhs[i]));
      vars_.emplace_back(s.lhs[i], axes.back());
    }
    std::vector<Var> raxes;
    for (auto &rv : s.rvars) {
      for (size_t i = 0; i < vars_.size(); ++i) {
        if (vars_[i].first != rv.name) continue;
        if (i < axes.size())
          fail(rv.loc, fmt::format("reduction variable '{}' shadows the index variable '{}' of '{}'", rv.name, rv.name, s.name));
        fail(rv.loc, fmt::format("reduction variable '{}' appears twice", rv.name));
      }
      if (is_tensor_name(rv.name)) fail(rv.loc, fmt::format("reduction variable '{}' has the name of a tensor", rv.name));
      if (rv.extent && *rv.extent <= 0)
        fail(rv.extent_loc, fmt::format("range of reduction variable '{}' must be positive, found {}", rv.name, *rv.extent));
      raxes.push_back(make_var(rv.name));
      vars_.emplace_back(rv.name, raxes.back());
    }

    // The declared type and shape, if any.
    Tensor decl = output(s.name);
    std::optional<ScalarKind> elem;
    std::vector<int64_t> shape;
    if (s.ann) {
      ScalarKind k = elem_kind(*s.ann, s.name);
      check_dims(*s.ann, s.name);
      if (decl && (k != decl->elem || s.ann->dims != decl->shape))
        fail(s.ann->loc, fmt::format("annotation {} of '{}' disagrees with its declared type {}", shape_str(k, s.ann->dims),
                                     s.name, shape_str(decl->elem, decl->shape)));
      elem = k;
      shape = s.ann->dims;
    } else if (decl) {
      elem = decl->elem;
      shape = decl->shape;
    }
    if (elem && shape.size() != s.lhs.size())
      fail(s.loc, fmt::format("'{}' has rank {} but is defined with {} index variable{}", s.name, shape.size(),
                              s.lhs.size(), s.lhs.size() == 1 ? "" : "s"));

    // Types.
    Want want;
    if (elem) want = Type{*elem, 1};
    Expr body = lower(*s.body, want);
    const SourceLoc &bl = s.body->loc;
    if (body.type().is_bool())
      fail(bl, fmt::format("'{}' cannot store a bool value; convert it with select(cond, 1.0, 0.0)", s.name));
    if (elem && body.type() != Type{*elem, 1})
      fail(bl, fmt::format("'{}' has element type {} but its definition computes {}; convert with {}(...)", s.name,
                           to_string(*elem), to_string(body.type()), to_string(*elem)));

    // Ranges.
    Stage stage;
    stage.loc = s.loc;
    stage.reduce = s.reduce;
    stage.body = body;
    for (size_t i = 0; i < axes.size(); ++i) {
      int64_t ext = elem ? shape[i] : infer(axes[i], s.lhs_locs[i], false);
      stage.axes.push_back(Axis{axes[i], ext});
    }
    for (size_t i = 0; i < raxes.size(); ++i) {
      auto &rv = s.rvars[i];
      int64_t ext = rv.extent ? *rv.extent : infer(raxes[i], rv.loc, true);
      stage.raxes.push_back(Axis{raxes[i], ext});
    }

    if (decl) {
      stage.output = decl;
    } else {
      auto t = std::make_shared<TensorDecl>();
      t->name = s.name;
      t->elem = body.type().kind;
      for (auto &a : stage.axes) t->shape.push_back(a.extent);
      t->role = TensorRole::Intermediate;
      t->loc = s.loc;
      stage.output = t;
    }
    check_accesses(stage);
    visible_[s.name] = stage.output;
    out_.stages.push_back(std::move(stage));
  }

  int64_t infer(const Var &v, const SourceLoc &loc, bool reduction) {
    const PlainUse *first = nullptr;
    for (auto &u : plain_) {
      if (u.var != v.get()) continue;
      if (!first) {
        first = &u;
        continue;
      }
      if (u.extent != first->extent)
        fail(u.loc, fmt::format("conflicting ranges for '{}': {} from dimension {} of '{}' here, {} from dimension {} of '{}' at {}",
                                v->name, u.extent, u.dim, u.tensor, first->extent, first->dim, first->tensor, where(first->loc)));
    }
    if (first) return first->extent;
    if (reduction)
      fail(loc, fmt::format("cannot infer the range of reduction variable '{0}' (it is never a plain subscript); "
                            "write it explicitly: {1}({0}: N)",
                            v->name, to_string(st_->reduce)));
    fail(loc, fmt::format("cannot infer the extent of index variable '{}' (it is never a plain subscript); "
                          "annotate the stage with its type and shape: '{}[...] = ... : f32[N, ...]'",
                          v->name, st_->name));
  }

  void check_accesses(const Stage &stage) {
    Ranges base;
    for (auto &a : stage.axes) base[a.var.get()] = Range{0, a.extent - 1};
    for (auto &a : stage.raxes) base[a.var.get()] = Range{0, a.extent - 1};
    for (auto &acc : accesses_) {
      Ranges r = base;
      bool dead = false, complete = true;
      for (auto &[c, pol] : acc.ctx) complete = refine(r, c, pol, dead) && complete;
      if (dead || !complete) continue;
      for (size_t d = 0; d < acc.idx.size(); ++d) {
        Bound b = bounds(acc.idx[d], r);
        if (!b.known || !b.exact) continue;
        if (b.lo >= 0 && b.hi < acc.tensor->shape[d]) continue;
        fail(acc.nodes[d]->loc, fmt::format("index '{}' of tensor '{}' ranges over [{}, {}] but dimension {} has extent {}",
                                            to_string(acc.idx[d]), acc.tensor->name, i128_str(b.lo), i128_str(b.hi), d,
                                            acc.tensor->shape[d]));
      }
    }
  }

  // ---------------------------------------------------------------- expressions

  Expr lower_in(const Node &n, Want want, const Cond *c) {
    if (c) ctx_.push_back(*c);
    Expr e = lower(n, want);
    if (c) ctx_.pop_back();
    return e;
  }

  /// Lowers two operands that must have one type: an untyped side takes the other's type.
  std::pair<Expr, Expr> unify(const Node &a, const Node &b, Want want, const std::string &op, const SourceLoc &op_loc,
                              const Cond *ca = nullptr, const Cond *cb = nullptr) {
    bool ua = untyped(a), ub = untyped(b);
    Expr ea, eb;
    if (ua && ub) {
      Type t = has_float_literal(a) || has_float_literal(b) ? Type::f32() : Type::i64();
      if (want && !want->is_bool()) t = *want;
      ea = lower_in(a, t, ca);
      eb = lower_in(b, t, cb);
    } else if (ua) {
      eb = lower_in(b, want, cb);
      ea = lower_in(a, eb.type(), ca);
    } else if (ub) {
      ea = lower_in(a, want, ca);
      eb = lower_in(b, ea.type(), cb);
    } else {
      ea = lower_in(a, want, ca);
      eb = lower_in(b, want, cb);
    }
    if (ea.type() != eb.type())
      fail(op_loc, fmt::format("mismatched types {} and {} in '{}'; convert one side explicitly, e.g. {}(...)",
                               to_string(ea.type()), to_string(eb.type()), op, to_string(ea.type().is_float() ? ea.type() : eb.type())));
    return {ea, eb};
  }

  void need_number(const Expr &e, const Node &n, const std::string &op) {
    if (e.type().is_bool()) fail(n.loc, fmt::format("'{}' needs a number, found a bool value", op));
  }
  void need_bool(const Expr &e, const Node &n, const std::string &what) {
    if (!e.type().is_bool()) fail(n.loc, fmt::format("{} must be bool, found {}", what, to_string(e.type())));
  }

  Expr literal_int(const Node &n, Want want) {
    Type t = want ? *want : Type::i64();
    if (t.is_float()) return make_float(static_cast<double>(n.int_value), t);
    if (t.is_bool()) fail(n.loc, fmt::format("expected a bool value, found integer literal '{}'", n.text));
    int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
    if (t.kind == ScalarKind::I8) lo = -128, hi = 127;
    if (t.kind == ScalarKind::I32) lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
    if (n.int_value < lo || n.int_value > hi)
      fail(n.loc, fmt::format("integer literal '{}' does not fit in {}", n.text, to_string(t)));
    return make_int(n.int_value, t);
  }

  Expr literal_float(const Node &n, Want want) {
    Type t = want ? *want : Type::f32();
    if (t.is_float()) return make_float(n.float_value, t);
    if (t.is_bool()) fail(n.loc, fmt::format("expected a bool value, found float literal '{}'", n.text));
    fail(n.loc, fmt::format("expected a value of type {}, found float literal '{}'; mixing integers and floats "
                            "needs an explicit cast such as f32(...)",
                            to_string(t), n.text));
  }

  Expr variable(const Node &n) {
    for (auto &[name, v] : vars_)
      if (name == n.name) return var(v);
    if (is_tensor_name(n.name)) fail(n.loc, fmt::format("tensor '{0}' is used without subscripts; write '{0}[...]'", n.name));
    std::vector<std::string> idx, red;
    for (size_t i = 0; i < vars_.size(); ++i) (i < st_->lhs.size() ? idx : red).push_back(vars_[i].first);
    std::string msg = idx.empty() ? fmt::format("unknown name '{}'; '{}' has rank 0 and no index variables", n.name, st_->name)
                                  : fmt::format("unknown name '{}'; index variables of '{}': {}", n.name, st_->name, join(idx));
    if (!red.empty()) msg += fmt::format("; reduction variables: {}", join(red));
    fail(n.loc, msg);
  }

  Tensor tensor(const Node &n) {
    auto it = visible_.find(n.name);
    if (it != visible_.end()) return it->second;
    if (n.name == st_->name)
      fail(n.loc, fmt::format("'{}' reads itself; a stage may read only inputs and earlier stages", n.name));
    auto d = defs_.find(n.name);
    if (d != defs_.end())
      fail(n.loc, fmt::format("'{}' is read before it is defined at {}; a stage may read only inputs and earlier stages",
                              n.name, where(d->second)));
    std::vector<std::string> names;
    for (auto &t : out_.inputs) names.push_back(t->name);
    for (auto &s : out_.stages) names.push_back(s.name());
    fail(n.loc, fmt::format("unknown tensor '{}'; tensors readable here: {}", n.name, names.empty() ? "none" : join(names)));
  }

  Expr access(const Node &n) {
    Tensor t = tensor(n);
    if (n.args.size() != t->shape.size())
      fail(n.op_loc, fmt::format("tensor '{}' has rank {} but is indexed with {} subscript{}", t->name, t->shape.size(),
                                 n.args.size(), n.args.size() == 1 ? "" : "s"));
    AccessRec rec;
    rec.tensor = t;
    rec.ctx = ctx_;
    for (size_t d = 0; d < n.args.size(); ++d) {
      const Node &in = *n.args[d];
      Expr e = lower(in, Type::i64());
      if (e.type() != Type::i64())
        fail(in.loc, fmt::format("subscript {} of '{}' has type {}; subscripts are i64 index expressions", d, t->name,
                                 to_string(e.type())));
      for_each_expr(e, [&](const Expr &x) {
        if (x.as<Access>())
          fail(in.loc, fmt::format("subscript {} of '{}' reads tensor '{}'; subscripts may use only index variables and "
                                   "integer constants",
                                   d, t->name, x.as<Access>()->tensor->name));
        if (x.as<Cast>() || x.as<Call>())
          fail(in.loc, fmt::format("subscript {} of '{}' is not an index expression (found '{}'); subscripts may use only "
                                   "index variables, integer constants, + - * / % min max and select",
                                   d, t->name, to_string(x)));
      });
      if (in.kind == Node::Kind::Name)
        if (auto v = as_var(e)) plain_.push_back(PlainUse{v.get(), t->shape[d], in.loc, t->name, d});
      rec.idx.push_back(e);
      rec.nodes.push_back(&in);
    }
    Expr e = make_access(t, rec.idx);
    accesses_.push_back(std::move(rec));
    return e;
  }

  void arity(const Node &n, size_t want) {
    if (n.args.size() != want)
      fail(n.op_loc, fmt::format("'{}' takes {} argument{} but {} {} given", n.name, want, want == 1 ? "" : "s", n.args.size(),
                                 n.args.size() == 1 ? "was" : "were"));
  }

  Expr call(const Node &n, Want want) {
    if (n.name == "select") {
      arity(n, 3);
      Expr c = lower(*n.args[0], Type::boolean());
      need_bool(c, *n.args[0], "the condition of 'select'");
      Cond ct{c, true}, cf{c, false};
      auto [t, f] = unify(*n.args[1], *n.args[2], want, "select", n.op_loc, &ct, &cf);
      return make_select(c, t, f);
    }
    if (n.name == "min" || n.name == "max") {
      if (n.args.size() == 1)
        fail(n.op_loc, fmt::format("'{0}' takes 2 arguments but 1 was given; for a reduction whose body starts with "
                                   "'-', parenthesize the body: {0}(j) (-...)",
                                   n.name));
      arity(n, 2);
      auto [a, b] = unify(*n.args[0], *n.args[1], want, n.name, n.op_loc);
      need_number(a, *n.args[0], n.name);
      return make_binary(n.name == "min" ? BinOp::Min : BinOp::Max, a, b);
    }
    MathFn fn;
    if (parse_math_fn(n.name, fn)) {
      arity(n, static_cast<size_t>(kcc::arity(fn)));
      Want fw = want && want->is_float() ? want : Want(Type::f32());
      std::vector<Expr> args;
      if (n.args.size() == 2) {
        auto [a, b] = unify(*n.args[0], *n.args[1], fw, n.name, n.op_loc);
        args = {a, b};
      } else {
        args = {lower(*n.args[0], fw)};
      }
      for (size_t i = 0; i < args.size(); ++i)
        if (!args[i].type().is_float())
          fail(n.args[i]->loc, fmt::format("'{}' needs a float argument, found {}; convert with f32(...)", n.name,
                                           to_string(args[i].type())));
      return make_call(fn, args);
    }
    ScalarKind k;
    if (parse_scalar_kind(n.name, k)) {
      if (k == ScalarKind::Bool) fail(n.op_loc, "cannot convert to bool; use a comparison such as 'x != 0'");
      arity(n, 1);
      Type t{k, 1};
      Expr v = lower(*n.args[0], untyped(*n.args[0]) ? Want(t) : Want());
      return make_cast(t, v);
    }
    if (n.name == "sum" || n.name == "prod")
      fail(n.op_loc, fmt::format("reduction '{}' must be the outermost expression of a stage", n.name));
    if (is_tensor_name(n.name))
      fail(n.op_loc, fmt::format("tensor '{0}' is indexed with '[...]', not '(...)': write '{0}[...]'", n.name));
    std::vector<std::string> fns = {"select", "min", "max"};
#define KCC_NAME(N, A) fns.push_back(#N);
    KCC_MATH_FNS(KCC_NAME)
#undef KCC_NAME
    fail(n.op_loc, fmt::format("unknown function '{}'; functions: {}; conversions: {}", n.name, join(fns), kElemTypes));
  }

  Expr binary(const Node &n, Want want) {
    const Node &a = *n.args[0], &b = *n.args[1];
    BinOp op = n.binop;
    std::string sp = spelling(op);
    if (is_logical(op)) {
      Expr ea = lower(a, Type::boolean());
      need_bool(ea, a, fmt::format("the left operand of '{}'", sp));
      Expr eb = lower(b, Type::boolean());
      need_bool(eb, b, fmt::format("the right operand of '{}'", sp));
      return make_binary(op, ea, eb);
    }
    if (is_comparison(op)) {
      auto [ea, eb] = unify(a, b, Want(), sp, n.op_loc);
      if (op != BinOp::EQ && op != BinOp::NE) need_number(ea, a, sp);
      return make_binary(op, ea, eb);
    }
    auto [ea, eb] = unify(a, b, want, sp, n.op_loc);
    need_number(ea, a, sp);
    if (op == BinOp::Mod && ea.type().is_float())
      fail(n.op_loc, fmt::format("'%' needs integer operands, found {}", to_string(ea.type())));
    if ((op == BinOp::Div || op == BinOp::Mod) && ea.type().is_int()) {
      int64_t d;
      if (!is_const_int(eb, &d) || d <= 0)
        fail(b.loc, fmt::format("divisor of integer '{}' must be a positive integer constant, found '{}'", sp, to_string(eb)));
    }
    return make_binary(op, ea, eb);
  }

  Expr lower(const Node &n, Want want) {
    switch (n.kind) {
      case Node::Kind::Int: return literal_int(n, want);
      case Node::Kind::Float: return literal_float(n, want);
      case Node::Kind::Bool: return make_bool(n.int_value != 0);
      case Node::Kind::Name: return variable(n);
      case Node::Kind::Access: return access(n);
      case Node::Kind::Call: return call(n, want);
      case Node::Kind::Unary: {
        if (n.unop == UnOp::Not) {
          Expr a = lower(*n.args[0], Type::boolean());
          need_bool(a, *n.args[0], "the operand of 'not'");
          return make_unary(UnOp::Not, a);
        }
        Expr a = lower(*n.args[0], want);
        need_number(a, *n.args[0], "-");
        return make_unary(UnOp::Neg, a);
      }
      case Node::Kind::Binary: return binary(n, want);
    }
    KCC_INTERNAL(false, "unknown syntax node");
    return Expr();
  }

  const ast::Kernel &k_;
  Kernel out_;
  std::map<std::string, Tensor> visible_;     ///< inputs and the stages checked so far
  std::map<std::string, SourceLoc> defs_;     ///< every stage of the kernel
  const ast::Stage *st_ = nullptr;
  std::vector<std::pair<std::string, Var>> vars_;  ///< index then reduction variables
  std::vector<AccessRec> accesses_;
  std::vector<PlainUse> plain_;
  std::vector<Cond> ctx_;
};

}  // namespace

Kernel check_kernel(const ast::Kernel &k) { return KernelChecker(k).run(); }

ScalarKind checked_type(const ast::TypeAnn &t, const std::string &tensor) {
  ScalarKind k = elem_kind(t, tensor);
  check_dims(t, tensor);
  return k;
}

}  // namespace kcc
