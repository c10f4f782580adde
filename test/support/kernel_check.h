// test/support/kernel_check.h - run a kernel compiled by kcc (JIT) and compare it with the
// reference interpreter on random data. Header-only; used by the lowering and correctness tests.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "codegen/codegen.h"
#include "codegen/target.h"
#include "ir/interp.h"
#include "ir/parser.h"
#include "passes/pipeline.h"

namespace kcc::test {

/// Random inputs in [-1, 1] (never all zeros), one vector per kernel input (ir/interp.h).
using kcc::random_inputs;

struct CheckResult {
  bool ok = true;
  std::string message;
};

/// Compiles the lowered `f` (a kernel of `k`) for the host, runs it once on random inputs with
/// NaN-poisoned outputs and compares every output element with the interpreter (float64):
/// |out - ref| <= tol * (1 + |ref|). `context` is appended to a failure message.
inline CheckResult check_lowered(const Kernel &k, const LoweredFunc &f, double tol = 2e-4, unsigned seed = 1,
                                 const std::string &context = "") {
  Target t = make_target("host");
  CompiledModule cm = generate_code({f}, t, k.name);
  cm.optimize();
  auto jit = JitModule::create(std::move(cm));
  void *fn = jit->lookup(f.name);
  auto inputs = random_inputs(k, seed);
  auto ref = interpret(k, inputs);
  std::vector<std::vector<float>> outs;
  for (auto &o : k.outputs)
    outs.emplace_back(static_cast<size_t>(o->num_elements()), std::numeric_limits<float>::quiet_NaN());
  std::vector<void *> args;
  for (auto &v : inputs) args.push_back(v.data());
  for (auto &v : outs) args.push_back(v.data());
  int rc = call_kernel(fn, args);
  if (rc != 0) return {false, "kernel returned status " + std::to_string(rc)};
  for (size_t o = 0; o < outs.size(); ++o) {
    for (size_t i = 0; i < outs[o].size(); ++i) {
      double r = ref[o][i], x = outs[o][i];
      if (!(std::fabs(x - r) <= tol * (1 + std::fabs(r)))) {
        return {false, "output '" + k.outputs[o]->name + "' element " + std::to_string(i) + ": got " +
                           std::to_string(x) + ", expected " + std::to_string(r) + context + "\nlowered:\n" +
                           to_string(f)};
      }
    }
  }
  return {};
}

/// Lowers `k` with `s` for the host and checks it with check_lowered.
inline CheckResult check_kernel(const Kernel &k, const Schedule &s, double tol = 2e-4, unsigned seed = 1) {
  return check_lowered(k, lower_kernel(k, s, make_target("host")), tol, seed, "\nschedule:\n" + to_string(s));
}

/// Parses `text` as a model and returns the kernel named `name` (kept alive by the module).
inline const Kernel &kernel_of(const Module &m, const std::string &name) {
  const Kernel *k = m.find_kernel(name);
  if (!k) throw std::runtime_error("no kernel " + name);
  return *k;
}

}  // namespace kcc::test
