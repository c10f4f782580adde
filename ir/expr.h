// ir/expr.h - expressions, shared by kernel definitions and the loop IR.
//
// One expression language serves both levels, as in Halide:
//  * kernel definitions use `Access` (read a tensor at multi-dimensional indices) and
//    `Var` (an index variable of the stage);
//  * the loop IR uses `Load` (read a buffer at a flat element index), `Ramp` and
//    `Broadcast` for vectors, and `Var` for loop variables.
//
// Semantics, fixed here and followed by the interpreter, simplifier and code generators:
//  * Integer arithmetic is on i64 (index arithmetic) or the declared type, two's complement;
//    overflow is undefined (kcc never produces it for in-range tensors).
//  * Integer `Div` is floor division and `Mod` the matching modulus (result has the sign of
//    the divisor): -7 / 2 == -4, -7 % 2 == 1. Division by zero is rejected by the checker
//    (divisors in index arithmetic must be positive constants).
//  * Float arithmetic is IEEE-754 in the element type, round to nearest; code generators may
//    contract a*b+c into an FMA. `Min`/`Max` on floats are IEEE minNum/maxNum.
//  * Comparisons and `And`/`Or` produce bool. `And`/`Or` and `Select` do not short-circuit
//    observably: loads in an unselected arm are made safe (clamped) by lowering, never trapped.
//  * Operands are evaluated left to right; expressions have no side effects.
#pragma once
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "ir/type.h"

namespace kcc {

#define KCC_EXPR_NODES(X) \
  X(IntImm)               \
  X(FloatImm)             \
  X(Variable)             \
  X(Cast)                 \
  X(Unary)                \
  X(Binary)               \
  X(Select)               \
  X(Call)                 \
  X(Access)               \
  X(Load)                 \
  X(Ramp)                 \
  X(Broadcast)

enum class ExprKind : uint8_t {
#define KCC_ENUM(N) N,
  KCC_EXPR_NODES(KCC_ENUM)
#undef KCC_ENUM
};
const char *to_string(ExprKind k);

/// Binary operators: name, spelling in .ir text.
#define KCC_BINARY_OPS(X) \
  X(Add, "+")             \
  X(Sub, "-")             \
  X(Mul, "*")             \
  X(Div, "/")             \
  X(Mod, "%")             \
  X(Min, "min")           \
  X(Max, "max")           \
  X(EQ, "==")             \
  X(NE, "!=")             \
  X(LT, "<")              \
  X(LE, "<=")             \
  X(GT, ">")              \
  X(GE, ">=")             \
  X(And, "and")           \
  X(Or, "or")

enum class BinOp : uint8_t {
#define KCC_ENUM(N, S) N,
  KCC_BINARY_OPS(KCC_ENUM)
#undef KCC_ENUM
};
const char *spelling(BinOp op);
bool is_comparison(BinOp op);
bool is_logical(BinOp op);

enum class UnOp : uint8_t { Neg, Not };

/// Math functions callable from .ir: name, arity. All are elementwise on floats.
#define KCC_MATH_FNS(X) \
  X(exp, 1)             \
  X(log, 1)             \
  X(sqrt, 1)            \
  X(rsqrt, 1)           \
  X(tanh, 1)            \
  X(sigmoid, 1)         \
  X(erf, 1)             \
  X(abs, 1)             \
  X(floor, 1)           \
  X(ceil, 1)            \
  X(pow, 2)

enum class MathFn : uint8_t {
#define KCC_ENUM(N, A) N,
  KCC_MATH_FNS(KCC_ENUM)
#undef KCC_ENUM
};
const char *to_string(MathFn f);
int arity(MathFn f);
bool parse_math_fn(const std::string &s, MathFn &out);

struct ExprNode {
  ExprKind kind;
  Type type;
  ExprNode(ExprKind k, Type t) : kind(k), type(t) {}
  virtual ~ExprNode() = default;
};

/// A reference-counted immutable expression; null when default-constructed.
class Expr {
 public:
  Expr() = default;
  Expr(std::shared_ptr<const ExprNode> n) : node_(std::move(n)) {}
  bool defined() const { return node_ != nullptr; }
  ExprKind kind() const { return node_->kind; }
  Type type() const { return node_->type; }
  const ExprNode *get() const { return node_.get(); }
  const std::shared_ptr<const ExprNode> &ptr() const { return node_; }
  bool same_as(const Expr &o) const { return node_ == o.node_; }
  template <class T>
  const T *as() const {
    return node_ && node_->kind == T::kKind ? static_cast<const T *>(node_.get()) : nullptr;
  }

 private:
  std::shared_ptr<const ExprNode> node_;
};

template <class Derived, ExprKind K>
struct ExprNodeBase : ExprNode {
  static constexpr ExprKind kKind = K;
  explicit ExprNodeBase(Type t) : ExprNode(K, t) {}
};

struct TensorDecl;
struct BufferNode;
using Tensor = std::shared_ptr<const TensorDecl>;
using Buffer = std::shared_ptr<const BufferNode>;

struct IntImm : ExprNodeBase<IntImm, ExprKind::IntImm> {
  int64_t value;
  IntImm(Type t, int64_t v) : ExprNodeBase(t), value(v) {}
};
struct FloatImm : ExprNodeBase<FloatImm, ExprKind::FloatImm> {
  double value;  ///< exact for f32/f64; rounded to the element type when used
  FloatImm(Type t, double v) : ExprNodeBase(t), value(v) {}
};
/// A variable (stage index or loop variable). Identity is the node, not the name:
/// two Vars with one name are different variables.
struct Variable : ExprNodeBase<Variable, ExprKind::Variable> {
  std::string name;
  Variable(Type t, std::string n) : ExprNodeBase(t), name(std::move(n)) {}
};
using Var = std::shared_ptr<const Variable>;
struct Cast : ExprNodeBase<Cast, ExprKind::Cast> {
  Expr value;  ///< float->int truncates toward zero; int->float rounds to nearest
  Cast(Type t, Expr v) : ExprNodeBase(t), value(std::move(v)) {}
};
struct Unary : ExprNodeBase<Unary, ExprKind::Unary> {
  UnOp op;
  Expr a;
  Unary(Type t, UnOp o, Expr x) : ExprNodeBase(t), op(o), a(std::move(x)) {}
};
struct Binary : ExprNodeBase<Binary, ExprKind::Binary> {
  BinOp op;
  Expr a, b;  ///< same type (lanes included); result is bool for comparisons
  Binary(Type t, BinOp o, Expr x, Expr y) : ExprNodeBase(t), op(o), a(std::move(x)), b(std::move(y)) {}
};
struct Select : ExprNodeBase<Select, ExprKind::Select> {
  Expr cond, t, f;  ///< cond is bool with the lanes of the result (or scalar)
  Select(Type ty, Expr c, Expr x, Expr y)
      : ExprNodeBase(ty), cond(std::move(c)), t(std::move(x)), f(std::move(y)) {}
};
struct Call : ExprNodeBase<Call, ExprKind::Call> {
  MathFn fn;
  std::vector<Expr> args;
  Call(Type t, MathFn f, std::vector<Expr> a) : ExprNodeBase(t), fn(f), args(std::move(a)) {}
};
/// Kernel level: tensor[indices...]; one index per dimension, each i64.
struct Access : ExprNodeBase<Access, ExprKind::Access> {
  Tensor tensor;
  std::vector<Expr> indices;
  Access(Type t, Tensor ten, std::vector<Expr> idx)
      : ExprNodeBase(t), tensor(std::move(ten)), indices(std::move(idx)) {}
};
/// Loop IR: buffer[index]; a vector load when `index` is a vector (Ramp: contiguous or strided).
struct Load : ExprNodeBase<Load, ExprKind::Load> {
  Buffer buffer;
  Expr index;  ///< flat element index, i64 (lanes = lanes of the result)
  Load(Type t, Buffer b, Expr i) : ExprNodeBase(t), buffer(std::move(b)), index(std::move(i)) {}
};
/// base, base+stride, ..., base+(lanes-1)*stride.
struct Ramp : ExprNodeBase<Ramp, ExprKind::Ramp> {
  Expr base, stride;  ///< scalars
  int lanes;
  Ramp(Type t, Expr b, Expr s, int l) : ExprNodeBase(t), base(std::move(b)), stride(std::move(s)), lanes(l) {}
};
struct Broadcast : ExprNodeBase<Broadcast, ExprKind::Broadcast> {
  Expr value;  ///< scalar
  int lanes;
  Broadcast(Type t, Expr v, int l) : ExprNodeBase(t), value(std::move(v)), lanes(l) {}
};

// ---- construction (types are checked with KCC_INTERNAL: callers build well-typed IR)
Expr make_int(int64_t v, Type t = Type::i64());
Expr make_float(double v, Type t = Type::f32());
Expr make_bool(bool v);
/// The zero/identity constant of `t` (scalar or broadcast).
Expr make_const(Type t, double v);
Var make_var(const std::string &name, Type t = Type::i64());
Expr var(const Var &v);  ///< the Var as an Expr
Var as_var(const Expr &e);  ///< the Var of a Variable expression, or null
Expr make_cast(Type t, Expr v);
Expr make_unary(UnOp op, Expr a);
/// Broadcasts a scalar operand to the other's lanes.
Expr make_binary(BinOp op, Expr a, Expr b);
Expr make_select(Expr c, Expr t, Expr f);
Expr make_call(MathFn fn, std::vector<Expr> args);
Expr make_access(Tensor t, std::vector<Expr> idx);
Expr make_load(Type t, Buffer b, Expr index);
Expr make_ramp(Expr base, Expr stride, int lanes);
Expr make_broadcast(Expr v, int lanes);

Expr operator+(Expr a, Expr b);
Expr operator-(Expr a, Expr b);
Expr operator*(Expr a, Expr b);
Expr operator/(Expr a, Expr b);  ///< floor division on ints
Expr operator%(Expr a, Expr b);
Expr operator+(Expr a, int64_t b);
Expr operator-(Expr a, int64_t b);
Expr operator*(Expr a, int64_t b);
Expr operator/(Expr a, int64_t b);
Expr operator%(Expr a, int64_t b);
Expr operator<(Expr a, Expr b);
Expr operator<=(Expr a, Expr b);
Expr operator>(Expr a, Expr b);
Expr operator>=(Expr a, Expr b);
Expr operator&&(Expr a, Expr b);
Expr operator||(Expr a, Expr b);
Expr min(Expr a, Expr b);
Expr max(Expr a, Expr b);

/// The integer semantics of BinOp::Div and BinOp::Mod (floor division; b != 0).
int64_t floor_div(int64_t a, int64_t b);
int64_t floor_mod(int64_t a, int64_t b);

/// Constant queries.
bool is_const_int(const Expr &e, int64_t *value = nullptr);
bool is_const_int(const Expr &e, int64_t value);  ///< true iff e is that constant
bool is_const_float(const Expr &e, double *value = nullptr);

/// Structural equality (Vars compare by identity).
bool equal(const Expr &a, const Expr &b);

/// Shortest decimal text that reads back to exactly `v` (always with '.', 'e', inf or nan).
std::string format_float(double v);

/// Infix text in the .ir syntax (`min(a, b)`, `select(c, t, f)`, `A[i, k]`, `B[[i*4 .. +1 x8]]`).
std::string to_string(const Expr &e);
std::ostream &operator<<(std::ostream &os, const Expr &e);

}  // namespace kcc
