// passes/schedule_apply.h - the replay of schedule steps, shared by its files (internal to passes/).
//
// apply_schedule() (schedule_apply.cpp) visits each step and calls the ScheduleApplier::apply
// overload for its type. Each primitive family has its own file, and each primitive's legality
// checks sit in its apply function, beside its effect:
//   schedule_apply_loops.cpp        split, tile, reorder, fuse
//   schedule_apply_annotations.cpp  parallel, vectorize, unroll, unroll_limit, bind
//   schedule_apply_compute.cpp      compute_at, compute_inline, compute_root, rfactor
//   schedule_apply_caches.cpp       cache_read, cache_write, storage_align, reorder_storage, prefetch
// Nothing here builds loops: lower.cpp does.
#pragma once
#include <string>
#include <vector>

#include "passes/schedule_error.h"
#include "passes/schedule_state.h"

namespace kcc {

/// The state of kernel `sk` after the steps applied so far, and the step being applied.
class ScheduleApplier {
 public:
  ScheduleApplier(const Kernel &k, const Target &t);
  ScheduledKernel run(const Schedule &s);

  // ---- one overload per step type, defined in the file of its family
  void apply(const SplitStep &s);
  void apply(const TileStep &s);
  void apply(const ReorderStep &s);
  void apply(const FuseStep &s);
  void apply(const AnnotateStep &s);
  void apply(const UnrollLimitStep &s);
  void apply(const BindStep &s);
  void apply(const ComputeStep &s);
  void apply(const RfactorStep &s);
  void apply(const CacheReadStep &s);
  void apply(const CacheWriteStep &s);
  void apply(const StorageAlignStep &s);
  void apply(const ReorderStorageStep &s);
  void apply(const PrefetchStep &s);

 private:
  ScheduledKernel sk_;
  const Step *step_ = nullptr;
  int index_ = 0;  ///< 1-based index of step_
  std::vector<std::string> inlined_;

  /// Throws a ScheduleError naming the current step, the primitive and `loop`.
  [[noreturn]] void fail(ScheduleErrorKind k, const std::string &loop, const std::string &msg) const;
  /// The same, pointing at `at` (a name inside the step) instead of the step's first token.
  [[noreturn]] void fail_at(const SourceLoc &at, ScheduleErrorKind k, const std::string &loop,
                            const std::string &msg) const;
  /// The current step, for checks made later (lowering).
  StepRef step_ref() const;

  /// The stage named `name`; fails naming the stages there are.
  StageState &stage(const std::string &name);
  int stage_index(const std::string &name);
  /// Handle of the live loop `name` of `st`; fails naming its loops.
  int loop(StageState &st, const std::string &name);
  /// A new loop of `st` named `name`, which no live loop of `st` may have.
  int new_loop(StageState &st, const std::string &name, bool reduce);
  void check_unique(const std::vector<std::string> &names);
  /// `l` is unqualified or qualified with `stage` (steps that name the stage once, then loops).
  void check_stage_of(const LoopName &l, const std::string &stage) const;
  bool is_output(const std::string &name) const;
  /// Steps that replace loop `l` of `st` (`what`: "split", "fuse", ...) refuse a loop that a
  /// stage is computed at or that holds the stage's cache_write: those steps name the loop, and
  /// must come after the loop nest is final.
  void check_not_held(const StageState &st, int l, const char *what) const;

  // loops
  void replace_leaf(StageState &st, int old, const std::vector<int> &with);
  void split_once(StageState &st, int parent, int outer, int inner, int64_t factor);
  void do_split(StageState &st, const std::string &loop_name, const std::vector<int64_t> &factors,
                const std::vector<std::string> &results);
  void do_reorder(StageState &st, const std::vector<int> &order);
};

/// A stage as the kernel defines it: one loop per axis, then one per reduction axis.
StageState make_stage_state(const Stage &s);

/// `'a', 'b'` or `none`.
std::string join_names(const std::vector<std::string> &v);

}  // namespace kcc
