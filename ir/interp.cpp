// ir/interp.cpp - the reference interpreter.
//
// Each stage's body is compiled once into a tree of small typed evaluators ("closures"): a
// float tree (FNode, values as double) and an integer tree (INode, values as int64; bools are
// 0/1). Evaluating a point is then a few virtual calls, with no shared_ptr traffic or node
// kind dispatch. Index expressions that are affine in the stage's variables (nearly all of
// them) are compiled into a flat list of (slot, coefficient) pairs.
//
// Storage: every tensor (inputs, intermediates, outputs) is a dense row-major vector<double>
// allocated before any stage runs, so compiled accesses hold stable pointers.
//
// Precision: F64 evaluates all float arithmetic in double. Declared rounds the result of every
// float operation, every load of an input and every stored stage result to the element type
// (f32, f16, bf16; f64 is not rounded). Integer tensors always hold integers.
#include "ir/interp.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <utility>

#include "ir/diag.h"

namespace kcc {
namespace {

// ---------------------------------------------------------------- rounding to element types

/// Rounds `x` to a binary float with `p` significant bits, minimum normal exponent `emin`
/// and largest finite value `maxval` (round to nearest even, overflow to infinity).
double round_to_format(double x, int p, int emin, double maxval) {
  if (!std::isfinite(x) || x == 0) return x;
  int e;
  std::frexp(x, &e);  // x = m * 2^e, |m| in [0.5, 1)
  int lead = std::max(e - 1, emin);
  double quantum = std::ldexp(1.0, lead - (p - 1));
  double r = std::nearbyint(x / quantum) * quantum;
  if (std::fabs(r) > maxval) return std::copysign(HUGE_VAL, x);
  return r;
}

double round_to(ScalarKind k, double x) {
  switch (k) {
    case ScalarKind::F32: return static_cast<double>(static_cast<float>(x));
    case ScalarKind::F16: return round_to_format(x, 11, -14, 65504.0);
    case ScalarKind::BF16: return round_to_format(x, 8, -126, 3.3895313892515355e38);
    case ScalarKind::F64: return x;
    case ScalarKind::I8:
    case ScalarKind::I32:
    case ScalarKind::I64:
    case ScalarKind::Bool: return x;
  }
  return x;
}


bool is_float_kind(ScalarKind k) {
  return k == ScalarKind::F32 || k == ScalarKind::F16 || k == ScalarKind::BF16 || k == ScalarKind::F64;
}

/// Converts a stored double to an integer of kind `k` (float -> int truncates toward zero).
int64_t to_int(ScalarKind k, double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9.2233720368547758e18) return wrap_int(k, INT64_MAX);
  if (v <= -9.2233720368547758e18) return wrap_int(k, INT64_MIN);
  return wrap_int(k, static_cast<int64_t>(v));
}


// ---------------------------------------------------------------- compiled evaluators

/// Values of the stage's variables, indexed by slot.
using Slots = const int64_t *;

struct FNode {
  virtual ~FNode() = default;
  virtual double eval(Slots v) const = 0;
};
struct INode {
  virtual ~INode() = default;
  virtual int64_t eval(Slots v) const = 0;
};
using FPtr = std::unique_ptr<FNode>;
using IPtr = std::unique_ptr<INode>;

struct FConst : FNode {
  double c;
  explicit FConst(double x) : c(x) {}
  double eval(Slots) const override { return c; }
};
struct IConst : INode {
  int64_t c;
  explicit IConst(int64_t x) : c(x) {}
  int64_t eval(Slots) const override { return c; }
};
struct IVar : INode {
  int slot;
  explicit IVar(int s) : slot(s) {}
  int64_t eval(Slots v) const override { return v[slot]; }
};
/// c0 + sum(coef * v[slot]): an affine index expression.
struct IAffine : INode {
  int64_t c0 = 0;
  std::vector<std::pair<int, int64_t>> terms;
  int64_t eval(Slots v) const override {
    int64_t r = c0;
    for (auto &[s, c] : terms) r += c * v[s];
    return r;
  }
};

template <class F>
struct FUn : FNode {
  FPtr a;
  F f;
  FUn(FPtr x, F fn) : a(std::move(x)), f(fn) {}
  double eval(Slots v) const override { return f(a->eval(v)); }
};
template <class F>
struct FBin : FNode {
  FPtr a, b;
  F f;
  FBin(FPtr x, FPtr y, F fn) : a(std::move(x)), b(std::move(y)), f(fn) {}
  double eval(Slots v) const override {
    double x = a->eval(v);  // left to right
    return f(x, b->eval(v));
  }
};
template <class F>
struct IUn : INode {
  IPtr a;
  F f;
  IUn(IPtr x, F fn) : a(std::move(x)), f(fn) {}
  int64_t eval(Slots v) const override { return f(a->eval(v)); }
};
template <class F>
struct IBin : INode {
  IPtr a, b;
  F f;
  IBin(IPtr x, IPtr y, F fn) : a(std::move(x)), b(std::move(y)), f(fn) {}
  int64_t eval(Slots v) const override {
    int64_t x = a->eval(v);
    return f(x, b->eval(v));
  }
};
/// Float comparison producing a bool.
template <class F>
struct FCmp : INode {
  FPtr a, b;
  F f;
  FCmp(FPtr x, FPtr y, F fn) : a(std::move(x)), b(std::move(y)), f(fn) {}
  int64_t eval(Slots v) const override {
    double x = a->eval(v);
    return f(x, b->eval(v)) ? 1 : 0;
  }
};
struct FRound : FNode {
  FPtr a;
  ScalarKind k;
  FRound(FPtr x, ScalarKind kind) : a(std::move(x)), k(kind) {}
  double eval(Slots v) const override { return round_to(k, a->eval(v)); }
};
struct FRoundF32 : FNode {
  FPtr a;
  explicit FRoundF32(FPtr x) : a(std::move(x)) {}
  double eval(Slots v) const override { return static_cast<float>(a->eval(v)); }
};
struct FFromInt : FNode {
  IPtr a;
  explicit FFromInt(IPtr x) : a(std::move(x)) {}
  double eval(Slots v) const override { return static_cast<double>(a->eval(v)); }
};
struct IFromFloat : INode {
  FPtr a;
  ScalarKind k;
  IFromFloat(FPtr x, ScalarKind kind) : a(std::move(x)), k(kind) {}
  int64_t eval(Slots v) const override { return to_int(k, a->eval(v)); }
};
struct FSelect : FNode {
  IPtr c;
  FPtr t, f;
  FSelect(IPtr x, FPtr y, FPtr z) : c(std::move(x)), t(std::move(y)), f(std::move(z)) {}
  double eval(Slots v) const override { return c->eval(v) ? t->eval(v) : f->eval(v); }
};
struct ISelect : INode {
  IPtr c, t, f;
  ISelect(IPtr x, IPtr y, IPtr z) : c(std::move(x)), t(std::move(y)), f(std::move(z)) {}
  int64_t eval(Slots v) const override { return c->eval(v) ? t->eval(v) : f->eval(v); }
};

/// Reads a tensor at multi-dimensional indices, checking each against the shape.
struct AccessCore {
  const TensorDecl *tensor = nullptr;
  const double *data = nullptr;
  std::vector<int64_t> dims, strides;
  std::vector<IPtr> idx;
  const std::string *stage = nullptr;

  const double &at(Slots v) const {
    int64_t off = 0;
    for (size_t d = 0; d < idx.size(); ++d) {
      int64_t i = idx[d]->eval(v);
      if (static_cast<uint64_t>(i) >= static_cast<uint64_t>(dims[d])) fail(v);
      off += i * strides[d];
    }
    return data[off];
  }
  [[noreturn]] void fail(Slots v) const {
    std::string where, shape;
    for (size_t d = 0; d < idx.size(); ++d) {
      where += (d ? ", " : "") + std::to_string(idx[d]->eval(v));
      shape += (d ? ", " : "") + std::to_string(dims[d]);
    }
    throw InternalError(fmt::format("interpreter: stage '{}' reads {}[{}], outside its shape [{}]", *stage,
                                    tensor->name, where, shape));
  }
};
struct FAccess : FNode {
  AccessCore a;
  double eval(Slots v) const override { return a.at(v); }
};
struct IAccess : INode {
  AccessCore a;
  ScalarKind k;
  int64_t eval(Slots v) const override { return to_int(k, a.at(v)); }
};

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// ---------------------------------------------------------------- the compiler

/// Compiles one stage's body against the tensor storage and the stage's variable slots.
class StageCompiler {
 public:
  StageCompiler(const std::map<const TensorDecl *, std::vector<double>> &storage,
                const std::map<const Variable *, int> &slots, const std::string &stage, bool declared)
      : storage_(storage), slots_(slots), stage_(stage), declared_(declared) {}

  FPtr compile_f(const Expr &e) {
    FPtr r = compile_f_raw(e);
    // Declared precision: every float result is rounded to its element type.
    if (!declared_ || e.as<Access>() || e.as<FloatImm>() || e.as<Select>()) return r;
    switch (e.type().kind) {
      case ScalarKind::F32: return std::make_unique<FRoundF32>(std::move(r));
      case ScalarKind::F16:
      case ScalarKind::BF16: return std::make_unique<FRound>(std::move(r), e.type().kind);
      case ScalarKind::F64:
      case ScalarKind::I8:
      case ScalarKind::I32:
      case ScalarKind::I64:
      case ScalarKind::Bool: return r;
    }
    return r;
  }

  IPtr compile_i(const Expr &e) {
    KCC_INTERNAL(!e.type().is_float(), "interpreter: float expression used as integer: " + to_string(e));
    if (auto aff = try_affine(e)) return aff;
    return compile_i_raw(e);
  }

 private:
  [[noreturn]] void unsupported(const Expr &e) {
    throw InternalError(fmt::format("interpreter: stage '{}': {} nodes are not part of kernel definitions ({})",
                                    stage_, to_string(e.kind()), to_string(e)));
  }

  int slot_of(const Variable *v) {
    auto it = slots_.find(v);
    KCC_INTERNAL(it != slots_.end(),
                 fmt::format("interpreter: stage '{}' uses variable '{}' that is not one of its axes", stage_,
                             v->name));
    return it->second;
  }

  /// Collects an affine form; false if `e` is not affine in the stage variables.
  bool affine(const Expr &e, int64_t scale, IAffine &out) {
    if (!e.type().is_int() || e.type().lanes != 1) return false;
    if (auto *i = e.as<IntImm>()) {
      out.c0 += scale * i->value;
      return true;
    }
    if (auto *v = e.as<Variable>()) {
      int s = slot_of(v);
      for (auto &t : out.terms)
        if (t.first == s) {
          t.second += scale;
          return true;
        }
      out.terms.emplace_back(s, scale);
      return true;
    }
    if (auto *u = e.as<Unary>()) return u->op == UnOp::Neg && affine(u->a, -scale, out);
    if (auto *b = e.as<Binary>()) {
      int64_t c;
      switch (b->op) {
        case BinOp::Add: return affine(b->a, scale, out) && affine(b->b, scale, out);
        case BinOp::Sub: return affine(b->a, scale, out) && affine(b->b, -scale, out);
        case BinOp::Mul:
          if (is_const_int(b->b, &c)) return affine(b->a, scale * c, out);
          if (is_const_int(b->a, &c)) return affine(b->b, scale * c, out);
          return false;
        default: return false;
      }
    }
    return false;
  }

  IPtr try_affine(const Expr &e) {
    // Only worth it (and only i64 is free of wrapping) for i64 expressions with a variable.
    if (e.type() != Type::i64() || e.as<IntImm>()) return nullptr;
    auto out = std::make_unique<IAffine>();
    if (!affine(e, 1, *out)) return nullptr;
    if (out->terms.size() == 1 && out->terms[0].second == 1 && out->c0 == 0)
      return std::make_unique<IVar>(out->terms[0].first);
    return out;
  }

  void compile_access(const Access *a, AccessCore &core) {
    const TensorDecl *t = a->tensor.get();
    auto it = storage_.find(t);
    KCC_INTERNAL(it != storage_.end(),
                 fmt::format("interpreter: stage '{}' reads tensor '{}' before it is defined", stage_, t->name));
    KCC_INTERNAL(a->indices.size() == t->shape.size(),
                 fmt::format("interpreter: stage '{}' indexes '{}' (rank {}) with {} subscripts", stage_, t->name,
                             t->shape.size(), a->indices.size()));
    core.tensor = t;
    core.data = it->second.data();
    core.stage = &stage_;
    core.dims = t->shape;
    core.strides.assign(t->shape.size(), 1);
    for (size_t d = t->shape.size(); d-- > 1;) core.strides[d - 1] = core.strides[d] * t->shape[d];
    for (auto &i : a->indices) core.idx.push_back(compile_i(i));
  }

  FPtr compile_f_raw(const Expr &e) {
    KCC_INTERNAL(e.type().lanes == 1, "interpreter: vector expression in a kernel definition");
    switch (e.kind()) {
      case ExprKind::FloatImm: {
        double c = e.as<FloatImm>()->value;
        return std::make_unique<FConst>(declared_ ? round_to(e.type().kind, c) : c);
      }
      case ExprKind::Cast: {
        const Expr &v = e.as<Cast>()->value;
        if (v.type().is_float()) return compile_f(v);  // rounding (if any) applied by compile_f
        return std::make_unique<FFromInt>(compile_i(v));
      }
      case ExprKind::Unary: {
        auto *u = e.as<Unary>();
        KCC_INTERNAL(u->op == UnOp::Neg, "interpreter: 'not' of a float");
        return make_fun(compile_f(u->a), [](double x) { return -x; });
      }
      case ExprKind::Binary: return compile_f_binary(e.as<Binary>());
      case ExprKind::Select: {
        auto *s = e.as<Select>();
        IPtr c = compile_i(s->cond);
        FPtr t = compile_f(s->t);
        return std::make_unique<FSelect>(std::move(c), std::move(t), compile_f(s->f));
      }
      case ExprKind::Call: return compile_call(e.as<Call>());
      case ExprKind::Access: {
        auto n = std::make_unique<FAccess>();
        compile_access(e.as<Access>(), n->a);
        return n;
      }
      case ExprKind::IntImm:
      case ExprKind::Variable:
      case ExprKind::Load:
      case ExprKind::Ramp:
      case ExprKind::Broadcast: unsupported(e);
    }
    unsupported(e);
  }

  template <class F>
  static FPtr make_fun(FPtr a, F f) {
    return std::make_unique<FUn<F>>(std::move(a), f);
  }
  template <class F>
  static FPtr make_fbin(FPtr a, FPtr b, F f) {
    return std::make_unique<FBin<F>>(std::move(a), std::move(b), f);
  }
  template <class F>
  static IPtr make_ibin(IPtr a, IPtr b, F f) {
    return std::make_unique<IBin<F>>(std::move(a), std::move(b), f);
  }
  template <class F>
  static IPtr make_fcmp(FPtr a, FPtr b, F f) {
    return std::make_unique<FCmp<F>>(std::move(a), std::move(b), f);
  }

  FPtr compile_f_binary(const Binary *b) {
    FPtr x = compile_f(b->a);
    FPtr y = compile_f(b->b);
    switch (b->op) {
      case BinOp::Add: return make_fbin(std::move(x), std::move(y), [](double p, double q) { return p + q; });
      case BinOp::Sub: return make_fbin(std::move(x), std::move(y), [](double p, double q) { return p - q; });
      case BinOp::Mul: return make_fbin(std::move(x), std::move(y), [](double p, double q) { return p * q; });
      case BinOp::Div: return make_fbin(std::move(x), std::move(y), [](double p, double q) { return p / q; });
      case BinOp::Mod:
        return make_fbin(std::move(x), std::move(y), [](double p, double q) { return p - std::floor(p / q) * q; });
      case BinOp::Min: return make_fbin(std::move(x), std::move(y), [](double p, double q) { return std::fmin(p, q); });
      case BinOp::Max: return make_fbin(std::move(x), std::move(y), [](double p, double q) { return std::fmax(p, q); });
      case BinOp::EQ:
      case BinOp::NE:
      case BinOp::LT:
      case BinOp::LE:
      case BinOp::GT:
      case BinOp::GE:
      case BinOp::And:
      case BinOp::Or: break;
    }
    throw InternalError(fmt::format("interpreter: '{}' does not produce a float", spelling(b->op)));
  }

  FPtr compile_call(const Call *c) {
    FPtr a = compile_f(c->args[0]);
    switch (c->fn) {
      case MathFn::exp: return make_fun(std::move(a), [](double x) { return std::exp(x); });
      case MathFn::log: return make_fun(std::move(a), [](double x) { return std::log(x); });
      case MathFn::sqrt: return make_fun(std::move(a), [](double x) { return std::sqrt(x); });
      case MathFn::rsqrt: return make_fun(std::move(a), [](double x) { return 1.0 / std::sqrt(x); });
      case MathFn::tanh: return make_fun(std::move(a), [](double x) { return std::tanh(x); });
      case MathFn::sigmoid: return make_fun(std::move(a), [](double x) { return sigmoid(x); });
      case MathFn::erf: return make_fun(std::move(a), [](double x) { return std::erf(x); });
      case MathFn::abs: return make_fun(std::move(a), [](double x) { return std::fabs(x); });
      case MathFn::floor: return make_fun(std::move(a), [](double x) { return std::floor(x); });
      case MathFn::ceil: return make_fun(std::move(a), [](double x) { return std::ceil(x); });
      case MathFn::pow:
        return make_fbin(std::move(a), compile_f(c->args[1]), [](double x, double y) { return std::pow(x, y); });
    }
    throw InternalError("interpreter: unknown math function");
  }

  IPtr compile_i_raw(const Expr &e) {
    KCC_INTERNAL(e.type().lanes == 1, "interpreter: vector expression in a kernel definition");
    ScalarKind k = e.type().kind;
    switch (e.kind()) {
      case ExprKind::IntImm: return std::make_unique<IConst>(e.as<IntImm>()->value);
      case ExprKind::Variable: return std::make_unique<IVar>(slot_of(e.as<Variable>()));
      case ExprKind::Cast: {
        const Expr &v = e.as<Cast>()->value;
        if (v.type().is_float()) return std::make_unique<IFromFloat>(compile_f(v), k);
        auto f = [k](int64_t p) { return wrap_int(k, p); };
        return std::make_unique<IUn<decltype(f)>>(compile_i(v), f);
      }
      case ExprKind::Unary: {
        auto *u = e.as<Unary>();
        IPtr x = compile_i(u->a);
        if (u->op == UnOp::Not) {
          auto f = [](int64_t p) -> int64_t { return p ? 0 : 1; };
          return std::make_unique<IUn<decltype(f)>>(std::move(x), f);
        }
        auto f = [](int64_t p) -> int64_t { return -p; };
        return std::make_unique<IUn<decltype(f)>>(std::move(x), f);
      }
      case ExprKind::Binary: return compile_i_binary(e.as<Binary>());
      case ExprKind::Select: {
        auto *s = e.as<Select>();
        IPtr c = compile_i(s->cond);
        IPtr t = compile_i(s->t);
        return std::make_unique<ISelect>(std::move(c), std::move(t), compile_i(s->f));
      }
      case ExprKind::Call: {
        auto *c = e.as<Call>();
        IPtr x = compile_i(c->args[0]);
        switch (c->fn) {
          case MathFn::abs: {
            auto f = [](int64_t p) -> int64_t { return p < 0 ? -p : p; };
            return std::make_unique<IUn<decltype(f)>>(std::move(x), f);
          }
          case MathFn::floor:
          case MathFn::ceil: return x;
          case MathFn::exp:
          case MathFn::log:
          case MathFn::sqrt:
          case MathFn::rsqrt:
          case MathFn::tanh:
          case MathFn::sigmoid:
          case MathFn::erf:
          case MathFn::pow: break;
        }
        throw InternalError(fmt::format("interpreter: {} of an integer", to_string(c->fn)));
      }
      case ExprKind::Access: {
        auto n = std::make_unique<IAccess>();
        compile_access(e.as<Access>(), n->a);
        n->k = k;
        return n;
      }
      case ExprKind::FloatImm:
      case ExprKind::Load:
      case ExprKind::Ramp:
      case ExprKind::Broadcast: unsupported(e);
    }
    unsupported(e);
  }

  IPtr compile_i_binary(const Binary *b) {
    if (b->a.type().is_float()) {
      KCC_INTERNAL(is_comparison(b->op), "interpreter: float operands of an integer operator");
      FPtr x = compile_f(b->a);
      FPtr y = compile_f(b->b);
      switch (b->op) {
        case BinOp::EQ: return make_fcmp(std::move(x), std::move(y), [](double p, double q) { return p == q; });
        case BinOp::NE: return make_fcmp(std::move(x), std::move(y), [](double p, double q) { return p != q; });
        case BinOp::LT: return make_fcmp(std::move(x), std::move(y), [](double p, double q) { return p < q; });
        case BinOp::LE: return make_fcmp(std::move(x), std::move(y), [](double p, double q) { return p <= q; });
        case BinOp::GT: return make_fcmp(std::move(x), std::move(y), [](double p, double q) { return p > q; });
        case BinOp::GE: return make_fcmp(std::move(x), std::move(y), [](double p, double q) { return p >= q; });
        default: throw InternalError("interpreter: unreachable float comparison");
      }
    }
    IPtr x = compile_i(b->a);
    IPtr y = compile_i(b->b);
    ScalarKind k = b->type.kind;
    const std::string *stage = &stage_;
    auto check_div = [stage](int64_t q) {
      if (q == 0) throw InternalError(fmt::format("interpreter: stage '{}' divides by zero", *stage));
    };
    switch (b->op) {
      case BinOp::Add:
        return make_ibin(std::move(x), std::move(y), [k](int64_t p, int64_t q) { return wrap_int(k, p + q); });
      case BinOp::Sub:
        return make_ibin(std::move(x), std::move(y), [k](int64_t p, int64_t q) { return wrap_int(k, p - q); });
      case BinOp::Mul:
        return make_ibin(std::move(x), std::move(y), [k](int64_t p, int64_t q) { return wrap_int(k, p * q); });
      case BinOp::Div:
        return make_ibin(std::move(x), std::move(y), [check_div](int64_t p, int64_t q) {
          check_div(q);
          return floor_div(p, q);
        });
      case BinOp::Mod:
        return make_ibin(std::move(x), std::move(y), [check_div](int64_t p, int64_t q) {
          check_div(q);
          return floor_mod(p, q);
        });
      case BinOp::Min: return make_ibin(std::move(x), std::move(y), [](int64_t p, int64_t q) { return std::min(p, q); });
      case BinOp::Max: return make_ibin(std::move(x), std::move(y), [](int64_t p, int64_t q) { return std::max(p, q); });
      case BinOp::EQ: return make_ibin(std::move(x), std::move(y), [](int64_t p, int64_t q) -> int64_t { return p == q; });
      case BinOp::NE: return make_ibin(std::move(x), std::move(y), [](int64_t p, int64_t q) -> int64_t { return p != q; });
      case BinOp::LT: return make_ibin(std::move(x), std::move(y), [](int64_t p, int64_t q) -> int64_t { return p < q; });
      case BinOp::LE: return make_ibin(std::move(x), std::move(y), [](int64_t p, int64_t q) -> int64_t { return p <= q; });
      case BinOp::GT: return make_ibin(std::move(x), std::move(y), [](int64_t p, int64_t q) -> int64_t { return p > q; });
      case BinOp::GE: return make_ibin(std::move(x), std::move(y), [](int64_t p, int64_t q) -> int64_t { return p >= q; });
      case BinOp::And:
        return make_ibin(std::move(x), std::move(y), [](int64_t p, int64_t q) -> int64_t { return p && q; });
      case BinOp::Or:
        return make_ibin(std::move(x), std::move(y), [](int64_t p, int64_t q) -> int64_t { return p || q; });
    }
    throw InternalError("interpreter: unknown binary operator");
  }

  const std::map<const TensorDecl *, std::vector<double>> &storage_;
  const std::map<const Variable *, int> &slots_;
  const std::string &stage_;
  bool declared_;
};

/// Advances `idx` (row-major odometer over `extents`, slots [first, first + n)); false at the end.
bool advance(std::vector<int64_t> &idx, size_t first, const std::vector<int64_t> &extents) {
  for (size_t d = extents.size(); d-- > 0;) {
    if (++idx[first + d] < extents[d]) return true;
    idx[first + d] = 0;
  }
  return false;
}

double combine(ReduceOp op, double acc, double x) {
  switch (op) {
    case ReduceOp::Sum: return acc + x;
    case ReduceOp::Max: return std::fmax(acc, x);
    case ReduceOp::Min: return std::fmin(acc, x);
    case ReduceOp::Prod: return acc * x;
    case ReduceOp::None: return x;
  }
  return x;
}

void run_stage(const Stage &st, std::map<const TensorDecl *, std::vector<double>> &storage, bool declared) {
  const TensorDecl *out = st.output.get();
  const std::string &name = out->name;
  KCC_INTERNAL(st.axes.size() == out->shape.size(),
               fmt::format("interpreter: stage '{}' has {} axes for a rank-{} tensor", name, st.axes.size(),
                           out->shape.size()));
  for (size_t d = 0; d < st.axes.size(); ++d)
    KCC_INTERNAL(st.axes[d].extent == out->shape[d],
                 fmt::format("interpreter: stage '{}' axis '{}' has extent {} but the tensor dimension is {}", name,
                             st.axes[d].var->name, st.axes[d].extent, out->shape[d]));
  KCC_INTERNAL(st.reduce != ReduceOp::None || st.raxes.empty(),
               "interpreter: stage '" + name + "' has reduction axes but no reduction");

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
  // Slots are assigned in axis order; a variable listed twice would break that.
  KCC_INTERNAL(slots.size() == st.axes.size() + st.raxes.size(), "interpreter: stage '" + name + "' repeats an axis");

  StageCompiler sc(storage, slots, name, declared);
  ScalarKind k = out->elem;
  bool is_float = is_float_kind(k);
  FPtr fbody;
  IPtr ibody;
  if (st.body.type().is_float()) fbody = sc.compile_f(st.body);
  else ibody = sc.compile_i(st.body);
  auto value = [&](Slots v) { return fbody ? fbody->eval(v) : static_cast<double>(ibody->eval(v)); };
  auto store = [&](double x) {
    if (!is_float) return static_cast<double>(to_int(k, x));
    return declared ? round_to(k, x) : x;
  };
  bool round_acc = declared && is_float;

  std::vector<double> &dst = storage[out];  // after compiling: a stage cannot read itself
  dst.assign(static_cast<size_t>(out->num_elements()), 0.0);
  if (dst.empty()) return;
  for (int64_t e : r_ext)
    if (e <= 0) {  // empty reduction: every point is the identity
      dst.assign(dst.size(), store(reduce_identity_value(st.reduce, k)));
      return;
    }

  std::vector<int64_t> idx(slots.size(), 0);
  size_t first_r = st.axes.size();
  size_t n = 0;
  do {
    if (st.reduce == ReduceOp::None) {
      dst[n++] = store(value(idx.data()));
      continue;
    }
    // Folded from the first term: the reference never depends on the identity the compiler
    // starts its accumulators from (only an empty reduction, above, is its identity).
    double acc = value(idx.data());
    if (round_acc) acc = round_to(k, acc);
    while (advance(idx, first_r, r_ext)) {
      acc = combine(st.reduce, acc, value(idx.data()));
      if (round_acc) acc = round_to(k, acc);
    }
    dst[n++] = store(acc);
  } while (advance(idx, 0, sp_ext));
}

std::string shape_text(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

std::vector<std::vector<double>> interpret(const Kernel &k, const std::vector<std::vector<float>> &inputs,
                                           InterpPrecision p) {
  std::vector<std::vector<double>> wide;
  for (auto &v : inputs) wide.emplace_back(v.begin(), v.end());
  return interpret_doubles(k, wide, p);
}

std::vector<std::vector<double>> interpret_doubles(const Kernel &k, const std::vector<std::vector<double>> &inputs,
                                                   InterpPrecision p) {
  if (inputs.size() != k.inputs.size())
    throw UserError(SourceLoc{}, fmt::format("kernel '{}' takes {} inputs but {} were given", k.name,
                                             k.inputs.size(), inputs.size()));
  bool declared = p == InterpPrecision::Declared;
  std::map<const TensorDecl *, std::vector<double>> storage;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorDecl &t = *k.inputs[i];
    if (static_cast<int64_t>(inputs[i].size()) != t.num_elements())
      throw UserError(SourceLoc{}, fmt::format("input '{}' of kernel '{}' has {} elements but its shape {} needs {}",
                                               t.name, k.name, inputs[i].size(), shape_text(t.shape),
                                               t.num_elements()));
    std::vector<double> &d = storage[&t];
    d.reserve(inputs[i].size());
    for (double v : inputs[i]) {
      if (!is_float_kind(t.elem)) v = static_cast<double>(to_int(t.elem, v));
      else if (declared) v = round_to(t.elem, v);
      d.push_back(v);
    }
  }
  // A stage is compiled against the tensors defined so far (reading a later one is an internal
  // error); std::map keeps their storage in place as later tensors are added.
  std::map<const TensorDecl *, bool> defined;
  for (auto &in : k.inputs) defined[in.get()] = true;
  for (auto &st : k.stages) {
    KCC_INTERNAL(st.output != nullptr, "interpreter: stage without an output tensor");
    KCC_INTERNAL(!defined.count(st.output.get()), "interpreter: tensor '" + st.output->name + "' defined twice");
    defined[st.output.get()] = true;
    run_stage(st, storage, declared);
  }
  std::vector<std::vector<double>> result;
  for (auto &o : k.outputs) {
    auto it = storage.find(o.get());
    KCC_INTERNAL(it != storage.end(), "interpreter: output '" + o->name + "' is not defined by any stage");
    result.push_back(it->second);
  }
  return result;
}

std::vector<std::vector<double>> interpret_model(const Module &m, const ModelDecl &model,
                                                 const std::vector<std::vector<double>> &inputs,
                                                 const std::vector<std::vector<double>> &weights, InterpPrecision p) {
  auto check_count = [&](const char *what, size_t want, size_t got) {
    if (want != got)
      throw UserError(SourceLoc{}, fmt::format("model '{}' takes {} {} but {} were given", model.name, want, what, got));
  };
  check_count("inputs", model.inputs.size(), inputs.size());
  check_count("weights", model.weights.size(), weights.size());
  std::map<std::string, std::vector<double>> values;
  for (size_t i = 0; i < inputs.size(); ++i) values[model.inputs[i].name] = inputs[i];
  for (size_t i = 0; i < weights.size(); ++i) values[model.weights[i].tensor.name] = weights[i];
  for (const ModelCall &c : model.calls) {
    const Kernel *k = m.find_kernel(c.kernel);
    KCC_INTERNAL(k, fmt::format("model '{}' calls unknown kernel '{}'", model.name, c.kernel));
    std::vector<std::vector<double>> args;
    for (auto &a : c.args) {
      auto it = values.find(a);
      KCC_INTERNAL(it != values.end(), fmt::format("model '{}' reads '{}' before defining it", model.name, a));
      args.push_back(it->second);  // interpret_doubles checks the sizes
    }
    auto results = interpret_doubles(*k, args, p);
    for (size_t i = 0; i < c.results.size(); ++i) values[c.results[i]] = std::move(results.at(i));
  }
  std::vector<std::vector<double>> out;
  for (auto &o : model.outputs) out.push_back(values.at(o.name));
  return out;
}

std::vector<std::vector<float>> random_inputs(const Kernel &k, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<std::vector<float>> in;
  for (auto &t : k.inputs) {
    std::vector<float> v(static_cast<size_t>(t->num_elements()));
    for (auto &x : v) x = dist(rng);
    in.push_back(std::move(v));
  }
  return in;
}

}  // namespace kcc
