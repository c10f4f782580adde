// tuner/task_scheduler.h - spreading a total measurement budget over several kernels.
//
// Gradient-based allocation as in Ansor: after one warm-up round per task (shortened when the
// budget cannot give every task a full round), each next round
// goes to the task with the largest expected reduction of weighted end-to-end time per
// measurement, estimated as
//   g_i = w_i * ( alpha * (b_i(t_i - r) - b_i(t_i)) / r  +  (1 - alpha) * b_i(t_i) / t_i )
// (b_i: best time of task i after t_i measurements, r: the round size; the first term is the
// recent improvement, the second an optimistic forward estimate), with probability epsilon a
// random task. Tasks that report no progress possible (converged) drop out.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace kcc::tuner {

struct SchedulerTask {
  double weight = 1;  ///< how often the kernel runs per model invocation
  /// Measures up to n more; returns how many it measured (0 = nothing left to try).
  std::function<int64_t(int64_t n)> step;
  /// Best time so far in seconds (0 = none yet).
  std::function<double()> best;
};

struct SchedulerOptions {
  int64_t total_budget = 0;
  int64_t round = 64;
  double alpha = 0.2;
  double epsilon = 0.05;
  uint64_t seed = 1;
};

/// Runs rounds until the budget is spent or every task is done. Returns measurements per task.
std::vector<int64_t> schedule_tasks(std::vector<SchedulerTask> &tasks, const SchedulerOptions &o);

}  // namespace kcc::tuner
