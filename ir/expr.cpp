#include "ir/expr.h"

#include <fmt/format.h>

#include <cmath>
#include <sstream>

#include "ir/diag.h"
#include "ir/kernel.h"
#include "ir/stmt.h"

namespace kcc {

const char *to_string(ExprKind k) {
  switch (k) {
#define KCC_CASE(N) \
  case ExprKind::N: return #N;
    KCC_EXPR_NODES(KCC_CASE)
#undef KCC_CASE
  }
  return "?";
}

const char *spelling(BinOp op) {
  switch (op) {
#define KCC_CASE(N, S) \
  case BinOp::N: return S;
    KCC_BINARY_OPS(KCC_CASE)
#undef KCC_CASE
  }
  return "?";
}

bool is_comparison(BinOp op) {
  return op == BinOp::EQ || op == BinOp::NE || op == BinOp::LT || op == BinOp::LE || op == BinOp::GT ||
         op == BinOp::GE;
}
bool is_logical(BinOp op) { return op == BinOp::And || op == BinOp::Or; }

const char *to_string(MathFn f) {
  switch (f) {
#define KCC_CASE(N, A) \
  case MathFn::N: return #N;
    KCC_MATH_FNS(KCC_CASE)
#undef KCC_CASE
  }
  return "?";
}

int arity(MathFn f) {
  switch (f) {
#define KCC_CASE(N, A) \
  case MathFn::N: return A;
    KCC_MATH_FNS(KCC_CASE)
#undef KCC_CASE
  }
  return 0;
}

bool parse_math_fn(const std::string &s, MathFn &out) {
#define KCC_CASE(N, A)  \
  if (s == #N) {        \
    out = MathFn::N;    \
    return true;        \
  }
  KCC_MATH_FNS(KCC_CASE)
#undef KCC_CASE
  return false;
}

// ---------------------------------------------------------------- construction

Expr make_int(int64_t v, Type t) {
  KCC_INTERNAL(t.is_int() || t.is_bool(), "make_int with non-integer type " + to_string(t));
  Expr s(std::make_shared<IntImm>(t.element(), v));
  return t.lanes > 1 ? make_broadcast(s, t.lanes) : s;
}

Expr make_float(double v, Type t) {
  KCC_INTERNAL(t.is_float(), "make_float with non-float type " + to_string(t));
  Expr s(std::make_shared<FloatImm>(t.element(), v));
  return t.lanes > 1 ? make_broadcast(s, t.lanes) : s;
}

Expr make_bool(bool v) { return make_int(v ? 1 : 0, Type::boolean()); }

Expr make_const(Type t, double v) {
  if (t.is_float()) return make_float(v, t);
  // Saturating, as a double outside the type's range has no integer value (casting it would be
  // undefined behaviour). 2^63 is the first double above INT64_MAX.
  const ScalarKind k = t.kind;
  if (std::isnan(v)) return make_int(0, t);
  if (v >= 9223372036854775808.0 || v >= static_cast<double>(int_max(k))) return make_int(int_max(k), t);
  if (v <= static_cast<double>(int_min(k))) return make_int(int_min(k), t);
  return make_int(static_cast<int64_t>(v), t);
}

Var make_var(const std::string &name, Type t) { return std::make_shared<Variable>(t, name); }
Expr var(const Var &v) { return Expr(v); }
Var as_var(const Expr &e) {
  if (!e.as<Variable>()) return nullptr;
  return std::static_pointer_cast<const Variable>(e.ptr());
}

Expr make_cast(Type t, Expr v) {
  if (v.type() == t) return v;
  if (v.type().lanes == 1 && t.lanes > 1) v = make_broadcast(v, t.lanes);
  if (v.type() == t) return v;
  return Expr(std::make_shared<Cast>(t, std::move(v)));
}

Expr make_unary(UnOp op, Expr a) {
  Type t = a.type();
  if (op == UnOp::Not) KCC_INTERNAL(t.is_bool(), "'not' of non-bool");
  return Expr(std::make_shared<Unary>(t, op, std::move(a)));
}

static void match_lanes(Expr &a, Expr &b) {
  int la = a.type().lanes, lb = b.type().lanes;
  if (la == lb) return;
  if (la == 1) a = make_broadcast(a, lb);
  else if (lb == 1) b = make_broadcast(b, la);
  else KCC_INTERNAL(false, fmt::format("lane mismatch {} vs {}", la, lb));
}

Expr make_binary(BinOp op, Expr a, Expr b) {
  KCC_INTERNAL(a.defined() && b.defined(), "make_binary of undefined operand");
  match_lanes(a, b);
  KCC_INTERNAL(a.type() == b.type(), fmt::format("type mismatch in '{}': {} vs {} ({} , {})", spelling(op),
                                                 to_string(a.type()), to_string(b.type()), to_string(a),
                                                 to_string(b)));
  Type t = a.type();
  if (is_comparison(op)) t = Type::boolean(t.lanes);
  if (is_logical(op)) KCC_INTERNAL(t.is_bool(), "logical op on non-bool");
  return Expr(std::make_shared<Binary>(t, op, std::move(a), std::move(b)));
}

Expr make_select(Expr c, Expr t, Expr f) {
  match_lanes(t, f);
  KCC_INTERNAL(t.type() == f.type(), "select arms differ in type");
  KCC_INTERNAL(c.type().is_bool(), "select condition is not bool");
  if (c.type().lanes == 1 && t.type().lanes > 1) c = make_broadcast(c, t.type().lanes);
  if (c.type().lanes > 1 && t.type().lanes == 1) {
    t = make_broadcast(t, c.type().lanes);
    f = make_broadcast(f, c.type().lanes);
  }
  Type ty = t.type();
  return Expr(std::make_shared<Select>(ty, std::move(c), std::move(t), std::move(f)));
}

Expr make_call(MathFn fn, std::vector<Expr> args) {
  KCC_INTERNAL(static_cast<int>(args.size()) == arity(fn), "wrong arity for math function");
  if (args.size() == 2) match_lanes(args[0], args[1]);
  Type t = args[0].type();
  return Expr(std::make_shared<Call>(t, fn, std::move(args)));
}

Expr make_access(Tensor t, std::vector<Expr> idx) {
  Type ty{t->elem, 1};
  return Expr(std::make_shared<Access>(ty, std::move(t), std::move(idx)));
}

Expr make_load(Type t, Buffer b, Expr index) {
  KCC_INTERNAL(t.lanes == index.type().lanes, "load lanes differ from index lanes");
  return Expr(std::make_shared<Load>(t, std::move(b), std::move(index)));
}

Expr make_ramp(Expr base, Expr stride, int lanes) {
  KCC_INTERNAL(base.type().lanes == 1 && stride.type().lanes == 1, "ramp of vectors");
  Type t = base.type().with_lanes(lanes);
  return Expr(std::make_shared<Ramp>(t, std::move(base), std::move(stride), lanes));
}

Expr make_broadcast(Expr v, int lanes) {
  KCC_INTERNAL(v.type().lanes == 1, "broadcast of a vector");
  if (lanes == 1) return v;
  Type t = v.type().with_lanes(lanes);
  return Expr(std::make_shared<Broadcast>(t, std::move(v), lanes));
}

static Expr const_like(const Expr &a, int64_t b) { return make_const(a.type().element(), static_cast<double>(b)); }

Expr operator+(Expr a, Expr b) { return make_binary(BinOp::Add, std::move(a), std::move(b)); }
Expr operator-(Expr a, Expr b) { return make_binary(BinOp::Sub, std::move(a), std::move(b)); }
Expr operator*(Expr a, Expr b) { return make_binary(BinOp::Mul, std::move(a), std::move(b)); }
Expr operator/(Expr a, Expr b) { return make_binary(BinOp::Div, std::move(a), std::move(b)); }
Expr operator%(Expr a, Expr b) { return make_binary(BinOp::Mod, std::move(a), std::move(b)); }
Expr operator+(Expr a, int64_t b) { Expr c = const_like(a, b); return std::move(a) + c; }
Expr operator-(Expr a, int64_t b) { Expr c = const_like(a, b); return std::move(a) - c; }
Expr operator*(Expr a, int64_t b) { Expr c = const_like(a, b); return std::move(a) * c; }
Expr operator/(Expr a, int64_t b) { Expr c = const_like(a, b); return std::move(a) / c; }
Expr operator%(Expr a, int64_t b) { Expr c = const_like(a, b); return std::move(a) % c; }
Expr operator<(Expr a, Expr b) { return make_binary(BinOp::LT, std::move(a), std::move(b)); }
Expr operator<=(Expr a, Expr b) { return make_binary(BinOp::LE, std::move(a), std::move(b)); }
Expr operator>(Expr a, Expr b) { return make_binary(BinOp::GT, std::move(a), std::move(b)); }
Expr operator>=(Expr a, Expr b) { return make_binary(BinOp::GE, std::move(a), std::move(b)); }
Expr operator&&(Expr a, Expr b) { return make_binary(BinOp::And, std::move(a), std::move(b)); }
Expr operator||(Expr a, Expr b) { return make_binary(BinOp::Or, std::move(a), std::move(b)); }
Expr min(Expr a, Expr b) { return make_binary(BinOp::Min, std::move(a), std::move(b)); }
Expr max(Expr a, Expr b) { return make_binary(BinOp::Max, std::move(a), std::move(b)); }

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

bool is_const_int(const Expr &e, int64_t *value) {
  if (auto *i = e.as<IntImm>()) {
    if (value) *value = i->value;
    return true;
  }
  return false;
}
bool is_const_int(const Expr &e, int64_t value) {
  int64_t v;
  return is_const_int(e, &v) && v == value;
}
bool is_const_float(const Expr &e, double *value) {
  if (auto *f = e.as<FloatImm>()) {
    if (value) *value = f->value;
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- equality

static bool equal_list(const std::vector<Expr> &a, const std::vector<Expr> &b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!equal(a[i], b[i])) return false;
  return true;
}

bool equal(const Expr &a, const Expr &b) {
  if (a.same_as(b)) return true;
  if (!a.defined() || !b.defined()) return false;
  if (a.kind() != b.kind() || a.type() != b.type()) return false;
  switch (a.kind()) {
    case ExprKind::IntImm: return a.as<IntImm>()->value == b.as<IntImm>()->value;
    case ExprKind::FloatImm: return a.as<FloatImm>()->value == b.as<FloatImm>()->value;
    case ExprKind::Variable: return false;  // identity only, checked above
    case ExprKind::Cast: return equal(a.as<Cast>()->value, b.as<Cast>()->value);
    case ExprKind::Unary: {
      auto *x = a.as<Unary>(), *y = b.as<Unary>();
      return x->op == y->op && equal(x->a, y->a);
    }
    case ExprKind::Binary: {
      auto *x = a.as<Binary>(), *y = b.as<Binary>();
      return x->op == y->op && equal(x->a, y->a) && equal(x->b, y->b);
    }
    case ExprKind::Select: {
      auto *x = a.as<Select>(), *y = b.as<Select>();
      return equal(x->cond, y->cond) && equal(x->t, y->t) && equal(x->f, y->f);
    }
    case ExprKind::Call: {
      auto *x = a.as<Call>(), *y = b.as<Call>();
      return x->fn == y->fn && equal_list(x->args, y->args);
    }
    case ExprKind::Access: {
      auto *x = a.as<Access>(), *y = b.as<Access>();
      return x->tensor == y->tensor && equal_list(x->indices, y->indices);
    }
    case ExprKind::Load: {
      auto *x = a.as<Load>(), *y = b.as<Load>();
      return x->buffer == y->buffer && equal(x->index, y->index);
    }
    case ExprKind::Ramp: {
      auto *x = a.as<Ramp>(), *y = b.as<Ramp>();
      return x->lanes == y->lanes && equal(x->base, y->base) && equal(x->stride, y->stride);
    }
    case ExprKind::Broadcast: {
      auto *x = a.as<Broadcast>(), *y = b.as<Broadcast>();
      return x->lanes == y->lanes && equal(x->value, y->value);
    }
  }
  return false;
}

// ---------------------------------------------------------------- printing

std::string format_float(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (std::isnan(v)) return "nan";
  // Shortest text that reads back to the same double.
  for (int prec = 1; prec <= 17; ++prec) {
    std::string s = fmt::format("{:.{}g}", v, prec);
    if (std::stod(s) == v) {
      if (s.find_first_of(".eE") == std::string::npos) s += ".0";
      return s;
    }
  }
  return fmt::format("{}", v);
}

namespace {

// Precedence: or=1 and=2 compare=3 add=4 mul=5 unary=6 primary=7.
int precedence(const Expr &e) {
  if (auto *b = e.as<Binary>()) {
    switch (b->op) {
      case BinOp::Or: return 1;
      case BinOp::And: return 2;
      case BinOp::EQ: case BinOp::NE: case BinOp::LT: case BinOp::LE: case BinOp::GT: case BinOp::GE: return 3;
      case BinOp::Add: case BinOp::Sub: return 4;
      case BinOp::Mul: case BinOp::Div: case BinOp::Mod: return 5;
      case BinOp::Min: case BinOp::Max: return 7;
    }
  }
  // `not` binds looser than comparisons (or < and < not < comparison): `(not a) == b`.
  if (auto *u = e.as<Unary>()) return u->op == UnOp::Not ? 3 : 6;
  if (auto *i = e.as<IntImm>()) return i->value < 0 ? 6 : 7;
  if (auto *f = e.as<FloatImm>()) return f->value < 0 ? 6 : 7;
  return 7;
}

void print(std::ostream &os, const Expr &e);

/// Arithmetic on number literals only: the text a checker types from its context.
bool literal_only(const Expr &e) {
  switch (e.kind()) {
    case ExprKind::IntImm: return !e.type().is_bool();
    case ExprKind::FloatImm: return true;
    case ExprKind::Unary: return e.as<Unary>()->op == UnOp::Neg && literal_only(e.as<Unary>()->a);
    case ExprKind::Binary: {
      auto *b = e.as<Binary>();
      return !e.type().is_bool() && literal_only(b->a) && literal_only(b->b);
    }
    case ExprKind::Select: return literal_only(e.as<Select>()->t) && literal_only(e.as<Select>()->f);
    default: return false;
  }
}

void print_operand(std::ostream &os, const Expr &e, int min_prec) {
  if (precedence(e) < min_prec) {
    os << "(";
    print(os, e);
    os << ")";
  } else {
    print(os, e);
  }
}

void print_list(std::ostream &os, const std::vector<Expr> &v) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) os << ", ";
    print(os, v[i]);
  }
}

void print(std::ostream &os, const Expr &e) {
  if (!e.defined()) {
    os << "<undefined>";
    return;
  }
  switch (e.kind()) {
    case ExprKind::IntImm: {
      auto *i = e.as<IntImm>();
      if (i->type.is_bool()) os << (i->value ? "true" : "false");
      else os << i->value;
      return;
    }
    case ExprKind::FloatImm: os << format_float(e.as<FloatImm>()->value); return;
    case ExprKind::Variable: os << e.as<Variable>()->name; return;
    case ExprKind::Cast: {
      // Read back, literal-only arithmetic takes the conversion's type (`f32(3 + 4)` adds
      // floats): name the operand's own type when it differs, or `f32(i64(16777217) + 1)` would
      // come back as a float sum, and `i32(f32(2.5))` would not parse.
      const Expr &v = e.as<Cast>()->value;
      const bool retype = literal_only(v) && v.type().element() != e.type().element();
      os << to_string(e.type().element()) << "(";
      if (retype) os << to_string(v.type().element()) << "(";
      print(os, v);
      os << (retype ? "))" : ")");
      return;
    }
    case ExprKind::Unary: {
      auto *u = e.as<Unary>();
      os << (u->op == UnOp::Neg ? "-" : "not ");
      print_operand(os, u->a, 7);
      return;
    }
    case ExprKind::Binary: {
      auto *b = e.as<Binary>();
      if (b->op == BinOp::Min || b->op == BinOp::Max) {
        os << spelling(b->op) << "(";
        print(os, b->a);
        os << ", ";
        print(os, b->b);
        os << ")";
        return;
      }
      int p = precedence(e);
      // Left-associative: the right operand needs parentheses at equal precedence.
      // Comparisons do not chain: both sides need a higher precedence.
      print_operand(os, b->a, is_comparison(b->op) ? p + 1 : p);
      os << " " << spelling(b->op) << " ";
      print_operand(os, b->b, p + 1);
      return;
    }
    case ExprKind::Select: {
      auto *s = e.as<Select>();
      os << "select(";
      print_list(os, {s->cond, s->t, s->f});
      os << ")";
      return;
    }
    case ExprKind::Call: {
      auto *c = e.as<Call>();
      os << to_string(c->fn) << "(";
      print_list(os, c->args);
      os << ")";
      return;
    }
    case ExprKind::Access: {
      auto *a = e.as<Access>();
      os << a->tensor->name << "[";
      print_list(os, a->indices);
      os << "]";
      return;
    }
    case ExprKind::Load: {
      auto *l = e.as<Load>();
      os << l->buffer->name << "[";
      print(os, l->index);
      os << "]";
      return;
    }
    case ExprKind::Ramp: {
      auto *r = e.as<Ramp>();
      os << "ramp(";
      print_list(os, {r->base, r->stride});
      os << ", " << r->lanes << ")";
      return;
    }
    case ExprKind::Broadcast: {
      auto *b = e.as<Broadcast>();
      os << "x" << b->lanes << "(";
      print(os, b->value);
      os << ")";
      return;
    }
  }
}

}  // namespace

std::string to_string(const Expr &e) {
  std::ostringstream os;
  print(os, e);
  return os.str();
}

std::ostream &operator<<(std::ostream &os, const Expr &e) {
  print(os, e);
  return os;
}

}  // namespace kcc
