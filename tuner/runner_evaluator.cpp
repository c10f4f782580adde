// tuner/runner_evaluator.cpp - points -> lowered functions -> kcc-runner -> Measurements.
#include "tuner/runner_evaluator.h"

namespace kcc::tuner {

RunnerEvaluator::RunnerEvaluator(KernelSpace &space, runner::RunnerOptions opts)
    : space_(space), runner_(space.kernel(), space.target(), std::move(opts)) {}

std::vector<Measurement> RunnerEvaluator::measure(const std::vector<Point> &points) {
  std::vector<Measurement> out(points.size());
  std::vector<std::shared_ptr<const LoweredFunc>> held;  // alive while the runner measures
  std::vector<const LoweredFunc *> funcs;
  std::vector<size_t> where;
  for (size_t i = 0; i < points.size(); ++i) {
    if (auto f = space_.lowered(points[i])) {
      held.push_back(f);
      funcs.push_back(f.get());
      where.push_back(i);
    } else {
      out[i] = space_.static_measurement(points[i]);
    }
  }
  if (funcs.empty()) return out;
  std::vector<runner::RunnerResult> res = runner_.measure(funcs);
  measured_ += static_cast<int64_t>(funcs.size());
  for (size_t j = 0; j < res.size() && j < where.size(); ++j) {
    Measurement &m = out[where[j]];
    m.valid = res[j].ok;
    m.samples = std::move(res[j].samples);
    m.median = res[j].median;
    m.outcome = res[j].outcome;
    m.error = res[j].error;
    wrong_ += outcome_of(m) == Outcome::WrongResult;  // reported by the tuner (bug_report.h)
  }
  return out;
}

}  // namespace kcc::tuner
