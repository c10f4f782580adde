// frontend/passes/fold_pad.cpp - see fold_pad.h.
#include "frontend/passes/fold_pad.h"

#include "frontend/passes/graph_uses.h"

namespace kcc::frontend {

namespace {

/// The pool's pads with the Pad's spatial pads added, if the Pad can fold into it.
std::optional<std::vector<int64_t>> folded_pads(const Node &pad, const Node &pool) {
  if (pool.op != OpKind::AveragePool || pool.attr_int("ceil_mode") != 0) return std::nullopt;
  for (int64_t d : pool.attr_ints("dilations"))
    if (d != 1) return std::nullopt;
  std::vector<int64_t> pp = pad.attr_ints("pads"), own = pool.attr_ints("pads"), k = pool.attr_ints("kernel_shape");
  if (pp.size() != 8 || pp[0] || pp[1] || pp[4] || pp[5]) return std::nullopt;
  bool own_padding = false;
  for (int64_t p : own) own_padding = own_padding || p != 0;
  if (own_padding && pool.attr_int("count_include_pad") == 0) return std::nullopt;
  std::vector<int64_t> pads = {own[0] + pp[2], own[1] + pp[3], own[2] + pp[6], own[3] + pp[7]};
  for (size_t i = 0; i < 4; ++i)
    if (2 * pads[i] > k[i % 2]) return std::nullopt;
  return pads;
}

}  // namespace

Graph fold_pad(Graph g) {
  Uses uses(g);
  for (const Node &pad : g.nodes) {
    if (pad.op != OpKind::Pad || pad.attr_float("value") != 0.0) continue;
    TensorId t = pad.outputs[0];
    if (uses.readers(t) != 1 || uses.is_output(t)) continue;
    Node &pool = g.nodes[uses.reader_nodes(t)[0]];
    auto pads = folded_pads(pad, pool);
    if (!pads) continue;
    pool.attrs["pads"] = Attribute::of_ints(*pads);
    pool.attrs["count_include_pad"] = Attribute::of_int(1);
    pool.inputs[0] = pad.inputs[0];
  }
  return g;
}

}  // namespace kcc::frontend
