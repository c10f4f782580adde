// frontend/lower_ops.h - internal to the lowering (lower_graph.cpp): how one node writes its
// stages into a kernel body. One emitter per operator, in lower_ops.cpp.
#pragma once
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "frontend/graph.h"

namespace kcc::frontend::detail {

/// Index expressions, one per dimension, outermost first.
using Index = std::vector<std::string>;
/// Indices of a view's elements -> indices of the tensor it views. A map may write its indices
/// into larger expressions (`i % 2 * 4`), so it is called through `apply`.
using IndexMap = std::function<Index(const Index &)>;
/// `map` at `idx`, each index that is not a name or a number parenthesized first (`c + 4`
/// becomes `(c + 4)`, so that `(c + 4) % 2` reads as meant).
Index apply(const IndexMap &map, const Index &idx);

/// A tensor as a node reads it.
struct Operand {
  std::string name;     ///< the kernel's tensor (argument or stage); empty for a literal
  Shape shape;          ///< the shape the node sees
  std::string literal;  ///< a single-element constant, written in place
  IndexMap map;         ///< the node's indices -> `name`'s; empty when they are the same
  int64_t block = 1;    ///< `name` is channel-blocked (Tensor::channel_block); never with a map
  bool is_whole() const { return literal.empty() && !map; }
  /// `X[i, j]` for the element at `idx` (of `shape`), or the literal.
  std::string at(const Index &idx) const;
};

/// The stages of one kernel, as text lines.
class KernelBody {
 public:
  explicit KernelBody(std::set<std::string> taken) : taken_(std::move(taken)) {}
  /// A tensor name not used yet in the kernel: `base`, else base1, base2, ...
  std::string fresh(const std::string &base);
  void line(const std::string &s) { lines_.push_back(s); }
  const std::vector<std::string> &lines() const { return lines_; }
  /// A tensor name holding all of `x`: its own when x is whole, else a new stage copying it.
  std::string whole(const Operand &x);

 private:
  std::set<std::string> taken_;
  std::vector<std::string> lines_;
};

/// One node being lowered into a kernel body.
struct NodeContext {
  const Node &node;
  const std::string &path;
  std::vector<Operand> in;       ///< one per node input
  std::vector<std::string> out;  ///< the kernel's tensor for each node output
  std::vector<Shape> out_shape;
  std::vector<bool> out_is_result;  ///< kernel outputs are declared; intermediates annotated
  std::vector<int64_t> out_block;   ///< Tensor::channel_block of each output
  KernelBody &body;

  [[noreturn]] void fail(const std::string &msg) const;
  /// The index variables of output i as stored: index_vars of its rank, or n c h w ci when
  /// it is channel-blocked.
  Index out_vars(size_t i) const;
  /// Output i's stored shape ([N, C/b, H, W, b] when blocked).
  Shape out_stored(size_t i) const;
  /// `OUT[vars] = rhs` (annotated when an intermediate); vars are out_vars(i).
  void stage(size_t i, const std::string &rhs) const;
  /// A layer call `OUT = rhs` for output i.
  void layer(size_t i, const std::string &rhs) const { body.line(out[i] + " = " + rhs); }
  /// `name[vars] = rhs : f32[shape]`: an intermediate of the node.
  void temp(const std::string &name, const Shape &shape, const std::string &rhs) const;
};

/// The index variables of a stage of rank r: n c h w for rank 4, else i j k l m o p q.
Index index_vars(size_t rank);
/// A float literal that reads back to the same f32 ("0.5", "2.0", "1e-05", "(-3.0)").
std::string float_literal(double v);
/// `[1, 3, 224, 224]`
std::string dims(const Shape &s);

/// Writes the stages of c.node. Throws ModelError for what cannot be lowered.
void emit_node(const NodeContext &c);

}  // namespace kcc::frontend::detail
