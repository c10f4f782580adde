// frontend/passes/eliminate_dead_code.cpp - see eliminate_dead_code.h.
#include "frontend/passes/eliminate_dead_code.h"

namespace kcc::frontend {

Graph eliminate_dead_code(Graph g) {
  std::vector<bool> live(g.tensors.size(), false);
  for (TensorId t : g.outputs) live[t] = true;
  std::vector<bool> keep(g.nodes.size(), false);
  for (size_t i = g.nodes.size(); i-- > 0;) {
    for (TensorId t : g.nodes[i].outputs) keep[i] = keep[i] || live[t];
    if (keep[i])
      for (TensorId t : g.nodes[i].inputs) live[t] = true;
  }
  std::vector<Node> nodes;
  std::vector<bool> seen(g.tensors.size(), false);
  g.initializers.clear();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!keep[i]) continue;
    for (TensorId t : g.nodes[i].inputs)
      if (g.tensor(t).is_constant() && !seen[t]) {
        seen[t] = true;
        g.initializers.push_back(t);
      }
    nodes.push_back(std::move(g.nodes[i]));
  }
  g.nodes = std::move(nodes);
  return g;
}

}  // namespace kcc::frontend
