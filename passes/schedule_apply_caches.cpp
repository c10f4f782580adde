// passes/schedule_apply_caches.cpp - cache_read, cache_write, storage_align, reorder_storage: the
// buffers of stages and their layout.
#include <fmt/format.h>

#include <algorithm>

#include "ir/visitor.h"
#include "passes/schedule_apply.h"

namespace kcc {

namespace {

bool reads_tensor(const Expr &body, const std::string &tensor) {
  bool found = false;
  for_each_expr(body, [&](const Expr &e) {
    if (auto *a = e.as<Access>()) found |= a->tensor->name == tensor;
  });
  return found;
}

/// Replaces reads of `from` by reads of `to` (same indices).
class RetargetAccess : public IRMutator {
 public:
  RetargetAccess(std::string from, Tensor to) : from_(std::move(from)), to_(std::move(to)) {}
  using IRMutator::mutate;

 protected:
  Expr mutate_node(const Access *op, const Expr &self) override {
    Expr e = IRMutator::mutate_node(op, self);
    auto *a = e.as<Access>();
    if (a->tensor->name != from_) return e;
    return make_access(to_, a->indices);
  }

 private:
  std::string from_;
  Tensor to_;
};

}  // namespace

void ScheduleApplier::apply(const CacheReadStep &s) {
  int ci = stage_index(s.at.stage);
  Tensor t = sk_.kernel->find_tensor(s.tensor);
  if (sk_.find_stage(s.tensor) >= 0) t = sk_.stages[sk_.find_stage(s.tensor)].def.output;
  if (!t)
    fail(ScheduleErrorKind::IllegalCache, "",
         fmt::format("cache_read of unknown tensor '{}'", s.tensor));
  if (!reads_tensor(sk_.stages[ci].def.body, s.tensor))
    fail(ScheduleErrorKind::IllegalCache, "",
         fmt::format("stage '{}' does not read tensor '{}'", s.at.stage, s.tensor));
  if (s.scope == CacheScope::Shared && !sk_.target.is_gpu())
    fail(ScheduleErrorKind::TargetMismatch, "", "shared-memory caches need a GPU target");
  if (sk_.kernel->find_tensor(s.result) || sk_.find_stage(s.result) >= 0)
    fail(ScheduleErrorKind::DuplicateName, "", fmt::format("name '{}' is already used", s.result));
  int l = loop(sk_.stages[ci], s.at.loop);
  auto td = std::make_shared<TensorDecl>();
  td->name = s.result;
  td->elem = t->elem;
  td->shape = t->shape;
  td->role = TensorRole::Intermediate;
  td->loc = step_->loc;
  Stage copy;
  copy.output = td;
  copy.loc = step_->loc;
  std::vector<Expr> idx;
  for (size_t d = 0; d < t->shape.size(); ++d) {
    Var v = make_var(fmt::format("ax{}", d));
    copy.axes.push_back({v, t->shape[d]});
    idx.push_back(var(v));
  }
  copy.body = make_access(t, idx);
  RetargetAccess rt(s.tensor, td);
  sk_.stages[ci].def.body = rt.mutate(sk_.stages[ci].def.body);
  StageState cs = make_stage_state(copy);
  cs.where = ComputeLoc::At;
  cs.at_stage = ci + 1;  // the consumer moves one place down
  cs.at_loop = l;
  cs.where_step = {index_, "cache_read", step_->loc};
  cs.shared_cache = s.scope == CacheScope::Shared;
  for (auto &c : sk_.stages)
    if (c.at_stage >= ci) ++c.at_stage;
  sk_.stages.insert(sk_.stages.begin() + ci, std::move(cs));
}

void ScheduleApplier::apply(const CacheWriteStep &s) {
  auto &st = stage(s.stage);
  std::string ls = s.at.stage.empty() ? s.stage : s.at.stage;
  if (ls != s.stage)
    fail_at(s.at.loc, ScheduleErrorKind::IllegalCache, s.at.loop,
            fmt::format("cache_write of '{}' must be placed at one of its own loops, not at stage '{}'", s.stage, ls));
  if (s.scope == CacheScope::Shared && !sk_.target.is_gpu())
    fail(ScheduleErrorKind::TargetMismatch, "", "shared-memory caches need a GPU target");
  if (s.scope == CacheScope::Shared)
    fail(ScheduleErrorKind::IllegalCache, s.at.loop,
         fmt::format("cache_write {} shared is not supported yet on GPU targets; use local (registers)", s.stage));
  if (st.cache_write) fail(ScheduleErrorKind::IllegalCache, s.at.loop, "stage already has a cache_write");
  st.cache_write = true;
  st.cache_write_scope = s.scope;
  st.cache_write_loop = loop(st, s.at.loop);
  st.cache_write_step = {index_, "cache_write", step_->loc};
}

void ScheduleApplier::apply(const StorageAlignStep &s) {
  auto &st = stage(s.axis.stage);
  int dim = -1;
  for (size_t d = 0; d < st.def.axes.size(); ++d)
    if (st.def.axes[d].var->name == s.axis.loop) dim = static_cast<int>(d);
  if (dim < 0)
    fail(ScheduleErrorKind::UnknownLoop, s.axis.loop,
         fmt::format("stage '{}' has no axis '{}' (storage_align names an axis of the stage's tensor)", st.name(),
                     s.axis.loop));
  if (s.factor < 1 || s.offset < 0 || s.offset >= s.factor)
    fail(ScheduleErrorKind::BadFactor, s.axis.loop,
         fmt::format("storage_align needs factor >= 1 and 0 <= offset < factor, got {} {}", s.factor, s.offset));
  if (is_output(st.name()))
    fail(ScheduleErrorKind::IllegalCache, s.axis.loop,
         fmt::format("cannot change the layout of output '{}' (it is dense row-major)", st.name()));
  st.storage_align[dim] = {s.factor, s.offset};
}

void ScheduleApplier::apply(const ReorderStorageStep &s) {
  auto &st = stage(s.stage);
  const size_t rank = st.def.axes.size();
  std::vector<int> order;
  for (const LoopName &a : s.axes) {
    check_stage_of(a, s.stage);
    int dim = -1;
    for (size_t d = 0; d < rank; ++d)
      if (st.def.axes[d].var->name == a.loop) dim = static_cast<int>(d);
    if (dim < 0)
      fail(ScheduleErrorKind::UnknownLoop, a.loop,
           fmt::format("stage '{}' has no axis '{}' (reorder_storage names the axes of the stage's tensor)",
                       st.name(), a.loop));
    if (std::find(order.begin(), order.end(), dim) != order.end())
      fail(ScheduleErrorKind::IllegalReorder, a.loop, fmt::format("axis '{}' is named twice", a.loop));
    order.push_back(dim);
  }
  if (order.size() != rank)
    fail(ScheduleErrorKind::IllegalReorder, "",
         fmt::format("reorder_storage of '{}' must name all {} axes of its tensor, got {}", st.name(), rank,
                     order.size()));
  if (is_output(st.name()))
    fail(ScheduleErrorKind::IllegalCache, "",
         fmt::format("cannot change the layout of output '{}' (it is dense row-major)", st.name()));
  st.storage_order = std::move(order);
}

void ScheduleApplier::apply(const PrefetchStep &s) {
  auto &st = stage(s.at.stage);
  if (sk_.target.is_gpu())
    fail(ScheduleErrorKind::TargetMismatch, s.at.loop, "prefetch is for CPU targets (a GPU stages data in shared memory)");
  if (!sk_.kernel->find_tensor(s.tensor) && sk_.find_stage(s.tensor) < 0)
    fail(ScheduleErrorKind::IllegalCache, s.at.loop, fmt::format("prefetch of unknown tensor '{}'", s.tensor));
  if (!reads_tensor(st.def.body, s.tensor))
    fail(ScheduleErrorKind::IllegalCache, s.at.loop,
         fmt::format("stage '{}' does not read tensor '{}'", st.name(), s.tensor));
  st.prefetches.push_back({s.tensor, loop(st, s.at.loop), s.distance, step_ref()});
}

}  // namespace kcc
