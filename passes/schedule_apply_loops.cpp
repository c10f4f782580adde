// passes/schedule_apply_loops.cpp - split, tile, reorder, fuse: the loop nest of one stage.
#include <fmt/format.h>

#include <algorithm>

#include "passes/schedule_apply.h"

namespace kcc {

void ScheduleApplier::replace_leaf(StageState &st, int old, const std::vector<int> &with) {
  auto it = std::find(st.leaves.begin(), st.leaves.end(), old);
  it = st.leaves.erase(it);
  st.leaves.insert(it, with.begin(), with.end());
}

void ScheduleApplier::split_once(StageState &st, int parent, int outer, int inner, int64_t factor) {
  LoopRelation r{LoopRelation::Split};
  r.parent = parent;
  r.outer = outer;
  r.inner = inner;
  r.factor = factor;
  st.relations.push_back(r);
}

void ScheduleApplier::do_split(StageState &st, const std::string &loop_name, const std::vector<int64_t> &factors,
                                 const std::vector<std::string> &results) {
  int p = loop(st, loop_name);
  if (factors.empty()) fail(ScheduleErrorKind::BadFactor, loop_name, "'split' needs at least one factor");
  if (results.size() != factors.size() + 1)
    fail(ScheduleErrorKind::BadFactor, loop_name,
         fmt::format("split of '{}' with {} factors needs {} result names, got {}", loop_name, factors.size(),
                     factors.size() + 1, results.size()));
  for (int64_t f : factors)
    if (f < 1)
      fail(ScheduleErrorKind::BadFactor, loop_name,
           fmt::format("split factor {} of loop '{}' must be positive", f, loop_name));
  check_unique(results);
  check_not_held(st, p, "split");
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

void ScheduleApplier::do_reorder(StageState &st, const std::vector<int> &order) {
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

void ScheduleApplier::apply(const SplitStep &s) {
  auto &st = stage(s.loop.stage);
  do_split(st, s.loop.loop, s.factors, s.results);
}

void ScheduleApplier::apply(const TileStep &s) {
  if (s.x.stage != s.y.stage)
    fail_at(s.y.loc, ScheduleErrorKind::UnknownLoop, s.y.loop,
            fmt::format("tile needs two loops of one stage, got '{}.{}' and '{}.{}'", s.x.stage, s.x.loop,
                        s.y.stage, s.y.loop));
  auto &st = stage(s.x.stage);
  loop(st, s.x.loop);
  loop(st, s.y.loop);
  for (auto [f, l] : {std::pair{s.fx, &s.x}, std::pair{s.fy, &s.y}})
    if (f < 1)
      fail(ScheduleErrorKind::BadFactor, l->loop, fmt::format("tile factor {} of loop '{}' must be positive", f, l->loop));
  if (s.results.size() != 4)
    fail(ScheduleErrorKind::BadFactor, s.x.loop,
         fmt::format("tile needs four result names (x0 y0 x1 y1), got {}", s.results.size()));
  if (s.x.loop == s.y.loop) fail(ScheduleErrorKind::IllegalReorder, s.x.loop, "tile of a loop with itself");
  check_unique(s.results);
  do_split(st, s.x.loop, {s.fx}, {s.results[0], s.results[2]});
  do_split(st, s.y.loop, {s.fy}, {s.results[1], s.results[3]});
  do_reorder(st, {loop(st, s.results[0]), loop(st, s.results[1]), loop(st, s.results[2]),
                  loop(st, s.results[3])});
}

void ScheduleApplier::apply(const ReorderStep &s) {
  auto &st = stage(s.stage);
  std::vector<int> order;
  for (auto &l : s.order) {
    check_stage_of(l, s.stage);
    order.push_back(loop(st, l.loop));
  }
  do_reorder(st, order);
}

void ScheduleApplier::apply(const FuseStep &s) {
  auto &st = stage(s.stage);
  for (auto &l : s.loops) check_stage_of(l, s.stage);
  if (s.loops.size() < 2)
    fail(ScheduleErrorKind::NotAdjacent, "", fmt::format("fuse needs at least two loops, found {}", s.loops.size()));
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
  for (int l : ls) check_not_held(st, l, "fuse");
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

}  // namespace kcc
