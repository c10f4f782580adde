// tuner/outcome.cpp - measurement outcomes: names, counts.
#include "tuner/outcome.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace kcc::tuner {

const char *to_string(Outcome o) {
  switch (o) {
    case Outcome::Ok: return "ok";
    case Outcome::Static: return "static";
    case Outcome::Schedule: return "schedule error";
    case Outcome::CompileTimeLimit: return "compile-time limit";
    case Outcome::Build: return "build";
    case Outcome::Crashed: return "crashed";
    case Outcome::Timeout: return "timeout";
    case Outcome::WrongResult: return "wrong result";
    case Outcome::Status: return "status";
    case Outcome::Exception: return "exception";
    case Outcome::Cuda: return "cuda error";
    case Outcome::Runner: return "runner";
    case Outcome::Other: return "other";
  }
  return "other";
}

std::optional<Outcome> parse_outcome(const std::string &name) {
  for (int i = 0; i < kNumOutcomes; ++i)
    if (name == to_string(static_cast<Outcome>(i))) return static_cast<Outcome>(i);
  return std::nullopt;
}

Evidence evidence_of(Outcome o) {
  switch (o) {
    case Outcome::Ok: return Evidence::Valid;
    case Outcome::Static:
    case Outcome::Schedule:
    case Outcome::CompileTimeLimit:
    case Outcome::Build: return Evidence::Invalid;
    case Outcome::Crashed:
    case Outcome::Timeout:
    case Outcome::WrongResult: return Evidence::RunFailure;
    case Outcome::Status:
    case Outcome::Exception:
    case Outcome::Cuda:
    case Outcome::Runner:
    case Outcome::Other: return Evidence::None;
  }
  return Evidence::None;
}

float evidence_weight(Evidence e) {
  switch (e) {
    case Evidence::Valid:
    case Evidence::Invalid: return 1.0f;
    case Evidence::RunFailure: return 0.5f;
    case Evidence::None: return 0.0f;
  }
  return 0.0f;
}

void FailureCounts::add(Outcome o, const std::string &message) {
  if (o == Outcome::Ok) return;
  const auto i = static_cast<size_t>(o);
  if (count[i]++ == 0) first[i] = message.empty() ? "(no message)" : message;
}

int64_t FailureCounts::total() const {
  int64_t n = 0;
  for (int64_t c : count) n += c;
  return n;
}

namespace {

/// Outcomes with a count, most frequent first (ties in enum order).
std::vector<size_t> by_count(const FailureCounts &f) {
  std::vector<size_t> order;
  for (size_t i = 0; i < f.count.size(); ++i)
    if (f.count[i] > 0) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return f.count[a] > f.count[b]; });
  return order;
}

}  // namespace

std::string FailureCounts::brief() const {
  std::string s;
  for (size_t i : by_count(*this))
    s += fmt::format("{}{} {}", s.empty() ? "" : ", ", count[i], to_string(static_cast<Outcome>(i)));
  return s;
}

std::string FailureCounts::details() const {
  std::string s;
  for (size_t i : by_count(*this)) {
    std::string msg = first[i];
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl) + " ...";
    if (msg.size() > 300) msg = msg.substr(0, 300) + " ...";
    s += fmt::format("  {} {}, first: {}\n", count[i], to_string(static_cast<Outcome>(i)), msg);
  }
  return s;
}

}  // namespace kcc::tuner
