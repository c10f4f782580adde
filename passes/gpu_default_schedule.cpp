// passes/gpu_default_schedule.cpp - the untuned schedule on GPU targets.
//
// Elementwise intermediates are inlined into their consumers; every other stage (outputs and
// reductions) is a root stage of its own launch: its spatial axes fused, split by the block size
// (256 threads, or the extent rounded up to a warp when smaller) and bound to block.x/thread.x,
// so consecutive threads touch consecutive elements of the innermost axis (coalesced). Reduction
// loops stay inside each thread, serial.
#include <fmt/format.h>

#include "passes/pipeline.h"

namespace kcc {

namespace {

LoopName loop(const std::string &stage, const std::string &l) { return LoopName{stage, l, {}}; }

void add(Schedule &s, StepKind k) { s.steps.push_back(Step{std::move(k), {}}); }

}  // namespace

Schedule default_gpu_schedule(const Kernel &k, const Target &t) {
  Schedule s;
  s.kernel = k.name;
  const int64_t max_threads = std::min<int64_t>(256, std::max(32, t.max_threads_per_block));
  for (auto &st : k.stages)
    if (!k.is_output(st) && st.reduce == ReduceOp::None) add(s, ComputeStep{ComputeLoc::Inline, st.name(), {}});
  for (auto &st : k.stages) {
    if (!k.is_output(st) && st.reduce == ReduceOp::None) continue;
    const std::string n = st.name();
    if (st.axes.empty()) continue;  // a scalar result: nothing to spread over threads
    int64_t total = 1;
    for (auto &a : st.axes) total *= a.extent;
    std::string fused = st.axes[0].var->name;
    if (st.axes.size() > 1) {
      fused = "fused";
      FuseStep f;
      f.stage = n;
      for (auto &a : st.axes) f.loops.push_back(loop(n, a.var->name));
      f.result = fused;
      add(s, f);
    }
    const int64_t threads = std::min(max_threads, (total + 31) / 32 * 32);
    add(s, SplitStep{loop(n, fused), {threads}, {"bx", "tx"}});
    add(s, BindStep{loop(n, "bx"), GpuAxis::BlockX});
    add(s, BindStep{loop(n, "tx"), GpuAxis::ThreadX});
  }
  return s;
}

}  // namespace kcc
