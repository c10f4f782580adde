// tuner/runner_client.cpp - RemoteRunner: compile, link, write data, run one session.
#include "tuner/runner_client.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "codegen/codegen.h"
#include "ir/diag.h"
#include "ir/interp.h"

namespace kcc::runner {

namespace {

void write_array(std::ofstream &out, const float *data, uint64_t n) {
  uint32_t ty[2] = {0, 0};
  out.write(reinterpret_cast<const char *>(ty), sizeof ty);
  out.write(reinterpret_cast<const char *>(&n), sizeof n);
  out.write(reinterpret_cast<const char *>(data), static_cast<std::streamsize>(n * sizeof(float)));
}

std::string read_text(const std::string &path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Single-quotes `s` for /bin/sh.
std::string sh_quote(const std::string &s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

void write_kccd(const Kernel &k, unsigned seed, const std::string &path) {
  std::vector<std::vector<float>> in = random_inputs(k, seed);
  std::vector<std::vector<double>> ref = interpret(k, in);
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error("cannot write " + path);
  out.write("KCCD", 4);
  uint32_t hdr[3] = {1, static_cast<uint32_t>(in.size()), static_cast<uint32_t>(ref.size())};
  out.write(reinterpret_cast<const char *>(hdr), sizeof hdr);
  for (auto &v : in) write_array(out, v.data(), v.size());
  for (auto &r : ref) {
    std::vector<float> f(r.begin(), r.end());
    write_array(out, f.data(), f.size());
  }
  if (!out) throw std::runtime_error("cannot write " + path);
}

tuner::Outcome runner_outcome(const std::string &error) {
  using tuner::Outcome;
  // The protocol's fixed first words (docs/runner.md): the runner is a C program, possibly an
  // older one on another machine, so its answer is read here, once, at the boundary.
  static const std::pair<const char *, Outcome> words[] = {
      {"load", Outcome::Runner},       {"data", Outcome::Runner},     {"bounds", Outcome::Runner},
      {"runner", Outcome::Runner},     {"status", Outcome::Status},   {"wrong", Outcome::WrongResult},
      {"crashed", Outcome::Crashed},   {"timeout", Outcome::Timeout},
  };
  const std::string first = error.substr(0, error.find_first_of(": "));
  for (auto &[w, o] : words)
    if (first == w) return o;
  return Outcome::Other;
}

RunnerResult parse_runner_line(const std::string &line) {
  RunnerResult r;
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("ok")) {
    r.outcome = tuner::Outcome::Runner;
    r.error = "runner: unreadable response '" + line + "'";
    return r;
  }
  r.ok = j.value("ok", false);
  r.error = j.value("error", std::string());
  r.outcome = r.ok ? tuner::Outcome::Ok : runner_outcome(r.error);
  r.median = j.value("median", 0.0);
  r.max_err = j.value("max_err", 0.0);
  if (j.contains("samples") && j["samples"].is_array())
    for (auto &s : j["samples"]) r.samples.push_back(s.get<double>());
  if (r.ok && r.samples.empty()) {
    r.ok = false;
    r.outcome = tuner::Outcome::Runner;
    r.error = "runner: a result without samples";
  }
  return r;
}

namespace {

/// Writes the per-element bounds as one KCCD block of no inputs and one array per output.
void write_bounds(const std::vector<std::vector<double>> &bounds, const std::string &path) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error("cannot write " + path);
  out.write("KCCD", 4);
  uint32_t hdr[3] = {1, 0, static_cast<uint32_t>(bounds.size())};
  out.write(reinterpret_cast<const char *>(hdr), sizeof hdr);
  for (auto &b : bounds) {
    // f32 holds them rounded up, so that rounding never makes a bound tighter.
    std::vector<float> f;
    for (double x : b) {
      float y = static_cast<float>(x);
      f.push_back(static_cast<double>(y) < x ? std::nextafter(y, HUGE_VALF) : y);
    }
    write_array(out, f.data(), f.size());
  }
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

RemoteRunner::RemoteRunner(const Kernel &k, const Target &t, RunnerOptions opts)
    : k_(k), t_(t), o_(std::move(opts)) {}

std::vector<RunnerResult> RemoteRunner::measure(const std::vector<const LoweredFunc *> &funcs) {
  namespace fs = std::filesystem;
  std::vector<RunnerResult> results(funcs.size());
  if (funcs.empty()) return results;
  fs::create_directories(o_.work_dir);
  const std::string dir = fs::absolute(o_.work_dir).string();
  if (data_path_.empty()) {
    data_path_ = dir + "/" + k_.name + ".kccd";
    write_kccd(k_, o_.seed, data_path_);
    if (!o_.bounds.empty()) {
      bounds_path_ = dir + "/" + k_.name + ".bounds.kccd";
      write_bounds(o_.bounds, bounds_path_);
    }
  }
  const int b = batch_++;
  const std::string base = fmt::format("{}/{}_b{}", dir, k_.name, b);

  // 1. one object for the batch, each candidate under its own name
  std::vector<LoweredFunc> renamed;
  std::vector<std::string> names;
  for (size_t i = 0; i < funcs.size(); ++i) {
    renamed.push_back(*funcs[i]);
    renamed.back().name = fmt::format("{}__b{}_{}", k_.name, b, i);
    names.push_back(renamed.back().name);
  }
  try {
    CompiledModule cm = generate_code(renamed, t_, k_.name);
    for (auto &n : names) add_argv_entry(cm, n, n + "__argv");  // any argument count
    cm.optimize();
    std::ofstream(base + ".o", std::ios::binary) << cm.object();
  } catch (const InternalError &) {
    throw;  // a kcc bug, not an invalid candidate
  } catch (const std::exception &e) {
    const bool limit = dynamic_cast<const CompileTimeLimit *>(&e) != nullptr;
    for (auto &r : results) {
      r.outcome = limit ? tuner::Outcome::CompileTimeLimit : tuner::Outcome::Build;
      r.error = std::string("build: ") + e.what();
    }
    return results;
  }
  std::string link = fmt::format("{} -o {} {} > {} 2>&1", o_.link_command, sh_quote(base + ".so"),
                                 sh_quote(base + ".o"), sh_quote(base + ".link.log"));
  if (std::system(link.c_str()) != 0) {
    for (auto &r : results) {
      r.outcome = tuner::Outcome::Build;
      r.error = "build: link failed: " + read_text(base + ".link.log");
    }
    return results;
  }

  // 2. one runner session for the batch
  {
    std::ofstream req(base + ".req");
    req << "hello\n";
    const std::string cold = o_.cold_inputs.empty() ? "" : fmt::format(" cold={}", fmt::join(o_.cold_inputs, ","));
    for (auto &n : names)
      req << fmt::format("run lib={} kernel={}__argv argv=1 data={} samples={} min_time={} warmup={} tol={}{} threads={} "
                         "timeout={}{}\n",
                         base + ".so", n, data_path_, o_.samples, o_.min_seconds, o_.warmup, o_.tolerance,
                         bounds_path_.empty() ? "" : " bounds=" + bounds_path_, o_.threads, o_.timeout_seconds, cold);
  }
  std::string cmd = fmt::format("{} < {} > {} 2> {}", o_.command, sh_quote(base + ".req"), sh_quote(base + ".resp"),
                                sh_quote(base + ".err"));
  int rc = std::system(cmd.c_str());
  std::ifstream resp(base + ".resp");
  std::string line;
  bool hello = false;
  size_t next = 0;
  while (std::getline(resp, line)) {
    if (line.find("\"runner\"") != std::string::npos) {
      hello = true;
      continue;
    }
    if (next < results.size()) results[next++] = parse_runner_line(line);
  }
  if (!hello)
    throw std::runtime_error(fmt::format("runner '{}' did not answer (exit status {}): {}", o_.command, rc,
                                         read_text(base + ".err")));
  for (; next < results.size(); ++next) {
    results[next].outcome = tuner::Outcome::Runner;
    results[next].error = "runner: no response (the runner stopped)";
  }
  return results;
}

}  // namespace kcc::runner
