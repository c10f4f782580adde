// frontend/passes/fold_pad.h - a zero Pad folded into the average pool that reads it.
#pragma once
#include "frontend/graph.h"

namespace kcc::frontend {

/// PyTorch exports `avg_pool2d(x, k, padding=p)` (count_include_pad) as a Pad of zeros and an
/// AveragePool without padding. Each Pad of value 0 on the two spatial axes of a rank-4 tensor,
/// read only by an AveragePool (ceil_mode 0, no dilation) that counts padding or has none, and
/// not a graph output, becomes that pool's padding (count_include_pad = 1), as long as each
/// side stays within half the window (what the pools of the language take). The pool then
/// reads the Pad's input; the Pad is left for eliminate_dead_code.
Graph fold_pad(Graph g);

}  // namespace kcc::frontend
