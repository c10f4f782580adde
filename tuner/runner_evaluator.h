// tuner/runner_evaluator.h - measuring a kernel's candidates through kcc-runner (docs/runner.md)
// instead of the in-process forked Measurer: for targets this machine cannot run (AArch64 under
// qemu or on a board reached by ssh) or to time on another machine.
//
// Each batch of points becomes their lowered functions (KernelSpace::lowered); statically invalid
// points are answered "static: ..." without building; the rest go to RemoteRunner::measure as one
// object, one link and one runner session. The runner checks every candidate against the
// interpreter's outputs before timing it, as the Measurer does.
#pragma once
#include <string>

#include "tuner/search.h"
#include "tuner/space.h"
#include "tuner/runner_client.h"

namespace kcc::tuner {

class RunnerEvaluator : public Evaluator {
 public:
  /// `space` must outlive the evaluator; opts.work_dir must be set.
  RunnerEvaluator(KernelSpace &space, runner::RunnerOptions opts);
  std::vector<Measurement> measure(const std::vector<Point> &points) override;
  int64_t measured() const { return measured_; }  ///< candidates sent to the runner
  int64_t wrong() const { return wrong_; }        ///< of those, wrong results (compiler bugs)

 private:
  KernelSpace &space_;
  runner::RemoteRunner runner_;
  int64_t measured_ = 0, wrong_ = 0;
};

}  // namespace kcc::tuner
