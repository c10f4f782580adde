// passes/schedule_apply.cpp - replays schedule steps on a kernel, checking each one.
//
// Every primitive lives in one small function below: it resolves the names in its step to loop
// handles, checks legality (throwing a ScheduleError that names the step, the primitive and the
// loop) and records its effect in the StageState. Nothing here builds loops: lower.cpp does.
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "ir/visitor.h"
#include "passes/schedule_error.h"
#include "passes/schedule_state.h"

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

namespace {

std::string join_names(const std::vector<std::string> &v) {
  std::string s;
  for (auto &x : v) s += (s.empty() ? "'" : ", '") + x + "'";
  return s.empty() ? "none" : s;
}

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

/// Replaces reads of an inlined stage by its definition.
class InlineAccess : public IRMutator {
 public:
  explicit InlineAccess(const Stage &p) : p_(p) {}
  using IRMutator::mutate;

 protected:
  Expr mutate_node(const Access *op, const Expr &self) override {
    Expr e = IRMutator::mutate_node(op, self);
    auto *a = e.as<Access>();
    if (a->tensor != p_.output) return e;
    std::vector<std::pair<Var, Expr>> map;
    for (size_t d = 0; d < p_.axes.size(); ++d) map.push_back({p_.axes[d].var, a->indices[d]});
    return substitute(p_.body, map);
  }

 private:
  const Stage &p_;
};

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

class Applier {
 public:
  Applier(const Kernel &k, const Target &t) {
    sk_.kernel = &k;
    sk_.inputs = k.inputs;
    sk_.outputs = k.outputs;
    sk_.target = t;
    for (auto &s : k.stages) sk_.stages.push_back(make_stage_state(s));
  }

  ScheduledKernel run(const Schedule &s) {
    for (size_t i = 0; i < s.steps.size(); ++i) {
      step_ = &s.steps[i];
      index_ = static_cast<int>(i) + 1;
      std::visit([&](const auto &st) { apply(st); }, step_->kind);
    }
    return std::move(sk_);
  }

 private:
  ScheduledKernel sk_;
  const Step *step_ = nullptr;
  int index_ = 0;
  std::vector<std::string> inlined_;

  [[noreturn]] void fail(ScheduleErrorKind k, const std::string &loop, const std::string &msg) {
    throw ScheduleError(k, index_, step_, loop, msg);
  }

  StageState &stage(const std::string &name) {
    int i = sk_.find_stage(name);
    if (i >= 0) return sk_.stages[i];
    if (std::find(inlined_.begin(), inlined_.end(), name) != inlined_.end())
      fail(ScheduleErrorKind::UnknownStage, "", fmt::format("stage '{}' was inlined by an earlier step", name));
    std::vector<std::string> names;
    for (auto &st : sk_.stages) names.push_back(st.name());
    fail(ScheduleErrorKind::UnknownStage, "",
         fmt::format("unknown stage '{}'; stages of kernel '{}' are {}", name, sk_.kernel->name, join_names(names)));
  }
  int stage_index(const std::string &name) {
    stage(name);
    return sk_.find_stage(name);
  }

  int loop(StageState &st, const std::string &name) {
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

  int new_loop(StageState &st, const std::string &name, bool reduce) {
    for (int x : st.leaves)
      if (st.loops[x].name == name)
        fail(ScheduleErrorKind::DuplicateName, name,
             fmt::format("loop name '{}' is already used in stage '{}'", name, st.name()));
    st.loops.push_back({name, make_var(name), reduce});
    return static_cast<int>(st.loops.size()) - 1;
  }

  void replace_leaf(StageState &st, int old, const std::vector<int> &with) {
    auto it = std::find(st.leaves.begin(), st.leaves.end(), old);
    it = st.leaves.erase(it);
    st.leaves.insert(it, with.begin(), with.end());
  }

  /// Splits `parent` into (outer, inner) with inner extent `factor`.
  void split_once(StageState &st, int parent, int outer, int inner, int64_t factor) {
    LoopRelation r{LoopRelation::Split};
    r.parent = parent;
    r.outer = outer;
    r.inner = inner;
    r.factor = factor;
    st.relations.push_back(r);
  }

  void check_unique(const std::vector<std::string> &names) {
    for (size_t i = 0; i < names.size(); ++i)
      for (size_t j = i + 1; j < names.size(); ++j)
        if (names[i] == names[j])
          fail(ScheduleErrorKind::DuplicateName, names[i], fmt::format("result name '{}' is given twice", names[i]));
  }

  void do_split(StageState &st, const std::string &loop_name, const std::vector<int64_t> &factors,
                const std::vector<std::string> &results) {
    int p = loop(st, loop_name);
    if (factors.empty() || results.size() != factors.size() + 1)
      fail(ScheduleErrorKind::BadFactor, loop_name,
           fmt::format("split of '{}' with {} factors needs {} result names, got {}", loop_name, factors.size(),
                       factors.size() + 1, results.size()));
    for (int64_t f : factors)
      if (f < 1)
        fail(ScheduleErrorKind::BadFactor, loop_name,
             fmt::format("split factor {} of loop '{}' must be positive", f, loop_name));
    check_unique(results);
    bool reduce = st.loops[p].reduce;
    std::vector<int> made;
    // Result names may reuse the parent's name: check against leaves other than the parent.
    std::string saved = st.loops[p].name;
    st.loops[p].name = "";
    for (auto &r : results) made.push_back(new_loop(st, r, reduce));
    st.loops[p].name = saved;
    int cur = p;
    for (size_t k = 0; k < factors.size(); ++k) {
      int64_t rest = 1;
      for (size_t m = k; m < factors.size(); ++m) rest *= factors[m];
      int inner;
      if (k + 1 == factors.size()) {
        inner = made[k + 1];
      } else {
        st.loops.push_back({results[k + 1] + ".in", make_var(results[k + 1] + "_in"), reduce});
        inner = static_cast<int>(st.loops.size()) - 1;
      }
      split_once(st, cur, made[k], inner, rest);
      cur = inner;
    }
    replace_leaf(st, p, made);
  }

  void do_reorder(StageState &st, const std::vector<int> &order) {
    std::vector<size_t> pos;
    for (int l : order) {
      auto it = std::find(st.leaves.begin(), st.leaves.end(), l);
      pos.push_back(static_cast<size_t>(it - st.leaves.begin()));
    }
    for (size_t i = 0; i < order.size(); ++i)
      for (size_t j = i + 1; j < order.size(); ++j)
        if (order[i] == order[j])
          fail(ScheduleErrorKind::IllegalReorder, st.loops[order[i]].name,
               fmt::format("loop '{}' appears twice", st.loops[order[i]].name));
    std::sort(pos.begin(), pos.end());
    for (size_t i = 0; i < order.size(); ++i) st.leaves[pos[i]] = order[i];
  }

  // ---- one function per primitive

  void apply(const SplitStep &s) {
    auto &st = stage(s.loop.stage);
    do_split(st, s.loop.loop, s.factors, s.results);
  }

  void apply(const TileStep &s) {
    if (s.x.stage != s.y.stage)
      fail(ScheduleErrorKind::UnknownLoop, s.y.loop,
           fmt::format("tile needs two loops of one stage, got '{}.{}' and '{}.{}'", s.x.stage, s.x.loop,
                       s.y.stage, s.y.loop));
    if (s.results.size() != 4)
      fail(ScheduleErrorKind::BadFactor, s.x.loop, "tile needs four result names: x0 y0 x1 y1");
    auto &st = stage(s.x.stage);
    loop(st, s.x.loop);
    loop(st, s.y.loop);
    if (s.x.loop == s.y.loop) fail(ScheduleErrorKind::IllegalReorder, s.x.loop, "tile of a loop with itself");
    check_unique(s.results);
    do_split(st, s.x.loop, {s.fx}, {s.results[0], s.results[2]});
    do_split(st, s.y.loop, {s.fy}, {s.results[1], s.results[3]});
    do_reorder(st, {loop(st, s.results[0]), loop(st, s.results[1]), loop(st, s.results[2]),
                    loop(st, s.results[3])});
  }

  void apply(const ReorderStep &s) {
    auto &st = stage(s.stage);
    std::vector<int> order;
    for (auto &l : s.order) order.push_back(loop(st, l.loop));
    do_reorder(st, order);
  }

  void apply(const FuseStep &s) {
    auto &st = stage(s.stage);
    if (s.loops.size() < 2) fail(ScheduleErrorKind::NotAdjacent, "", "fuse needs at least two loops");
    std::vector<int> ls;
    for (auto &l : s.loops) ls.push_back(loop(st, l.loop));
    auto first = std::find(st.leaves.begin(), st.leaves.end(), ls[0]) - st.leaves.begin();
    for (size_t i = 1; i < ls.size(); ++i) {
      if (first + static_cast<long>(i) >= static_cast<long>(st.leaves.size()) ||
          st.leaves[first + i] != ls[i])
        fail(ScheduleErrorKind::NotAdjacent, st.loops[ls[i]].name,
             fmt::format("loops '{}' and '{}' are not adjacent (outer to inner) in stage '{}'",
                         st.loops[ls[i - 1]].name, st.loops[ls[i]].name, st.name()));
      if (st.loops[ls[i]].reduce != st.loops[ls[0]].reduce)
        fail(ScheduleErrorKind::NotAdjacent, st.loops[ls[i]].name,
             fmt::format("cannot fuse reduction loop with spatial loop ('{}' and '{}')", st.loops[ls[0]].name,
                         st.loops[ls[i]].name));
    }
    bool reduce = st.loops[ls[0]].reduce;
    std::string saved0 = st.loops[ls[0]].name;
    for (int l : ls) st.loops[l].name = "";  // the result may reuse a fused loop's name
    int cur = ls[0];
    for (size_t i = 1; i < ls.size(); ++i) {
      int fused;
      if (i + 1 == ls.size()) {
        fused = new_loop(st, s.result, reduce);
      } else {
        st.loops.push_back({s.result + ".part", make_var(s.result + "_part"), reduce});
        fused = static_cast<int>(st.loops.size()) - 1;
      }
      LoopRelation r{LoopRelation::Fuse};
      r.outer = cur;
      r.inner = ls[i];
      r.fused = fused;
      st.relations.push_back(r);
      cur = fused;
    }
    st.loops[ls[0]].name = saved0;
    st.leaves.erase(st.leaves.begin() + first, st.leaves.begin() + first + static_cast<long>(ls.size()));
    st.leaves.insert(st.leaves.begin() + first, cur);
  }

  void apply(const AnnotateStep &s) {
    auto &st = stage(s.loop.stage);
    int l = loop(st, s.loop.loop);
    LoopInfo &li = st.loops[l];
    switch (s.what) {
      case LoopAnnotation::Parallel:
        if (li.reduce)
          fail(ScheduleErrorKind::IllegalAnnotation, li.name,
               fmt::format("cannot parallelize reduction loop '{}' of stage '{}' (iterations update the same "
                           "outputs); use rfactor first",
                           li.name, st.name()));
        li.kind = ForKind::Parallel;
        return;
      case LoopAnnotation::Vectorize:
        if (li.reduce)
          fail(ScheduleErrorKind::IllegalAnnotation, li.name,
               fmt::format("cannot vectorize reduction loop '{}' of stage '{}'; use rfactor first", li.name,
                           st.name()));
        li.kind = ForKind::Vectorized;
        return;
      case LoopAnnotation::Unroll:
        // How many copies this makes is known once lowering has the extents (compute_at).
        li.kind = ForKind::Unrolled;
        st.unroll_steps[l] = {index_, "unroll", step_->loc};
        return;
    }
  }

  void apply(const UnrollLimitStep &s) {
    auto &st = stage(s.stage);
    if (s.limit < 0)
      fail(ScheduleErrorKind::BadFactor, "", fmt::format("unroll limit {} must not be negative", s.limit));
    if (s.limit > kMaxUnrolledCopies)
      fail(ScheduleErrorKind::LimitExceeded, "",
           fmt::format("unroll limit {} is more than {}, the most copies of a loop body kcc makes", s.limit,
                       kMaxUnrolledCopies));
    st.unroll_limit = s.limit;
    st.unroll_limit_step = {index_, "unroll_limit", step_->loc};
  }

  void apply(const BindStep &s) {
    auto &st = stage(s.loop.stage);
    int l = loop(st, s.loop.loop);
    if (!sk_.target.is_gpu())
      fail(ScheduleErrorKind::TargetMismatch, st.loops[l].name,
           fmt::format("bind of loop '{}' to {} needs a GPU target (nvptx-*), but the target is '{}'",
                       st.loops[l].name, to_string(s.axis), sk_.target.name));
    bool block = s.axis == GpuAxis::BlockX || s.axis == GpuAxis::BlockY || s.axis == GpuAxis::BlockZ;
    st.loops[l].kind = block ? ForKind::GpuBlock : ForKind::GpuThread;
    st.loops[l].thread_axis = static_cast<int>(s.axis) % 3;
  }

  bool is_output(const std::string &name) const {
    for (auto &t : sk_.outputs)
      if (t->name == name) return true;
    return false;
  }

  void apply(const ComputeStep &s) {
    int pi = stage_index(s.stage);
    StageState &p = sk_.stages[pi];
    switch (s.where) {
      case ComputeLoc::Root: p.where = ComputeLoc::Root; return;
      case ComputeLoc::Inline: {
        if (is_output(p.name()))
          fail(ScheduleErrorKind::IllegalComputeLocation, "",
               fmt::format("cannot inline '{}': it is an output of the kernel", p.name()));
        if (p.is_reduction())
          fail(ScheduleErrorKind::IllegalComputeLocation, "",
               fmt::format("cannot inline '{}': it is a reduction", p.name()));
        for (auto &c : sk_.stages)
          if (c.where == ComputeLoc::At && c.at_stage == pi)
            fail(ScheduleErrorKind::IllegalComputeLocation, "",
                 fmt::format("cannot inline '{}': stage '{}' is computed inside it", p.name(), c.name()));
        Stage def = p.def;
        InlineAccess inl(def);
        for (auto &c : sk_.stages) c.def.body = inl.mutate(c.def.body);
        inlined_.push_back(def.name());
        sk_.stages.erase(sk_.stages.begin() + pi);
        for (auto &c : sk_.stages)
          if (c.at_stage > pi) --c.at_stage;
        return;
      }
      case ComputeLoc::At: {
        if (is_output(p.name()))
          fail(ScheduleErrorKind::IllegalComputeLocation, s.at.loop,
               fmt::format("cannot compute output '{}' at another stage; outputs are computed at the root",
                           p.name()));
        int ci = stage_index(s.at.stage);
        if (ci == pi)
          fail(ScheduleErrorKind::IllegalComputeLocation, s.at.loop,
               fmt::format("cannot compute stage '{}' inside itself", p.name()));
        if (ci < pi)
          fail(ScheduleErrorKind::IllegalComputeLocation, s.at.loop,
               fmt::format("stage '{}' is computed before '{}' and cannot hold it", s.at.stage, p.name()));
        int l = loop(sk_.stages[ci], s.at.loop);
        p.where = ComputeLoc::At;
        p.at_stage = ci;
        p.at_loop = l;
        p.where_step = {index_, "compute_at", step_->loc};
        return;
      }
    }
  }

  void apply(const CacheReadStep &s) {
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

  void apply(const CacheWriteStep &s) {
    auto &st = stage(s.stage);
    std::string ls = s.at.stage.empty() ? s.stage : s.at.stage;
    if (ls != s.stage)
      fail(ScheduleErrorKind::IllegalCache, s.at.loop,
           fmt::format("cache_write of '{}' must be placed at one of its own loops, not at stage '{}'", s.stage, ls));
    if (s.scope == CacheScope::Shared && !sk_.target.is_gpu())
      fail(ScheduleErrorKind::TargetMismatch, "", "shared-memory caches need a GPU target");
    if (st.cache_write) fail(ScheduleErrorKind::IllegalCache, s.at.loop, "stage already has a cache_write");
    st.cache_write = true;
    st.cache_write_scope = s.scope;
    st.cache_write_loop = loop(st, s.at.loop);
    st.cache_write_step = {index_, "cache_write", step_->loc};
  }

  void apply(const RfactorStep &s) {
    int si = stage_index(s.loop.stage);
    StageState &st = sk_.stages[si];
    int l = loop(st, s.loop.loop);
    if (!st.loops[l].reduce)
      fail(ScheduleErrorKind::IllegalRfactor, st.loops[l].name,
           fmt::format("rfactor needs a reduction loop; '{}' of stage '{}' is spatial", st.loops[l].name, st.name()));
    // Supported form: `l` is one half of a single split of a reduction axis, and the stage has
    // no other transformations yet.
    if (st.relations.size() != 1 || st.relations[0].kind != LoopRelation::Split ||
        (st.relations[0].outer != l && st.relations[0].inner != l))
      fail(ScheduleErrorKind::IllegalRfactor, st.loops[l].name,
           "rfactor must directly follow one split of a reduction loop of the stage (split S.k [f] -> k0 k1; "
           "rfactor S.k1 -> name)");
    for (auto &li : st.loops)
      if (li.kind != ForKind::Serial)
        fail(ScheduleErrorKind::IllegalRfactor, st.loops[l].name, "rfactor must come before annotations of the stage");
    if (sk_.kernel->find_tensor(s.result) || sk_.find_stage(s.result) >= 0)
      fail(ScheduleErrorKind::DuplicateName, "", fmt::format("name '{}' is already used", s.result));
    const LoopRelation rel = st.relations[0];
    const Stage &def = st.def;
    int raxis = -1;
    for (size_t r = 0; r < def.raxes.size(); ++r)
      if (st.root_loops[def.axes.size() + r] == rel.parent) raxis = static_cast<int>(r);
    KCC_INTERNAL(raxis >= 0, "rfactor: split parent is not a reduction axis");
    int64_t ext = def.raxes[raxis].extent, f = rel.factor;
    int64_t outer_ext = (ext + f - 1) / f;
    bool kept_inner = rel.inner == l;
    Var kv = make_var(st.loops[l].name);                                   // new spatial axis
    Var ov = make_var(st.loops[kept_inner ? rel.outer : rel.inner].name);  // remaining reduction
    Expr o = var(ov), k = var(kv);
    Expr value = kept_inner ? o * f + k : k * f + o;
    int64_t kept_ext = kept_inner ? f : outer_ext, rest_ext = kept_inner ? outer_ext : f;
    // rf[axes..., kv] = reduce over (other raxes, ov) of body[raxis := value], tails masked by identity
    auto rft = std::make_shared<TensorDecl>();
    rft->name = s.result;
    rft->elem = def.output->elem;
    rft->role = TensorRole::Intermediate;
    rft->loc = step_->loc;
    Stage rf;
    rf.output = rft;
    rf.loc = step_->loc;
    rf.reduce = def.reduce;
    // The new stage gets variables of its own: loop variables are identified by their node, and
    // the two stages' loops must not alias.
    std::vector<std::pair<Var, Expr>> fresh;
    std::vector<Expr> rf_idx;
    for (auto &a : def.axes) {
      Var nv = make_var(a.var->name);
      fresh.push_back({a.var, var(nv)});
      rf.axes.push_back({nv, a.extent});
      rft->shape.push_back(a.extent);
      rf_idx.push_back(var(a.var));
    }
    rf.axes.push_back({kv, kept_ext});
    rft->shape.push_back(kept_ext);
    for (size_t r = 0; r < def.raxes.size(); ++r) {
      if (static_cast<int>(r) == raxis) continue;
      Var nv = make_var(def.raxes[r].var->name);
      fresh.push_back({def.raxes[r].var, var(nv)});
      rf.raxes.push_back({nv, def.raxes[r].extent});
    }
    rf.raxes.push_back({ov, rest_ext});
    fresh.push_back({def.raxes[raxis].var, value});
    Expr body = substitute(def.body, fresh);
    if (ext % f != 0) {
      Expr ident = reduce_identity(def.reduce, body.type());
      body = make_select(value < make_int(ext), body, ident);
    }
    rf.body = body;
    // S[axes] = reduce over kv2 of rf[axes..., kv2]
    Stage ns;
    ns.output = def.output;
    ns.loc = def.loc;
    ns.reduce = def.reduce;
    ns.axes = def.axes;
    Var kv2 = make_var(st.loops[l].name);
    ns.raxes.push_back({kv2, kept_ext});
    rf_idx.push_back(var(kv2));
    ns.body = make_access(rft, rf_idx);
    StageState rs = make_stage_state(rf);
    StageState ss = make_stage_state(ns);
    ss.where = st.where;
    ss.at_stage = st.at_stage;
    ss.at_loop = st.at_loop;
    sk_.stages[si] = std::move(ss);
    for (auto &c : sk_.stages)
      if (c.at_stage >= si) ++c.at_stage;
    sk_.stages.insert(sk_.stages.begin() + si, std::move(rs));
  }

  void apply(const StorageAlignStep &s) {
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

  void apply(const ReorderStorageStep &s) {
    auto &st = stage(s.stage);
    const size_t rank = st.def.axes.size();
    std::vector<int> order;
    for (const LoopName &a : s.axes) {
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
};

}  // namespace

ScheduledKernel apply_schedule(const Kernel &k, const Schedule &s, const Target &t) {
  Applier a(k, t);
  return a.run(s);
}

}  // namespace kcc
