// passes/schedule_apply_compute.cpp - compute_at, compute_inline, compute_root, rfactor: where a
// stage is computed, and the stages it is made of.
#include <fmt/format.h>

#include "ir/visitor.h"
#include "passes/schedule_apply.h"

namespace kcc {

namespace {

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

}  // namespace

void ScheduleApplier::apply(const ComputeStep &s) {
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

void ScheduleApplier::apply(const RfactorStep &s) {
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
  // The stage's reduction loops are replaced (its spatial loops keep their handles).
  for (int x : st.leaves)
    if (st.loops[x].reduce) check_not_held(st, x, "rfactor");
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

}  // namespace kcc
