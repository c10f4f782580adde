// ir/visitor.h - generic traversal and rewriting of Expr and Stmt, generated from the node lists.
#pragma once
#include <functional>
#include <set>

#include "ir/expr.h"
#include "ir/stmt.h"

namespace kcc {

/// Visits every node; the default for each kind visits its children.
class IRVisitor {
 public:
  virtual ~IRVisitor() = default;
  virtual void visit(const Expr &e);
  virtual void visit(const Stmt &s);

 protected:
#define KCC_VISIT(N) virtual void visit_node(const N *op);
  KCC_EXPR_NODES(KCC_VISIT)
#undef KCC_VISIT
#define KCC_VISIT(N) virtual void visit_node(const N *op);
  KCC_STMT_NODES(KCC_VISIT)
#undef KCC_VISIT
};

/// Rebuilds the tree bottom-up; a node whose children did not change is returned as is
/// (pointer-identical), so passes are cheap when they change nothing.
class IRMutator {
 public:
  virtual ~IRMutator() = default;
  virtual Expr mutate(const Expr &e);
  virtual Stmt mutate(const Stmt &s);

 protected:
#define KCC_MUTATE(N) virtual Expr mutate_node(const N *op, const Expr &self);
  KCC_EXPR_NODES(KCC_MUTATE)
#undef KCC_MUTATE
#define KCC_MUTATE(N) virtual Stmt mutate_node(const N *op, const Stmt &self);
  KCC_STMT_NODES(KCC_MUTATE)
#undef KCC_MUTATE
};

/// Calls `f` on every expression node (pre-order).
void for_each_expr(const Expr &e, const std::function<void(const Expr &)> &f);
void for_each_expr(const Stmt &s, const std::function<void(const Expr &)> &f);
/// Replaces Vars (by identity) with expressions.
Expr substitute(const Expr &e, const std::vector<std::pair<Var, Expr>> &map);
Stmt substitute(const Stmt &s, const std::vector<std::pair<Var, Expr>> &map);
/// The buffers `s` loads from or stores to.
std::set<const BufferNode *> buffers_accessed(const Stmt &s);
/// True if `e` mentions `v`.
bool uses_var(const Expr &e, const Var &v);
bool uses_var(const Stmt &s, const Var &v);

}  // namespace kcc
