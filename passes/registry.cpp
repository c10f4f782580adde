// passes/registry.cpp - the .kreg JSON format and the registry provider (workload keys:
// ir/workload.cpp).
#include "passes/registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "ir/parser.h"
#include "ir/schedule.h"

namespace kcc {

namespace {

using json = nlohmann::json;

constexpr const char *kFormat = "kcc-registry-1";

// ---------------------------------------------------------------- JSON positions

/// Byte offsets of every value of a (valid) JSON text, keyed by JSON pointer ("/kernels/0/name").
/// nlohmann 3.11 keeps no positions; this small scanner runs only after nlohmann accepted the
/// text, so it need not diagnose anything.
class PositionScanner {
 public:
  explicit PositionScanner(const std::string &t) : t_(t) {}
  std::map<std::string, size_t> scan() {
    value("");
    return std::move(pos_);
  }

 private:
  void ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\r' || t_[i_] == '\t')) ++i_;
  }
  std::string string() {
    std::string s;
    ++i_;  // opening quote
    while (i_ < t_.size() && t_[i_] != '"') {
      if (t_[i_] == '\\' && i_ + 1 < t_.size()) ++i_;
      s += t_[i_++];
    }
    ++i_;
    return s;
  }
  void value(const std::string &ptr) {
    ws();
    if (i_ >= t_.size()) return;
    pos_[ptr] = i_;
    char c = t_[i_];
    if (c == '{') {
      ++i_;
      ws();
      while (i_ < t_.size() && t_[i_] != '}') {
        std::string key = string();
        ws();
        ++i_;  // ':'
        value(ptr + "/" + key);
        ws();
        if (i_ < t_.size() && t_[i_] == ',') ++i_;
        ws();
      }
      ++i_;
    } else if (c == '[') {
      ++i_;
      ws();
      for (int n = 0; i_ < t_.size() && t_[i_] != ']'; ++n) {
        value(ptr + "/" + std::to_string(n));
        ws();
        if (i_ < t_.size() && t_[i_] == ',') ++i_;
        ws();
      }
      ++i_;
    } else if (c == '"') {
      string();
    } else {
      while (i_ < t_.size() && t_[i_] != ',' && t_[i_] != '}' && t_[i_] != ']' && t_[i_] != ' ' &&
             t_[i_] != '\n' && t_[i_] != '\r' && t_[i_] != '\t')
        ++i_;
    }
  }

  const std::string &t_;
  size_t i_ = 0;
  std::map<std::string, size_t> pos_;
};

SourceLoc loc_at(const SourceFileRef &file, size_t offset) {
  SourceLoc loc;
  loc.file = file;
  loc.line = 1;
  loc.col = 1;
  for (size_t i = 0; i < offset && i < file->text.size(); ++i) {
    if (file->text[i] == '\n') {
      ++loc.line;
      loc.col = 1;
    } else {
      ++loc.col;
    }
  }
  return loc;
}

/// Reads a registry from its parsed JSON, with errors located through `positions`.
class RegistryReader {
 public:
  RegistryReader(SourceFileRef file, std::map<std::string, size_t> positions)
      : file_(std::move(file)), pos_(std::move(positions)) {}

  Registry read(const json &doc) {
    expect(doc.is_object(), "", "a registry must be a JSON object");
    Registry reg;
    reg.file = file_;
    std::string format = get_string(doc, "", "format");
    expect(format == kFormat, "/format",
           fmt::format("unsupported registry format '{}' (expected '{}')", format, kFormat));
    reg.kcc_version = get_string(doc, "", "kcc_version");
    reg.target_key = get_string(doc, "", "target");
    reg.target_name = get_string(doc, "", "target_name");
    expect(doc.contains("kernels"), "", "registry has no 'kernels' array");
    const json &ks = doc.at("kernels");
    expect(ks.is_array(), "/kernels", "'kernels' must be an array");
    for (size_t i = 0; i < ks.size(); ++i) reg.kernels.push_back(entry(ks[i], fmt::format("/kernels/{}", i)));
    return reg;
  }

 private:
  SourceLoc loc(const std::string &ptr) const {
    auto it = pos_.find(ptr);
    if (it == pos_.end()) {
      SourceLoc l;
      l.file = file_;
      l.line = 1;
      l.col = 1;
      return l;
    }
    return loc_at(file_, it->second);
  }
  void expect(bool ok, const std::string &ptr, const std::string &msg) const {
    if (!ok) throw UserError(loc(ptr), msg);
  }
  const json &field(const json &obj, const std::string &ptr, const std::string &key) const {
    expect(obj.contains(key), ptr, fmt::format("missing field '{}'", key));
    return obj.at(key);
  }
  std::string get_string(const json &obj, const std::string &ptr, const std::string &key) const {
    const json &v = field(obj, ptr, key);
    expect(v.is_string(), ptr + "/" + key, fmt::format("field '{}' must be a string", key));
    return v.get<std::string>();
  }
  double get_number(const json &obj, const std::string &ptr, const std::string &key) const {
    const json &v = field(obj, ptr, key);
    expect(v.is_number(), ptr + "/" + key, fmt::format("field '{}' must be a number", key));
    double d = v.get<double>();
    expect(d >= 0, ptr + "/" + key, fmt::format("field '{}' must not be negative", key));
    return d;
  }

  RegistryEntry entry(const json &e, const std::string &ptr) const {
    expect(e.is_object(), ptr, "a kernel entry must be a JSON object");
    RegistryEntry r;
    r.loc = loc(ptr);
    r.name = get_string(e, ptr, "name");
    r.workload_key = get_string(e, ptr, "workload_key");
    r.target_key = get_string(e, ptr, "target_key");
    r.schedule = get_string(e, ptr, "schedule");
    std::string src = get_string(e, ptr, "source");
    bool known = false;
    for (ScheduleSource s : {ScheduleSource::Registry, ScheduleSource::Database, ScheduleSource::Tuned,
                             ScheduleSource::Given, ScheduleSource::Default}) {
      if (src == to_string(s)) {
        r.source = s;
        known = true;
      }
    }
    expect(known, ptr + "/source",
           fmt::format("unknown schedule source '{}' (expected registry, database, tuned, given or default)", src));
    r.median_seconds = get_number(e, ptr, "median_seconds");
    r.gflops = get_number(e, ptr, "gflops");
    if (e.contains("threads")) r.threads = static_cast<int>(get_number(e, ptr, "threads"));
    if (e.contains("names")) {
      std::istringstream in(get_string(e, ptr, "names"));
      for (std::string n; in >> n;) r.names.push_back(n);
    }
    // Parse the schedule now, so that a bad one is reported here, pointing into this file.
    try {
      std::vector<Schedule> s = parse_schedules(file_->path, r.schedule);
      expect(s.size() == 1, ptr + "/schedule",
             fmt::format("the schedule of kernel '{}' must hold exactly one schedule block, not {}", r.name,
                         s.size()));
    } catch (const UserError &err) {
      std::string where = err.loc().line > 0 ? fmt::format(" (schedule line {}, column {})", err.loc().line, err.loc().col) : "";
      throw UserError(loc(ptr + "/schedule"),
                      fmt::format("bad schedule for kernel '{}': {}{}", r.name, err.message(), where));
    }
    return r;
  }

  SourceFileRef file_;
  std::map<std::string, size_t> pos_;
};

}  // namespace

// ---------------------------------------------------------------- registry files

Registry make_registry(const std::vector<CompiledKernel> &kernels, const Target &t, const std::string &kcc_version) {
  Registry reg;
  reg.kcc_version = kcc_version;
  reg.target_key = t.key();
  reg.target_name = t.name;
  for (const CompiledKernel &ck : kernels) {
    KCC_INTERNAL(ck.kernel != nullptr, "compiled kernel without its kernel");
    RegistryEntry e;
    e.name = ck.kernel->name;
    e.workload_key = workload_key(*ck.kernel);
    e.target_key = t.key();
    e.schedule = to_string(ck.chosen.schedule);
    e.source = ck.chosen.source;
    e.median_seconds = ck.chosen.median_seconds;
    e.gflops = ck.chosen.median_seconds > 0 ? ck.kernel->flops() / ck.chosen.median_seconds * 1e-9 : 0;
    e.threads = ck.chosen.median_seconds > 0 ? ck.chosen.threads : 0;
    e.names = workload_names(*ck.kernel);
    reg.kernels.push_back(std::move(e));
  }
  return reg;
}

std::string registry_to_json(const Registry &reg) {
  // ordered_json keeps the documented field order, so diffs of a checked-in lockfile stay small.
  nlohmann::ordered_json doc;
  doc["format"] = kFormat;
  doc["kcc_version"] = reg.kcc_version;
  doc["target"] = reg.target_key;
  doc["target_name"] = reg.target_name;
  doc["kernels"] = nlohmann::ordered_json::array();
  for (const RegistryEntry &e : reg.kernels) {
    nlohmann::ordered_json j;
    j["name"] = e.name;
    j["workload_key"] = e.workload_key;
    j["target_key"] = e.target_key;
    j["schedule"] = e.schedule;
    j["source"] = to_string(e.source);
    j["median_seconds"] = e.median_seconds;
    j["gflops"] = e.gflops;
    if (e.threads > 0) j["threads"] = e.threads;
    std::string names;
    for (auto &n : e.names) names += (names.empty() ? "" : " ") + n;
    j["names"] = names;
    doc["kernels"].push_back(std::move(j));
  }
  return doc.dump(2) + "\n";
}

Registry parse_registry(const std::string &path, const std::string &text) {
  auto file = std::make_shared<SourceFile>();
  file->path = path;
  file->text = text;
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error &e) {
    // e.byte is the 1-based offset of the offending character; the message after "column N: "
    // says what was wrong.
    std::string what = e.what();
    size_t col = what.find("column ");
    size_t colon = col == std::string::npos ? std::string::npos : what.find(": ", col);
    std::string msg = colon == std::string::npos ? what : what.substr(colon + 2);
    size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    throw UserError(loc_at(file, offset), "malformed registry: " + msg);
  }
  return RegistryReader(file, PositionScanner(text).scan()).read(doc);
}

Registry read_registry_file(const std::string &path) {
  return parse_registry(path, read_source_file(path, "registry"));
}

// ---------------------------------------------------------------- provider

RegistryProvider::RegistryProvider(Registry reg, bool strict) : reg_(std::move(reg)), strict_(strict) {}

const RegistryEntry *RegistryProvider::find(const Kernel &k, const Target &t, KeyMatch *match) const {
  std::string wk = workload_key(k);
  const RegistryEntry *best = nullptr;
  KeyMatch best_match = KeyMatch::Foreign;
  for (const RegistryEntry &e : reg_.kernels) {
    if (e.workload_key != wk) continue;
    KeyMatch m = match_target_key(e.target_key, t);
    if (m == KeyMatch::Foreign || (strict_ && m != KeyMatch::Exact)) continue;
    // An exact entry beats a compatible one; then the kernel's own name wins.
    bool better = !best || (m == KeyMatch::Exact && best_match != KeyMatch::Exact) ||
                  (m == best_match && e.name == k.name && best->name != k.name);
    if (better) best = &e, best_match = m;
  }
  if (match) *match = best_match;
  return best;
}

bool RegistryProvider::provide(const Kernel &k, const Target &t, ChosenSchedule &out) {
  KeyMatch match = KeyMatch::Foreign;
  const RegistryEntry *best = find(k, t, &match);
  if (!best) return false;
  std::string path = reg_.file ? reg_.file->path : "<registry>";
  std::vector<Schedule> parsed = parse_schedules(path, best->schedule);
  KCC_INTERNAL(parsed.size() == 1, "registry entry holds " + std::to_string(parsed.size()) + " schedules");
  Schedule s = std::move(parsed[0]);
  if (!best->names.empty()) {
    size_t now = workload_names(k).size();
    if (best->names.size() != now)
      throw UserError(best->loc, fmt::format("registry entry '{}' lists {} names but kernel '{}' has {}", best->name,
                                             best->names.size(), k.name, now));
    s = rename_schedule(std::move(s), best->names, k);
  }
  s.kernel = k.name;
  out.schedule = std::move(s);
  out.source = ScheduleSource::Registry;
  // A time measured on another cpu says nothing of this one.
  out.median_seconds = match == KeyMatch::Exact ? best->median_seconds : 0;
  out.threads = match == KeyMatch::Exact ? best->threads : 0;
  if (match == KeyMatch::Compatible) {
    std::string why;
    match_target_key(best->target_key, t, &why);
    bool seen = false;
    for (auto &[name, w] : borrowed_) seen = seen || name == k.name;
    if (!seen) borrowed_.emplace_back(k.name, why);
  }
  return true;
}

std::string RegistryProvider::borrowed_note(const Target &t) const {
  if (borrowed_.empty()) return "";
  std::string path = reg_.file ? reg_.file->path : "the registry";
  // One line: kernels grouped by the reason ("tuned on znver4, used on sapphirerapids").
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  for (auto &[kernel, why] : borrowed_) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](auto &g) { return g.first == why; });
    if (it == groups.end()) groups.push_back({why, {kernel}});
    else it->second.push_back(kernel);
  }
  std::string parts;
  for (auto &[why, kernels] : groups)
    parts += fmt::format("{}{} ({} kernel{})", parts.empty() ? "" : "; ", why, kernels.size(),
                         kernels.size() == 1 ? "" : "s");
  return fmt::format("kcc: note: registry '{}': {}: retune for best speed on {} (--registry-strict demands the exact "
                     "target)",
                     path, parts, t.name);
}

std::string RegistryProvider::missing_message(const Kernel &k, const Target &t) const {
  std::string wk = workload_key(k), tk = t.key();
  std::string path = reg_.file ? reg_.file->path : "the registry";
  for (const RegistryEntry &e : reg_.kernels) {
    if (e.workload_key != wk) continue;
    std::string why;
    KeyMatch m = match_target_key(e.target_key, t, &why);
    if (m == KeyMatch::Compatible && strict_)
      return fmt::format("registry '{}' has no schedule for kernel '{}' on target '{}' ({}) under --registry-strict: "
                         "its entry was {} (drop --registry-strict to use it, or retune on this machine)",
                         path, k.name, t.name, tk, why);
    if (m == KeyMatch::Foreign)
      return fmt::format("registry '{}' has no schedule for kernel '{}' on target '{}' ({}): its entry cannot be used: "
                         "{} (recompile without --registry to schedule it for this target)",
                         path, k.name, t.name, tk, why);
  }
  for (const RegistryEntry &e : reg_.kernels)
    if (e.name == k.name)
      return fmt::format("registry '{}' has no schedule for kernel '{}': its entry '{}' was recorded for another "
                         "computation (workload key {}, now {}); the kernel changed since the registry was written, "
                         "recompile without --registry to regenerate it",
                         path, k.name, e.name, e.workload_key, wk);
  std::string names;
  for (const RegistryEntry &e : reg_.kernels) names += (names.empty() ? "" : ", ") + e.name;
  return fmt::format("registry '{}' has no schedule for kernel '{}' (workload key {}); it holds: {}", path, k.name,
                     wk, names.empty() ? "no kernels" : names);
}

}  // namespace kcc
