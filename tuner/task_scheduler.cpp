// tuner/task_scheduler.cpp - gradient-based budget allocation over tasks.
#include "tuner/task_scheduler.h"

#include <algorithm>
#include <random>

namespace kcc::tuner {

std::vector<int64_t> schedule_tasks(std::vector<SchedulerTask> &tasks, const SchedulerOptions &o) {
  const size_t n = tasks.size();
  std::vector<int64_t> spent(n, 0);
  std::vector<bool> done(n, false);
  std::vector<double> prev_best(n, 0);  // best before the task's last round
  int64_t left = o.total_budget;
  std::mt19937_64 rng(o.seed);
  auto run = [&](size_t i, int64_t round) {
    const int64_t want = std::min(round, left);
    prev_best[i] = tasks[i].best();
    int64_t got = tasks[i].step(want);
    spent[i] += got;
    left -= got;
    if (got == 0) done[i] = true;
  };
  // Warm-up: one round each, so every task has a best time (smaller rounds when the budget
  // cannot give every task a full one).
  for (size_t i = 0; i < n && left > 0; ++i)
    run(i, std::max<int64_t>(1, std::min<int64_t>(o.round, left / static_cast<int64_t>(n - i))));
  while (left > 0) {
    std::vector<size_t> live;
    for (size_t i = 0; i < n; ++i)
      if (!done[i]) live.push_back(i);
    if (live.empty()) break;
    size_t pick = live[0];
    if (std::uniform_real_distribution<double>(0, 1)(rng) < o.epsilon) {
      pick = live[std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng)];
    } else {
      double best_g = -1;
      for (size_t i : live) {
        const double b = tasks[i].best();
        double g;
        if (b <= 0) {
          g = 1e30;  // no valid schedule yet: most urgent
        } else {
          const double backward = prev_best[i] > 0 ? std::max(0.0, prev_best[i] - b) / static_cast<double>(o.round) : 0;
          const double forward = b / static_cast<double>(std::max<int64_t>(1, spent[i]));
          g = tasks[i].weight * (o.alpha * backward + (1 - o.alpha) * forward);
        }
        if (g > best_g) best_g = g, pick = i;
      }
    }
    run(pick, o.round);
  }
  return spent;
}

}  // namespace kcc::tuner
