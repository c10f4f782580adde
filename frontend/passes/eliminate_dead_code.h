// frontend/passes/eliminate_dead_code.h - drops what no graph output depends on.
#pragma once
#include "frontend/graph.h"

namespace kcc::frontend {

/// Removes the nodes no graph output depends on and rebuilds `initializers` (the constants the
/// remaining nodes read, in first-use order). Tensor ids are unchanged.
Graph eliminate_dead_code(Graph g);

}  // namespace kcc::frontend
