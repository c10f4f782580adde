// Integer reductions (min, max, sum, an argmax written as max + min-of-select) of every integer
// type, compiled for every x86-64 target this machine can run (host, x86_64-avx2, x86_64-avx512)
// under default, hand (rfactor with a tail, cache_write, vectorized column reductions) and random
// schedules, compared exactly with the reference interpreter. Each kernel runs on two data sets:
// the whole range of the type, and values of one sign (a max over negative values, a min over
// positive ones) that an identity of 0 or of the wrong extreme gets wrong.
// On NVPTX (sm_80, sm_90) the default GPU schedule's PTX must pass ptxas (skipped without CUDA)
// and its sequential meaning (test/support/gpu_serial.h) must match the interpreter exactly.
// The kernels, schedules and data sets are in test/support/int_reductions.h; the AArch64 targets
// run the same cases under qemu (test/aarch64, aarch64_int_reductions_*).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "../support/gpu_serial.h"
#include "../support/int_reductions.h"
#include "../support/ptxas.h"
#include "codegen/codegen.h"
#include "codegen/target.h"

namespace kcc::test {
namespace {

/// The x86-64 targets this machine runs: every one whose base ISA the host has.
std::vector<Target> runnable_targets() {
  Target host = make_target("host");
  std::vector<Target> out = {host};
  for (const char *name : {"x86_64-avx2", "x86_64-avx512"}) {
    if (host.arch != Arch::X86_64) break;
    Target t = make_target(name);
    if (match_target_key(t.key(), host) != KeyMatch::Foreign) out.push_back(t);
  }
  return out;
}

/// Runs `f` (a lowering of `k`), compiled for the host-runnable `t`, against the interpreter on
/// every data set of `k`, outputs poisoned; "" when all outputs match exactly.
std::string check(const Kernel &k, const LoweredFunc &f, const Target &t) {
  CompiledModule cm = generate_code({f}, t, k.name);
  cm.optimize();
  auto jit = JitModule::create(std::move(cm));
  void *fn = jit->lookup(f.name);
  for (const IntDataSet &d : int_data_sets(k)) {
    std::vector<std::vector<unsigned char>> bufs;
    for (size_t i = 0; i < k.inputs.size(); ++i) bufs.push_back(int_pack(*k.inputs[i], d.inputs[i]));
    for (auto &o : k.outputs)  // poisoned: 0x5a in every byte
      bufs.emplace_back(static_cast<size_t>(o->num_elements() * int_bytes(o->elem)), 0x5a);
    std::vector<void *> args;
    for (auto &b : bufs) args.push_back(b.data());
    if (int rc = call_kernel(fn, args); rc != 0) return fmt::format("status {}", rc);
    for (size_t o = 0; o < k.outputs.size(); ++o) {
      const auto &out = bufs[k.inputs.size() + o];
      for (size_t i = 0; i < d.expected[o].size(); ++i) {
        int64_t want = static_cast<int64_t>(d.expected[o][i]), got = int_element(*k.outputs[o], out, i);
        if (got != want)
          return fmt::format("{} data, output '{}' element {}: got {}, expected {}", d.label, k.outputs[o]->name, i,
                             got, want);
      }
    }
  }
  return "";
}

class IntReductions : public ::testing::TestWithParam<std::string> {};

TEST_P(IntReductions, MatchTheInterpreterOnEveryRunnableTarget) {
  Module m = parse_module("int_reductions.ir", int_reduction_kernels(GetParam()));
  ASSERT_EQ(m.kernels.size(), 6u);
  for (const Target &t : runnable_targets())
    for (const Kernel &k : m.kernels)
      for (auto &[what, s] : int_reduction_schedules(k, t))
        EXPECT_EQ(check(k, lower_kernel(k, s, t), t), "")
            << k.name << " on " << t.description() << ", " << what << " schedule:\n"
            << to_string(s);
}

TEST_P(IntReductions, DefaultGpuScheduleAssemblesAndMeansWhatTheInterpreterComputes) {
  Module m = parse_module("int_reductions.ir", int_reduction_kernels(GetParam()));
  const std::string dir = std::string(KCC_BINARY_DIR) + "/test/correctness/int_reductions_ptx";
  std::filesystem::create_directories(dir);
  if (!have_ptxas()) std::printf("[  SKIPPED ] ptxas not found at %s: PTX not assembled\n", kPtxas);
  const Target host = make_target("host");
  for (const char *name : {"nvptx-sm_80", "nvptx-sm_90"}) {
    const Target t = make_target(name);
    for (const Kernel &k : m.kernels) {
      SCOPED_TRACE(k.name + " on " + t.name);
      LoweredFunc f = lower_kernel(k, default_schedule(k, t), t);
      if (have_ptxas()) {
        EXPECT_EQ(ptxas_errors(f, t, fmt::format("{}/{}_{}", dir, k.name, t.cpu)), "");
      }
      EXPECT_EQ(check(k, serial_meaning(f), host), "");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, IntReductions, ::testing::ValuesIn(int_types()),
                         [](const auto &info) { return info.param; });

}  // namespace
}  // namespace kcc::test
