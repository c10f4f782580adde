// passes/default_schedule.cpp - the schedule used when no registry, record or hand schedule exists.
//
// Per stage: vectorize the innermost spatial axis that is not of extent 1 (the axes after it
// have one point, so it is contiguous in the output: a convolution's width, or its channels
// when the spatial size is 1x1) by the target's f32 lanes (vector_tile), or whole when it is
// narrower than that (a 7-wide ResNet row is one partial vector: still every multiply-add of the
// stage is a vector one); parallelize the outermost spatial loop that has more than one
// iteration; and for reductions over two or more spatial axes keep a small (4 x lanes)
// accumulator tile in registers with the reduction loops between the tile loops and the tile.
#include <fmt/format.h>

#include "passes/pipeline.h"

namespace kcc {

namespace {

LoopName loop(const std::string &stage, const std::string &l) { return LoopName{stage, l, {}}; }

void add(Schedule &s, StepKind k) { s.steps.push_back(Step{std::move(k), {}}); }

/// f32 elements per vectorized inner loop: one register's worth (4 on NEON, 16 on A64FX's
/// 512-bit SVE, 8/16 with AVX2/AVX-512). On a vector-length-agnostic target the loop becomes a
/// scalable loop stepping by vscale x 4: 16 elements fill one register at 512 bits and take
/// 2 or 4 predicated steps at 256 or 128 bits.
int vector_tile(const Target &t) {
  const int lanes = std::max(1, t.f32_lanes());
  return t.scalable_vectors ? 4 * lanes : lanes;
}

void schedule_stage(Schedule &s, const Stage &st, const Target &t) {
  const std::string n = st.name();
  const int lanes = vector_tile(t);
  const size_t rank = st.axes.size();
  if (rank == 0) return;
  std::vector<std::string> order;  // spatial loops, outer to inner (after the splits below)
  for (auto &a : st.axes) order.push_back(a.var->name);
  // The vectorized axis: the innermost one with more than one point.
  size_t vd = rank;
  while (vd > 0 && st.axes[vd - 1].extent == 1) --vd;
  std::string vec;
  if (vd > 0 && lanes > 1) {
    const Axis &a = st.axes[--vd];
    if (a.extent > lanes) {
      std::string o = a.var->name + "_o", v = a.var->name + "_v";
      add(s, SplitStep{loop(n, a.var->name), {lanes}, {o, v}});
      order[vd] = o;
      vec = v;
    } else {
      order[vd].clear();  // the whole axis is the vector; it moves innermost
      vec = a.var->name;
    }
  }
  std::string tile_inner;  // the unrolled row loop of the register tile
  const bool blocked = st.reduce != ReduceOp::None && !vec.empty() && vd >= 1 && st.axes[vd - 1].extent >= 4;
  if (blocked) {
    const std::string &row = st.axes[vd - 1].var->name;
    std::string o = row + "_o", i = row + "_i";
    add(s, SplitStep{loop(n, row), {4}, {o, i}});
    order[vd - 1] = o;
    tile_inner = i;
  }
  const bool moved = !vec.empty() && vd + 1 < rank;  // unit axes after the vector axis
  if (!vec.empty() && (st.reduce != ReduceOp::None || moved)) {
    ReorderStep r;
    r.stage = n;
    for (auto &o : order)
      if (!o.empty()) r.order.push_back(loop(n, o));
    for (auto &a : st.raxes) r.order.push_back(loop(n, a.var->name));
    if (!tile_inner.empty()) r.order.push_back(loop(n, tile_inner));
    r.order.push_back(loop(n, vec));
    add(s, r);
  }
  if (blocked) {
    std::string at;  // the innermost spatial loop outside the reduction loops
    for (auto &o : order)
      if (!o.empty()) at = o;
    add(s, CacheWriteStep{n, CacheScope::Local, loop(n, at)});
    add(s, AnnotateStep{LoopAnnotation::Unroll, loop(n, tile_inner)});
  }
  if (!vec.empty()) add(s, AnnotateStep{LoopAnnotation::Vectorize, loop(n, vec)});
  for (size_t d = 0; d < rank; ++d) {
    if (st.axes[d].extent > 1 && !order[d].empty() && order[d] != vec) {
      add(s, AnnotateStep{LoopAnnotation::Parallel, loop(n, order[d])});
      break;
    }
  }
}

}  // namespace

Schedule default_schedule(const Kernel &k, const Target &t) {
  if (t.is_gpu()) return default_gpu_schedule(k, t);
  Schedule s;
  s.kernel = k.name;
  for (auto &st : k.stages) schedule_stage(s, st, t);
  return s;
}

}  // namespace kcc
