// passes/gpu_verify.cpp - GPU limits of a lowered kernel, checked before anything is built.
#include <fmt/format.h>

#include "codegen/gpu_launch.h"
#include "passes/lower_passes.h"
#include "passes/schedule_error.h"

namespace kcc {

namespace {

[[noreturn]] void fail(ScheduleErrorKind k, const std::string &msg) {
  throw ScheduleError(k, 0, "bind", SourceLoc{}, "", msg);
}

}  // namespace

void verify_gpu_limits(const LoweredFunc &f, const Target &t) {
  GpuLaunchPlan plan;
  std::string err;
  if (!plan_gpu_launches(f, plan, err)) fail(ScheduleErrorKind::IllegalAnnotation, fmt::format("kernel '{}': {}", f.name, err));
  for (size_t i = 0; i < plan.launches.size(); ++i) {
    const GpuLaunch &l = plan.launches[i];
    if (l.threads() > t.max_threads_per_block)
      fail(ScheduleErrorKind::LimitExceeded,
           fmt::format("kernel '{}' launch {}: {} threads per block ({}x{}x{}) exceed the limit of {} on {}", f.name, i,
                       l.threads(), l.block[0], l.block[1], l.block[2], t.max_threads_per_block, t.name));
    if (l.block[2] > 64)
      fail(ScheduleErrorKind::LimitExceeded,
           fmt::format("kernel '{}' launch {}: thread.z extent {} exceeds 64", f.name, i, l.block[2]));
    if (l.grid[0] > 2147483647 || l.grid[1] > 65535 || l.grid[2] > 65535)
      fail(ScheduleErrorKind::LimitExceeded,
           fmt::format("kernel '{}' launch {}: grid {}x{}x{} exceeds the limits (2^31-1 x 65535 x 65535)", f.name, i,
                       l.grid[0], l.grid[1], l.grid[2]));
    if (l.shared_bytes > t.max_shared_bytes)
      fail(ScheduleErrorKind::LimitExceeded,
           fmt::format("kernel '{}' launch {}: {} bytes of shared memory per block exceed the limit of {} on {}",
                       f.name, i, l.shared_bytes, t.max_shared_bytes, t.name));
  }
}

}  // namespace kcc
