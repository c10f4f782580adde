// ir/check.h - the syntax tree of a kernel as written, and the checker that turns it into a
// kcc::Kernel. Internal to ir/: parser.cpp builds the tree, check.cpp checks it.
//
// The tree keeps what the checker needs and the IR does not: source locations of every
// operand, whether a literal was written as an integer or a float (literals take their type
// from the context), and the stage annotations as written.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/diag.h"
#include "ir/expr.h"
#include "ir/kernel.h"

namespace kcc::ast {

struct Node;
using NodeP = std::unique_ptr<Node>;

/// One expression as written.
struct Node {
  enum class Kind : uint8_t {
    Int,     ///< int_value (a leading '-' folded in)
    Float,   ///< float_value (inf, nan, leading '-' folded in)
    Bool,    ///< int_value 0/1
    Name,    ///< name: an index variable (or a misused tensor)
    Access,  ///< name[args...]
    Call,    ///< name(args...): select, min, max, math functions, casts
    Unary,   ///< unop args[0]
    Binary,  ///< args[0] binop args[1]
  };
  Kind kind = Kind::Int;
  SourceLoc loc;     ///< the first token of the expression
  SourceLoc op_loc;  ///< the operator (Unary, Binary) or the name (Access, Call)
  std::string name;
  std::string text;  ///< the literal as written (Int, Float)
  int64_t int_value = 0;
  double float_value = 0;
  BinOp binop = BinOp::Add;
  UnOp unop = UnOp::Neg;
  std::vector<NodeP> args;
};

/// `f32[64, 512]`
struct TypeAnn {
  std::string elem;
  SourceLoc loc;  ///< the element type name
  std::vector<int64_t> dims;
  std::vector<SourceLoc> dim_locs;
};

/// `X: f32[64, 512]` in a kernel's signature.
struct Param {
  std::string name;
  SourceLoc loc;
  TypeAnn type;
};

/// `k` or `k: 64` in `sum(k: 64)`.
struct RVar {
  std::string name;
  SourceLoc loc;
  std::optional<int64_t> extent;
  SourceLoc extent_loc;
};

/// `NAME[v, ...] = [reduce(rvars)] body [: type]`
struct Stage {
  std::string name;
  SourceLoc loc;
  std::vector<std::string> lhs;
  std::vector<SourceLoc> lhs_locs;
  ReduceOp reduce = ReduceOp::None;
  SourceLoc reduce_loc;
  std::vector<RVar> rvars;
  NodeP body;
  std::optional<TypeAnn> ann;
};

struct Kernel {
  std::string name;
  SourceLoc loc;       ///< the kernel's name
  SourceLoc arrow_loc;  ///< '->' (or where it was expected)
  std::vector<Param> inputs, outputs;
  std::vector<Stage> stages;
  SourceLoc end_loc;  ///< the closing '}'
};

}  // namespace kcc::ast

namespace kcc {

/// Checks one kernel (names, types, ranks, shapes, ranges, out-of-range accesses) and builds
/// it. Throws UserError at the first problem.
Kernel check_kernel(const ast::Kernel &k);

}  // namespace kcc
