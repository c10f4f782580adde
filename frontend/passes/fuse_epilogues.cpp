// frontend/passes/fuse_epilogues.cpp - see fuse_epilogues.h.
#include "frontend/passes/fuse_epilogues.h"

#include "frontend/passes/graph_uses.h"

namespace kcc::frontend {

namespace {

bool is_elementwise(OpKind op) {
  switch (op) {
    case OpKind::Pow:
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div:
    case OpKind::BatchNormalization: return true;
    default: return is_activation(op);
  }
}

/// The node that can join the kernel ending with node `last`, or -1.
int next_in_chain(const Graph &g, const Uses &uses, const Node &last) {
  if (last.outputs.size() != 1) return -1;
  TensorId t = last.outputs[0];
  if (uses.readers(t) != 1 || uses.is_output(t)) return -1;
  size_t c = uses.reader_nodes(t)[0];
  const Node &n = g.nodes[c];
  if (!is_elementwise(n.op) || is_view(g, n)) return -1;
  if (g.tensor(n.outputs[0]).shape != g.tensor(t).shape) return -1;  // a broadcast widens it
  if (g.tensor(n.outputs[0]).channel_block != g.tensor(t).channel_block) return -1;  // a layout change
  return int(c);
}

}  // namespace

Partition fuse_epilogues(const Graph &g) {
  Uses uses(g);
  std::vector<bool> grouped(g.nodes.size(), false);
  Partition p;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (grouped[i] || is_view(g, g.nodes[i])) continue;
    std::vector<size_t> group = {i};
    grouped[i] = true;
    for (int c = next_in_chain(g, uses, g.nodes[i]); c >= 0 && !grouped[c]; c = next_in_chain(g, uses, g.nodes[c])) {
      group.push_back(size_t(c));
      grouped[c] = true;
    }
    p.groups.push_back(std::move(group));
  }
  return p;
}

Partition one_kernel_per_node(const Graph &g) {
  Partition p;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!is_view(g, g.nodes[i])) p.groups.push_back({i});
  return p;
}

}  // namespace kcc::frontend
