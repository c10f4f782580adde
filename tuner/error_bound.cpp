// tuner/error_bound.cpp - float64 evaluation with running rounding-error bounds.
//
// Built like ir/interp.cpp: each stage's body is compiled once into a tree of closures, here
// returning a value and its bound (floats) or a value and an "uncertain" flag (integers: set
// when a float comparison or conversion feeding it could go the other way within the bounds).
// The values follow interp.cpp's F64 semantics operation for operation, in the same order, so
// they equal interpret()'s (a test checks it on the correctness suite).
#include "tuner/error_bound.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <utility>

#include "ir/diag.h"

namespace kcc::tuner {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// A float value and the bound on its rounding error.
struct VE {
  double v = 0, e = 0;
};
/// An integer value; `uncertain` when rounding could have changed it.
struct IV {
  int64_t v = 0;
  bool uncertain = false;
};

using Slots = const int64_t *;

struct BNode {
  virtual ~BNode() = default;
  virtual VE eval(Slots s) const = 0;
};
struct JNode {
  virtual ~JNode() = default;
  virtual IV eval(Slots s) const = 0;
};
using BPtr = std::unique_ptr<BNode>;
using JPtr = std::unique_ptr<JNode>;

template <class F>
struct BFn : BNode {
  F f;
  explicit BFn(F x) : f(std::move(x)) {}
  VE eval(Slots s) const override { return f(s); }
};
template <class F>
struct JFn : JNode {
  F f;
  explicit JFn(F x) : f(std::move(x)) {}
  IV eval(Slots s) const override { return f(s); }
};
template <class F>
BPtr bnode(F f) {
  return std::make_unique<BFn<F>>(std::move(f));
}
template <class F>
JPtr jnode(F f) {
  return std::make_unique<JFn<F>>(std::move(f));
}

/// Unit roundoff of a type (0 for integers: exact).
double unit(ScalarKind k) {
  switch (k) {
    case ScalarKind::F32: return std::ldexp(1.0, -24);
    case ScalarKind::F64: return std::ldexp(1.0, -53);
    case ScalarKind::F16: return std::ldexp(1.0, -11);
    case ScalarKind::BF16: return std::ldexp(1.0, -8);
    case ScalarKind::I8:
    case ScalarKind::I32:
    case ScalarKind::I64:
    case ScalarKind::Bool: return 0;
  }
  return 0;
}

/// gamma(m) = m u / (1 - m u): the relative bound of a sum of m + 1 terms in any order.
double gamma(double m, double u) { return m * u < 1 ? m * u / (1 - m * u) : kInf; }

/// The approximation error of the code generator's `fn` at result `v`, beyond rounding
/// (codegen/math_cpu.h states them for f32; f64 calls libm, within an ulp).
double approximation_error(MathFn fn, ScalarKind k, double v) {
  const double a = std::fabs(v);
  if (k != ScalarKind::F32) return 2 * unit(k) * a;
  switch (fn) {
    case MathFn::exp: return 4e-7 * a;
    case MathFn::log: return 2e-7 * a + 1e-7;
    case MathFn::tanh:
    case MathFn::sigmoid: return 1e-6 * a;
    case MathFn::erf: return 5e-7;
    case MathFn::rsqrt:
    case MathFn::pow: return 2 * unit(k) * a;
    case MathFn::sqrt:
    case MathFn::abs:
    case MathFn::floor:
    case MathFn::ceil: return 0;
  }
  return 0;
}

/// Converts a stored double to an integer of kind `k`, as the interpreter does.
int64_t to_int(ScalarKind k, double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9.2233720368547758e18) return wrap_int(k, INT64_MAX);
  if (v <= -9.2233720368547758e18) return wrap_int(k, INT64_MIN);
  return wrap_int(k, static_cast<int64_t>(v));
}

/// A float -> integer conversion of a bounded value, uncertain when truncation could differ.
IV to_int_bounded(ScalarKind k, VE x) {
  IV r{to_int(k, x.v), false};
  r.uncertain = x.e > 0 && (!std::isfinite(x.e) || to_int(k, x.v - x.e) != to_int(k, x.v + x.e));
  return r;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

/// A tensor's values and bounds, row-major.
struct Store {
  std::vector<double> v, e;
};

class StageCompiler {
 public:
  StageCompiler(const std::map<const TensorDecl *, Store> &storage, const std::map<const Variable *, int> &slots,
                const std::string &stage)
      : storage_(storage), slots_(slots), stage_(stage) {}

  BPtr compile_f(const Expr &e) {
    KCC_INTERNAL(e.type().lanes == 1, "error bound: vector expression in a kernel definition");
    const ScalarKind k = e.type().kind;
    const double u = unit(k);
    switch (e.kind()) {
      case ExprKind::FloatImm: {
        const double c = e.as<FloatImm>()->value;
        const double err = k == ScalarKind::F32 ? std::fabs(static_cast<double>(static_cast<float>(c)) - c) : u * std::fabs(c);
        return bnode([c, err](Slots) { return VE{c, err}; });
      }
      case ExprKind::Cast: {
        const Expr &x = e.as<Cast>()->value;
        const bool narrower = unit(k) > unit(x.type().kind);
        if (x.type().is_float()) {
          BPtr a = compile_f(x);
          return bnode([a = std::move(a), u, narrower](Slots s) {
            VE r = a->eval(s);
            if (narrower) r.e += u * std::fabs(r.v);
            return r;
          });
        }
        JPtr a = compile_i(x);
        return bnode([a = std::move(a), u](Slots s) {
          IV i = a->eval(s);
          const double v = static_cast<double>(i.v);
          return VE{v, i.uncertain ? kInf : u * std::fabs(v)};
        });
      }
      case ExprKind::Unary: {
        auto *un = e.as<Unary>();
        KCC_INTERNAL(un->op == UnOp::Neg, "error bound: 'not' of a float");
        BPtr a = compile_f(un->a);
        return bnode([a = std::move(a)](Slots s) {
          VE r = a->eval(s);
          return VE{-r.v, r.e};
        });
      }
      case ExprKind::Binary: return compile_f_binary(e.as<Binary>(), u);
      case ExprKind::Select: {
        auto *sel = e.as<Select>();
        JPtr c = compile_i(sel->cond);
        BPtr t = compile_f(sel->t), f = compile_f(sel->f);
        return bnode([c = std::move(c), t = std::move(t), f = std::move(f)](Slots s) {
          IV cond = c->eval(s);
          VE chosen = cond.v ? t->eval(s) : f->eval(s);
          if (!cond.uncertain) return chosen;
          // The other side could have been chosen: it may read outside a tensor (a guard the
          // rounding could defeat), and then nothing is known.
          try {
            VE other = cond.v ? f->eval(s) : t->eval(s);
            return VE{chosen.v, std::max(chosen.e, other.e) + std::fabs(chosen.v - other.v)};
          } catch (const InternalError &) {
            return VE{chosen.v, kInf};
          }
        });
      }
      case ExprKind::Call: return compile_call(e.as<Call>(), k);
      case ExprKind::Access: {
        auto acc = std::make_shared<AccessCore>(access(e.as<Access>()));
        return bnode([acc](Slots s) {
          bool uncertain = false;
          const int64_t off = acc->offset(s, uncertain);
          return VE{acc->store->v[static_cast<size_t>(off)], uncertain ? kInf : acc->store->e[static_cast<size_t>(off)]};
        });
      }
      case ExprKind::IntImm:
      case ExprKind::Variable:
      case ExprKind::Load:
      case ExprKind::Ramp:
      case ExprKind::Broadcast: break;
    }
    unsupported(e);
  }

  JPtr compile_i(const Expr &e) {
    KCC_INTERNAL(!e.type().is_float(), "error bound: float expression used as integer: " + to_string(e));
    KCC_INTERNAL(e.type().lanes == 1, "error bound: vector expression in a kernel definition");
    const ScalarKind k = e.type().kind;
    switch (e.kind()) {
      case ExprKind::IntImm: {
        const int64_t c = e.as<IntImm>()->value;
        return jnode([c](Slots) { return IV{c, false}; });
      }
      case ExprKind::Variable: {
        const int slot = slot_of(e.as<Variable>());
        return jnode([slot](Slots s) { return IV{s[slot], false}; });
      }
      case ExprKind::Cast: {
        const Expr &x = e.as<Cast>()->value;
        if (x.type().is_float()) {
          BPtr a = compile_f(x);
          return jnode([a = std::move(a), k](Slots s) { return to_int_bounded(k, a->eval(s)); });
        }
        JPtr a = compile_i(x);
        return jnode([a = std::move(a), k](Slots s) {
          IV r = a->eval(s);
          return IV{wrap_int(k, r.v), r.uncertain};
        });
      }
      case ExprKind::Unary: {
        auto *un = e.as<Unary>();
        JPtr a = compile_i(un->a);
        const bool is_not = un->op == UnOp::Not;
        return jnode([a = std::move(a), is_not](Slots s) {
          IV r = a->eval(s);
          return IV{is_not ? (r.v ? 0 : 1) : -r.v, r.uncertain};
        });
      }
      case ExprKind::Binary: return compile_i_binary(e.as<Binary>());
      case ExprKind::Select: {
        auto *sel = e.as<Select>();
        JPtr c = compile_i(sel->cond), t = compile_i(sel->t), f = compile_i(sel->f);
        return jnode([c = std::move(c), t = std::move(t), f = std::move(f)](Slots s) {
          IV cond = c->eval(s);
          IV r = cond.v ? t->eval(s) : f->eval(s);
          r.uncertain = r.uncertain || cond.uncertain;
          return r;
        });
      }
      case ExprKind::Call: {
        auto *c = e.as<Call>();
        JPtr a = compile_i(c->args[0]);
        if (c->fn == MathFn::floor || c->fn == MathFn::ceil) return a;
        KCC_INTERNAL(c->fn == MathFn::abs, fmt::format("error bound: {} of an integer", to_string(c->fn)));
        return jnode([a = std::move(a)](Slots s) {
          IV r = a->eval(s);
          return IV{r.v < 0 ? -r.v : r.v, r.uncertain};
        });
      }
      case ExprKind::Access: {
        auto acc = std::make_shared<AccessCore>(access(e.as<Access>()));
        return jnode([acc, k](Slots s) {
          bool uncertain = false;
          const int64_t off = acc->offset(s, uncertain);
          const double stored_e = acc->store->e[static_cast<size_t>(off)];
          return IV{to_int(k, acc->store->v[static_cast<size_t>(off)]), uncertain || stored_e != 0};
        });
      }
      case ExprKind::FloatImm:
      case ExprKind::Load:
      case ExprKind::Ramp:
      case ExprKind::Broadcast: break;
    }
    unsupported(e);
  }

 private:
  /// A compiled tensor read.
  struct AccessCore {
    const TensorDecl *tensor = nullptr;
    const Store *store = nullptr;
    std::vector<int64_t> dims, strides;
    std::vector<std::shared_ptr<JNode>> idx;
    std::string stage;

    int64_t offset(Slots s, bool &uncertain) const {
      int64_t off = 0;
      for (size_t d = 0; d < idx.size(); ++d) {
        IV i = idx[d]->eval(s);
        uncertain = uncertain || i.uncertain;
        if (static_cast<uint64_t>(i.v) >= static_cast<uint64_t>(dims[d]))
          throw InternalError(fmt::format("error bound: stage '{}' reads {} outside its shape", stage, tensor->name));
        off += i.v * strides[d];
      }
      return off;
    }
  };

  [[noreturn]] void unsupported(const Expr &e) {
    throw InternalError(fmt::format("error bound: stage '{}': {} nodes are not part of kernel definitions ({})",
                                    stage_, to_string(e.kind()), to_string(e)));
  }

  int slot_of(const Variable *v) {
    auto it = slots_.find(v);
    KCC_INTERNAL(it != slots_.end(), fmt::format("error bound: stage '{}' uses variable '{}' that is not one of its axes",
                                                 stage_, v->name));
    return it->second;
  }

  AccessCore access(const Access *a) {
    const TensorDecl *t = a->tensor.get();
    auto it = storage_.find(t);
    KCC_INTERNAL(it != storage_.end(),
                 fmt::format("error bound: stage '{}' reads tensor '{}' before it is defined", stage_, t->name));
    AccessCore c;
    c.tensor = t;
    c.store = &it->second;
    c.dims = t->shape;
    c.strides.assign(t->shape.size(), 1);
    for (size_t d = t->shape.size(); d-- > 1;) c.strides[d - 1] = c.strides[d] * t->shape[d];
    for (auto &i : a->indices) c.idx.push_back(compile_i(i));
    c.stage = stage_;
    return c;
  }

  BPtr compile_f_binary(const Binary *b, double u) {
    BPtr x = compile_f(b->a), y = compile_f(b->b);
    auto bin = [&](auto f) {
      return bnode([x = std::move(x), y = std::move(y), f](Slots s) {
        VE p = x->eval(s);  // left to right, as the interpreter
        return f(p, y->eval(s));
      });
    };
    switch (b->op) {
      case BinOp::Add: return bin([u](VE p, VE q) { double v = p.v + q.v; return VE{v, p.e + q.e + u * std::fabs(v)}; });
      case BinOp::Sub: return bin([u](VE p, VE q) { double v = p.v - q.v; return VE{v, p.e + q.e + u * std::fabs(v)}; });
      case BinOp::Mul:
        return bin([u](VE p, VE q) {
          double v = p.v * q.v;
          return VE{v, std::fabs(p.v) * q.e + std::fabs(q.v) * p.e + p.e * q.e + u * std::fabs(v)};
        });
      case BinOp::Div:
        return bin([u](VE p, VE q) {
          double v = p.v / q.v;
          double room = std::fabs(q.v) - q.e;
          return VE{v, room > 0 ? (p.e + std::fabs(v) * q.e) / room + u * std::fabs(v) : kInf};
        });
      case BinOp::Mod:
        return bin([u](VE p, VE q) {
          double v = p.v - std::floor(p.v / q.v) * q.v;
          double room = std::fabs(q.v) - q.e;
          if (!(room > 0)) return VE{v, kInf};
          double r = p.v / q.v, er = (p.e + std::fabs(r) * q.e) / room;
          if (std::floor(r - er) != std::floor(r + er)) return VE{v, std::fabs(q.v) + q.e + p.e};  // may wrap
          return VE{v, p.e + std::fabs(std::floor(r)) * q.e + 2 * u * (std::fabs(p.v) + std::fabs(v))};
        });
      case BinOp::Min: return bin([](VE p, VE q) { return VE{std::fmin(p.v, q.v), std::max(p.e, q.e)}; });
      case BinOp::Max: return bin([](VE p, VE q) { return VE{std::fmax(p.v, q.v), std::max(p.e, q.e)}; });
      case BinOp::EQ:
      case BinOp::NE:
      case BinOp::LT:
      case BinOp::LE:
      case BinOp::GT:
      case BinOp::GE:
      case BinOp::And:
      case BinOp::Or: break;
    }
    throw InternalError(fmt::format("error bound: '{}' does not produce a float", spelling(b->op)));
  }

  BPtr compile_call(const Call *c, ScalarKind k) {
    const MathFn fn = c->fn;
    const double u = unit(k);
    BPtr a = compile_f(c->args[0]);
    if (fn == MathFn::pow) {
      BPtr b = compile_f(c->args[1]);
      return bnode([a = std::move(a), b = std::move(b), k, u](Slots s) {
        VE x = a->eval(s);
        VE y = b->eval(s);
        const double v = std::pow(x.v, y.v);
        double dev = 0;  // pow is monotonic in each argument on its domain: the box's corners
        for (double dx : {-x.e, x.e})
          for (double dy : {-y.e, y.e}) dev = std::max(dev, std::fabs(std::pow(x.v + dx, y.v + dy) - v));
        if (std::isnan(dev)) dev = kInf;
        return VE{v, dev + approximation_error(MathFn::pow, k, v) + u * std::fabs(v)};
      });
    }
    double (*f)(double) = nullptr;
    switch (fn) {
      case MathFn::exp: f = [](double x) { return std::exp(x); }; break;
      case MathFn::log: f = [](double x) { return std::log(x); }; break;
      case MathFn::sqrt: f = [](double x) { return std::sqrt(x); }; break;
      case MathFn::rsqrt: f = [](double x) { return 1.0 / std::sqrt(x); }; break;
      case MathFn::tanh: f = [](double x) { return std::tanh(x); }; break;
      case MathFn::sigmoid: f = [](double x) { return sigmoid(x); }; break;
      case MathFn::erf: f = [](double x) { return std::erf(x); }; break;
      case MathFn::abs: f = [](double x) { return std::fabs(x); }; break;
      case MathFn::floor: f = [](double x) { return std::floor(x); }; break;
      case MathFn::ceil: f = [](double x) { return std::ceil(x); }; break;
      case MathFn::pow: break;
    }
    KCC_INTERNAL(f != nullptr, "error bound: unknown math function");
    const bool rounds = fn != MathFn::abs && fn != MathFn::floor && fn != MathFn::ceil;
    return bnode([a = std::move(a), f, fn, k, u, rounds](Slots s) {
      VE x = a->eval(s);
      const double v = f(x.v);
      // Every function here is monotonic (abs: 1-Lipschitz; floor, ceil: steps), so the
      // interval's ends bound the deviation. A NaN end (log, sqrt below 0) means no bound.
      double dev = fn == MathFn::abs ? x.e : std::max(std::fabs(f(x.v - x.e) - v), std::fabs(f(x.v + x.e) - v));
      if (std::isnan(dev)) dev = kInf;
      return VE{v, dev + approximation_error(fn, k, v) + (rounds ? u * std::fabs(v) : 0)};
    });
  }

  JPtr compile_i_binary(const Binary *b) {
    if (b->a.type().is_float()) {
      KCC_INTERNAL(is_comparison(b->op), "error bound: float operands of an integer operator");
      BPtr x = compile_f(b->a), y = compile_f(b->b);
      const BinOp op = b->op;
      return jnode([x = std::move(x), y = std::move(y), op](Slots s) {
        VE p = x->eval(s);
        VE q = y->eval(s);
        bool r = false;
        switch (op) {
          case BinOp::EQ: r = p.v == q.v; break;
          case BinOp::NE: r = p.v != q.v; break;
          case BinOp::LT: r = p.v < q.v; break;
          case BinOp::LE: r = p.v <= q.v; break;
          case BinOp::GT: r = p.v > q.v; break;
          case BinOp::GE: r = p.v >= q.v; break;
          default: break;
        }
        const double slack = p.e + q.e;  // the comparison could go the other way within it
        return IV{r ? 1 : 0, slack > 0 && !(std::fabs(p.v - q.v) > slack)};
      });
    }
    JPtr x = compile_i(b->a), y = compile_i(b->b);
    const ScalarKind k = b->type.kind;
    const BinOp op = b->op;
    const std::string stage = stage_;
    return jnode([x = std::move(x), y = std::move(y), k, op, stage](Slots s) {
      IV p = x->eval(s);
      IV q = y->eval(s);
      IV r{0, p.uncertain || q.uncertain};
      if ((op == BinOp::Div || op == BinOp::Mod) && q.v == 0)
        throw InternalError(fmt::format("error bound: stage '{}' divides by zero", stage));
      switch (op) {
        case BinOp::Add: r.v = wrap_int(k, p.v + q.v); break;
        case BinOp::Sub: r.v = wrap_int(k, p.v - q.v); break;
        case BinOp::Mul: r.v = wrap_int(k, p.v * q.v); break;
        case BinOp::Div: r.v = floor_div(p.v, q.v); break;
        case BinOp::Mod: r.v = floor_mod(p.v, q.v); break;
        case BinOp::Min: r.v = std::min(p.v, q.v); break;
        case BinOp::Max: r.v = std::max(p.v, q.v); break;
        case BinOp::EQ: r.v = p.v == q.v; break;
        case BinOp::NE: r.v = p.v != q.v; break;
        case BinOp::LT: r.v = p.v < q.v; break;
        case BinOp::LE: r.v = p.v <= q.v; break;
        case BinOp::GT: r.v = p.v > q.v; break;
        case BinOp::GE: r.v = p.v >= q.v; break;
        case BinOp::And: r.v = p.v && q.v; break;
        case BinOp::Or: r.v = p.v || q.v; break;
      }
      return r;
    });
  }

  const std::map<const TensorDecl *, Store> &storage_;
  const std::map<const Variable *, int> &slots_;
  const std::string &stage_;
};

bool advance(std::vector<int64_t> &idx, size_t first, const std::vector<int64_t> &extents) {
  for (size_t d = extents.size(); d-- > 0;) {
    if (++idx[first + d] < extents[d]) return true;
    idx[first + d] = 0;
  }
  return false;
}

bool is_float_kind(ScalarKind k) {
  return k == ScalarKind::F32 || k == ScalarKind::F16 || k == ScalarKind::BF16 || k == ScalarKind::F64;
}

void run_stage(const Stage &st, std::map<const TensorDecl *, Store> &storage) {
  const TensorDecl *out = st.output.get();
  std::map<const Variable *, int> slots;
  std::vector<int64_t> sp_ext, r_ext;
  for (auto &a : st.axes) {
    slots[a.var.get()] = static_cast<int>(slots.size());
    sp_ext.push_back(a.extent);
  }
  for (auto &a : st.raxes) {
    slots[a.var.get()] = static_cast<int>(slots.size());
    r_ext.push_back(a.extent);
  }
  KCC_INTERNAL(slots.size() == st.axes.size() + st.raxes.size(), "error bound: stage '" + out->name + "' repeats an axis");
  StageCompiler sc(storage, slots, out->name);
  BPtr fbody;
  JPtr ibody;
  if (st.body.type().is_float()) fbody = sc.compile_f(st.body);
  else ibody = sc.compile_i(st.body);
  auto value = [&](Slots s) {
    if (fbody) return fbody->eval(s);
    IV i = ibody->eval(s);
    return VE{static_cast<double>(i.v), i.uncertain ? kInf : 0};
  };
  const ScalarKind k = out->elem;
  const bool is_float = is_float_kind(k);
  const double u = unit(k);
  const bool narrowing = u > unit(st.body.type().kind);
  auto store = [&](VE x) {
    if (!is_float) return VE{static_cast<double>(to_int(k, x.v)), to_int_bounded(k, x).uncertain ? kInf : 0};
    if (narrowing) x.e += u * std::fabs(x.v);
    return x;
  };

  Store &dst = storage[out];
  const size_t n_out = static_cast<size_t>(out->num_elements());
  dst.v.assign(n_out, 0.0);
  dst.e.assign(n_out, 0.0);
  if (n_out == 0) return;
  double terms = 1;
  for (int64_t e : r_ext) terms *= static_cast<double>(e);
  if (st.reduce != ReduceOp::None && terms <= 0) {
    dst.v.assign(n_out, store(VE{reduce_identity_value(st.reduce, k), 0}).v);
    return;
  }
  const double g = gamma(terms - 1, u);
  std::vector<int64_t> idx(slots.size(), 0);
  const size_t first_r = st.axes.size();
  size_t n = 0;
  do {
    VE r;
    switch (st.reduce) {
      case ReduceOp::None: r = value(idx.data()); break;
      case ReduceOp::Sum: {
        double acc = 0, err = 0, mag = 0;
        do {
          VE x = value(idx.data());
          acc += x.v;
          err += x.e;
          mag += std::fabs(x.v);
        } while (advance(idx, first_r, r_ext));
        r = {acc, err + g * mag};
        break;
      }
      case ReduceOp::Max:
      case ReduceOp::Min: {
        const bool is_max = st.reduce == ReduceOp::Max;
        r = {is_max ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity(), 0};
        do {
          VE x = value(idx.data());
          r.v = is_max ? std::fmax(r.v, x.v) : std::fmin(r.v, x.v);
          r.e = std::max(r.e, x.e);
        } while (advance(idx, first_r, r_ext));
        break;
      }
      case ReduceOp::Prod: {
        r = {1, 0};
        do {
          VE x = value(idx.data());
          r = {r.v * x.v, std::fabs(r.v) * x.e + std::fabs(x.v) * r.e + r.e * x.e};
        } while (advance(idx, first_r, r_ext));
        r.e += g * std::fabs(r.v);
        break;
      }
    }
    VE s = store(r);
    dst.v[n] = s.v;
    dst.e[n] = s.e;
    ++n;
  } while (advance(idx, 0, sp_ext));
}

}  // namespace

BoundedReference bounded_reference(const Kernel &k, const std::vector<std::vector<float>> &inputs) {
  if (inputs.size() != k.inputs.size())
    throw UserError(SourceLoc{}, fmt::format("kernel '{}' takes {} inputs but {} were given", k.name, k.inputs.size(),
                                             inputs.size()));
  std::map<const TensorDecl *, Store> storage;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorDecl &t = *k.inputs[i];
    if (static_cast<int64_t>(inputs[i].size()) != t.num_elements())
      throw UserError(SourceLoc{}, fmt::format("input '{}' of kernel '{}' has {} elements but needs {}", t.name, k.name,
                                               inputs[i].size(), t.num_elements()));
    Store &s = storage[&t];
    for (float x : inputs[i]) s.v.push_back(is_float_kind(t.elem) ? static_cast<double>(x) : static_cast<double>(to_int(t.elem, x)));
    s.e.assign(s.v.size(), 0.0);
  }
  for (auto &st : k.stages) run_stage(st, storage);
  BoundedReference r;
  for (auto &o : k.outputs) {
    auto it = storage.find(o.get());
    KCC_INTERNAL(it != storage.end(), "error bound: output '" + o->name + "' is not defined by any stage");
    r.values.push_back(it->second.v);
    r.bounds.push_back(it->second.e);
  }
  return r;
}

double tolerance_of(double bound) { return kBoundSafetyFactor * bound + kBoundFloor; }

bool within_bound(double got, double want, double bound) {
  if (got == want) return true;
  if (!(bound < kInf)) return true;  // inf or NaN: no bound, any value is right
  return std::fabs(got - want) <= tolerance_of(bound);
}

}  // namespace kcc::tuner
