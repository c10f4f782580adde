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

/// `NAME: type = weight at OFFSET` in a model.
struct ModelWeight {
  Param param;
  int64_t offset = 0;
  SourceLoc offset_loc;
};

/// `r0, r1 = KERNEL(a0, a1)` in a model.
struct ModelCall {
  std::vector<std::string> results;
  std::vector<SourceLoc> result_locs;
  std::string kernel;
  SourceLoc kernel_loc;
  std::vector<std::string> args;
  std::vector<SourceLoc> arg_locs;
};

/// One statement of a model body, in source order: a weight or a call.
struct ModelStmt {
  bool is_weight = false;
  ModelWeight weight;
  ModelCall call;
};

struct Model {
  std::string name;
  SourceLoc loc;        ///< the model's name
  SourceLoc arrow_loc;  ///< '->'
  std::vector<Param> inputs, outputs;
  bool has_weights_file = false;
  std::string weights_file;
  SourceLoc weights_loc;  ///< the `weights` line
  std::vector<ModelStmt> body;
};

}  // namespace kcc::ast

namespace kcc {

/// Checks one kernel (names, types, ranks, shapes, ranges, out-of-range accesses) and builds
/// it. Throws UserError at the first problem.
Kernel check_kernel(const ast::Kernel &k);

/// The element type written in `t` (UserError if unknown or bool), its dimensions checked
/// positive; `tensor` names it in messages.
ScalarKind checked_type(const ast::TypeAnn &t, const std::string &tensor);

/// Checks one model against the kernels of `m` (which must not hold it yet): known kernels,
/// argument and result counts and types, tensors defined once and before use, every output
/// defined, weights 64-byte aligned and not overlapping. Throws UserError at the first problem.
ModelDecl check_model(const ast::Model &model, const Module &m);

/// Sets each kernel's weight_inputs from the checked models of `m`: the inputs that every call
/// of the kernel, in every model, passes a weight.
void mark_weight_inputs(Module &m);

}  // namespace kcc
