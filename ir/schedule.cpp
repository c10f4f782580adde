// ir/schedule.cpp - names and text of schedule steps (the grammar is in schedule.h; the parser
// is in parser.cpp). Every step prints on one line with single spaces, so that
// print -> parse -> print gives the same text.
#include "ir/schedule.h"

#include <fmt/format.h>

namespace kcc {

namespace {

std::string loop(const LoopName &l) { return l.stage.empty() ? l.loop : l.stage + "." + l.loop; }

std::string names(const std::vector<std::string> &v) {
  std::string s;
  for (auto &x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

std::string loops(const std::vector<LoopName> &v) {
  std::string s;
  for (auto &x : v) s += (s.empty() ? "" : " ") + loop(x);
  return s;
}

const char *scope(CacheScope s) { return s == CacheScope::Local ? "local" : "shared"; }

const char *annotation(LoopAnnotation a) {
  switch (a) {
    case LoopAnnotation::Parallel: return "parallel";
    case LoopAnnotation::Vectorize: return "vectorize";
    case LoopAnnotation::Unroll: return "unroll";
  }
  return "?";
}

const char *compute(ComputeLoc c) {
  switch (c) {
    case ComputeLoc::At: return "compute_at";
    case ComputeLoc::Inline: return "compute_inline";
    case ComputeLoc::Root: return "compute_root";
  }
  return "?";
}

/// One overload per step kind: its primitive name and its arguments as text.
struct Printer {
  std::string operator()(const SplitStep &s) const {
    std::string f;
    for (auto x : s.factors) f += (f.empty() ? "" : ", ") + std::to_string(x);
    return fmt::format("split {} [{}] -> {}", loop(s.loop), f, names(s.results));
  }
  std::string operator()(const TileStep &s) const {
    return fmt::format("tile {} {} [{}, {}] -> {}", loop(s.x), loop(s.y), s.fx, s.fy, names(s.results));
  }
  std::string operator()(const ReorderStep &s) const { return fmt::format("reorder {} {}", s.stage, loops(s.order)); }
  std::string operator()(const FuseStep &s) const {
    return fmt::format("fuse {} {} -> {}", s.stage, loops(s.loops), s.result);
  }
  std::string operator()(const AnnotateStep &s) const { return fmt::format("{} {}", annotation(s.what), loop(s.loop)); }
  std::string operator()(const UnrollLimitStep &s) const { return fmt::format("unroll_limit {} {}", s.stage, s.limit); }
  std::string operator()(const BindStep &s) const { return fmt::format("bind {} {}", loop(s.loop), to_string(s.axis)); }
  std::string operator()(const ComputeStep &s) const {
    if (s.where == ComputeLoc::At) return fmt::format("compute_at {} {}", s.stage, loop(s.at));
    return fmt::format("{} {}", compute(s.where), s.stage);
  }
  std::string operator()(const CacheReadStep &s) const {
    return fmt::format("cache_read {} {} at {} -> {}", s.tensor, scope(s.scope), loop(s.at), s.result);
  }
  std::string operator()(const CacheWriteStep &s) const {
    return fmt::format("cache_write {} {} at {}", s.stage, scope(s.scope), loop(s.at));
  }
  std::string operator()(const RfactorStep &s) const { return fmt::format("rfactor {} -> {}", loop(s.loop), s.result); }
  std::string operator()(const ReorderStorageStep &s) const {
    return fmt::format("reorder_storage {} {}", s.stage, loops(s.axes));
  }
  std::string operator()(const StorageAlignStep &s) const {
    return fmt::format("storage_align {} {} {}", loop(s.axis), s.factor, s.offset);
  }
  std::string operator()(const PrefetchStep &s) const {
    return fmt::format("prefetch {} at {} {}", s.tensor, loop(s.at), s.distance);
  }
};

struct Namer {
  std::string operator()(const SplitStep &) const { return "split"; }
  std::string operator()(const TileStep &) const { return "tile"; }
  std::string operator()(const ReorderStep &) const { return "reorder"; }
  std::string operator()(const FuseStep &) const { return "fuse"; }
  std::string operator()(const AnnotateStep &s) const { return annotation(s.what); }
  std::string operator()(const UnrollLimitStep &) const { return "unroll_limit"; }
  std::string operator()(const BindStep &) const { return "bind"; }
  std::string operator()(const ComputeStep &s) const { return compute(s.where); }
  std::string operator()(const CacheReadStep &) const { return "cache_read"; }
  std::string operator()(const CacheWriteStep &) const { return "cache_write"; }
  std::string operator()(const RfactorStep &) const { return "rfactor"; }
  std::string operator()(const StorageAlignStep &) const { return "storage_align"; }
  std::string operator()(const ReorderStorageStep &) const { return "reorder_storage"; }
  std::string operator()(const PrefetchStep &) const { return "prefetch"; }
};

}  // namespace

const char *to_string(GpuAxis a) {
  switch (a) {
    case GpuAxis::BlockX: return "block.x";
    case GpuAxis::BlockY: return "block.y";
    case GpuAxis::BlockZ: return "block.z";
    case GpuAxis::ThreadX: return "thread.x";
    case GpuAxis::ThreadY: return "thread.y";
    case GpuAxis::ThreadZ: return "thread.z";
  }
  return "?";
}

std::string primitive_name(const Step &s) { return std::visit(Namer{}, s.kind); }

std::string to_string(const Step &s) { return std::visit(Printer{}, s.kind); }

std::string to_string(const Schedule &s) {
  std::string out = "schedule " + s.kernel + " {\n";
  for (auto &st : s.steps) out += "  " + to_string(st) + "\n";
  return out + "}\n";
}

}  // namespace kcc
