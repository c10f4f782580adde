// passes/schedule_apply.cpp - replays schedule steps on a kernel: the dispatcher, the state
// shared by the primitives (stages and loops by name), and ScheduleError.
//
// The primitives live in one file per family (schedule_apply.h lists them). Each one resolves the
// names in its step to loop handles, checks legality (throwing a ScheduleError that names the
// step, the primitive and the loop) and records its effect in the StageState.
#include "passes/schedule_apply.h"

#include <fmt/format.h>

#include <algorithm>

namespace kcc {

const char *to_string(ScheduleErrorKind k) {
  switch (k) {
    case ScheduleErrorKind::UnknownStage: return "unknown-stage";
    case ScheduleErrorKind::UnknownLoop: return "unknown-loop";
    case ScheduleErrorKind::DuplicateName: return "duplicate-name";
    case ScheduleErrorKind::BadFactor: return "bad-factor";
    case ScheduleErrorKind::NotAdjacent: return "not-adjacent";
    case ScheduleErrorKind::IllegalReorder: return "illegal-reorder";
    case ScheduleErrorKind::IllegalAnnotation: return "illegal-annotation";
    case ScheduleErrorKind::IllegalComputeLocation: return "illegal-compute-location";
    case ScheduleErrorKind::IllegalCache: return "illegal-cache";
    case ScheduleErrorKind::IllegalRfactor: return "illegal-rfactor";
    case ScheduleErrorKind::TargetMismatch: return "target-mismatch";
    case ScheduleErrorKind::LimitExceeded: return "limit-exceeded";
  }
  return "?";
}

std::optional<ScheduleErrorKind> parse_schedule_error_kind(const std::string &name) {
  for (int i = 0; i <= static_cast<int>(ScheduleErrorKind::LimitExceeded); ++i)
    if (name == to_string(static_cast<ScheduleErrorKind>(i))) return static_cast<ScheduleErrorKind>(i);
  return std::nullopt;
}

static std::string schedule_message(int step_index, const Step *step, const std::string &msg) {
  if (!step) return msg;
  return fmt::format("schedule step {} '{}': {}", step_index, primitive_name(*step), msg);
}

ScheduleError::ScheduleError(ScheduleErrorKind kind, int step_index, const Step *step, const std::string &loop,
                             const std::string &msg)
    : UserError(step ? step->loc : SourceLoc{}, schedule_message(step_index, step, msg)),
      kind_(kind),
      step_index_(step_index),
      primitive_(step ? primitive_name(*step) : ""),
      loop_(loop) {}

ScheduleError::ScheduleError(ScheduleErrorKind kind, int step_index, const std::string &primitive,
                             const SourceLoc &loc, const std::string &loop, const std::string &msg)
    : UserError(loc, step_index > 0 ? fmt::format("schedule step {} '{}': {}", step_index, primitive, msg) : msg),
      kind_(kind),
      step_index_(step_index),
      primitive_(primitive),
      loop_(loop) {}

int StageState::find_leaf(const std::string &n) const {
  for (int l : leaves)
    if (loops[l].name == n) return l;
  return -1;
}

int ScheduledKernel::find_stage(const std::string &n) const {
  for (size_t i = 0; i < stages.size(); ++i)
    if (stages[i].name() == n) return static_cast<int>(i);
  return -1;
}

std::string join_names(const std::vector<std::string> &v) {
  std::string s;
  for (auto &x : v) s += (s.empty() ? "'" : ", '") + x + "'";
  return s.empty() ? "none" : s;
}

StageState make_stage_state(const Stage &s) {
  StageState st;
  st.def = s;
  for (auto &a : s.axes) {
    st.root_loops.push_back(static_cast<int>(st.loops.size()));
    st.loops.push_back({a.var->name, a.var, false});
  }
  for (auto &a : s.raxes) {
    st.root_loops.push_back(static_cast<int>(st.loops.size()));
    st.loops.push_back({a.var->name, a.var, true});
  }
  st.leaves = st.root_loops;
  st.storage_align.assign(s.axes.size(), {0, 0});
  return st;
}

ScheduleApplier::ScheduleApplier(const Kernel &k, const Target &t) {
  sk_.kernel = &k;
  sk_.inputs = k.inputs;
  sk_.outputs = k.outputs;
  sk_.target = t;
  for (auto &s : k.stages) sk_.stages.push_back(make_stage_state(s));
}

ScheduledKernel ScheduleApplier::run(const Schedule &s) {
  sk_.schedule_loc = s.loc;
  for (size_t i = 0; i < s.steps.size(); ++i) {
    step_ = &s.steps[i];
    index_ = static_cast<int>(i) + 1;
    std::visit([&](const auto &st) { apply(st); }, step_->kind);
  }
  return std::move(sk_);
}

void ScheduleApplier::fail(ScheduleErrorKind k, const std::string &loop, const std::string &msg) const {
  throw ScheduleError(k, index_, step_, loop, msg);
}

void ScheduleApplier::fail_at(const SourceLoc &at, ScheduleErrorKind k, const std::string &loop,
                              const std::string &msg) const {
  throw ScheduleError(k, index_, primitive_name(*step_), at, loop, msg);
}

void ScheduleApplier::check_stage_of(const LoopName &l, const std::string &stage) const {
  if (!l.stage.empty() && l.stage != stage)
    fail_at(l.loc, ScheduleErrorKind::UnknownLoop, l.loop,
            fmt::format("loop '{}.{}' does not belong to stage '{}'", l.stage, l.loop, stage));
}

void ScheduleApplier::check_not_held(const StageState &st, int l, const char *what) const {
  const int si = static_cast<int>(&st - sk_.stages.data());
  const std::string &n = st.loops[l].name;
  for (const StageState &p : sk_.stages)
    if (p.where == ComputeLoc::At && p.at_stage == si && p.at_loop == l)
      fail(ScheduleErrorKind::IllegalComputeLocation, n,
           fmt::format("cannot {} loop '{}' of stage '{}': stage '{}' is computed at it (step {} '{}'); {} it before "
                       "that step",
                       what, n, st.name(), p.name(), p.where_step.index, p.where_step.primitive, what));
  for (const StageState::PrefetchRequest &p : st.prefetches)
    if (p.loop == l)
      fail(ScheduleErrorKind::IllegalCache, n,
           fmt::format("cannot {} loop '{}' of stage '{}': step {} prefetches at it; {} it before that step", what, n,
                       st.name(), p.step.index, what));
  if (st.cache_write && st.cache_write_loop == l)
    fail(ScheduleErrorKind::IllegalCache, n,
         fmt::format("cannot {} loop '{}' of stage '{}': the stage's cache_write is placed at it (step {}); {} it "
                     "before that step",
                     what, n, st.name(), st.cache_write_step.index, what));
}

StepRef ScheduleApplier::step_ref() const { return {index_, primitive_name(*step_), step_->loc}; }

StageState &ScheduleApplier::stage(const std::string &name) {
  int i = sk_.find_stage(name);
  if (i >= 0) return sk_.stages[i];
  if (std::find(inlined_.begin(), inlined_.end(), name) != inlined_.end())
    fail(ScheduleErrorKind::UnknownStage, "", fmt::format("stage '{}' was inlined by an earlier step", name));
  std::vector<std::string> names;
  for (auto &st : sk_.stages) names.push_back(st.name());
  fail(ScheduleErrorKind::UnknownStage, "",
       fmt::format("unknown stage '{}'; stages of kernel '{}' are {}", name, sk_.kernel->name, join_names(names)));
}

int ScheduleApplier::stage_index(const std::string &name) {
  stage(name);
  return sk_.find_stage(name);
}

int ScheduleApplier::loop(StageState &st, const std::string &name) {
  int l = st.find_leaf(name);
  if (l >= 0) return l;
  std::vector<std::string> names;
  for (int x : st.leaves) names.push_back(st.loops[x].name);
  for (auto &li : st.loops)
    if (li.name == name)
      fail(ScheduleErrorKind::UnknownLoop, name,
           fmt::format("loop '{}' of stage '{}' was replaced by an earlier split or fuse; its loops are {}",
                       name, st.name(), join_names(names)));
  fail(ScheduleErrorKind::UnknownLoop, name,
       fmt::format("stage '{}' has no loop '{}'; its loops are {}", st.name(), name, join_names(names)));
}

int ScheduleApplier::new_loop(StageState &st, const std::string &name, bool reduce) {
  for (int x : st.leaves)
    if (st.loops[x].name == name)
      fail(ScheduleErrorKind::DuplicateName, name,
           fmt::format("loop name '{}' is already used in stage '{}'", name, st.name()));
  st.loops.push_back({name, make_var(name), reduce});
  return static_cast<int>(st.loops.size()) - 1;
}

void ScheduleApplier::check_unique(const std::vector<std::string> &names) {
  for (size_t i = 0; i < names.size(); ++i)
    for (size_t j = i + 1; j < names.size(); ++j)
      if (names[i] == names[j])
        fail(ScheduleErrorKind::DuplicateName, names[i], fmt::format("result name '{}' is given twice", names[i]));
}

bool ScheduleApplier::is_output(const std::string &name) const {
  for (auto &t : sk_.outputs)
    if (t->name == name) return true;
  return false;
}

ScheduledKernel apply_schedule(const Kernel &k, const Schedule &s, const Target &t) {
  ScheduleApplier a(k, t);
  return a.run(s);
}

}  // namespace kcc
