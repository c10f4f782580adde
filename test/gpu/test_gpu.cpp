// test/gpu/test_gpu.cpp - NVPTX targets without a GPU (CI) and with one (when a driver exists).
//
//  * Ptxas: every kernel of test/correctness/kernels.ir with the default GPU schedule, and the
//    hand GPU schedules of gpu_schedules.ir, compiled for sm_80 and sm_90; the PTX must pass
//    `ptxas -arch=sm_XX -v`, and the registers and shared memory ptxas reports must fit the
//    Target's limits for the launch's block size.
//  * SerialMeaning: the same GPU loop IR, with its block/thread loops run as serial loops and its
//    shared buffers as local ones (the sequential meaning in ir/gpu_launch.h), JIT-compiled
//    for the host and compared with the reference interpreter: checks the GPU lowering (regions
//    of shared-memory stages, launches per root stage) on machines without a GPU.
//  * Runtime: without a driver, launches fail cleanly with KCC_ERR_NO_CUDA_DRIVER.
//  * OnDevice: with a driver, every kernel and schedule runs on the GPU against the interpreter;
//    skipped with "no CUDA driver (libcuda.so.1 not found)" otherwise.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <array>
#include <map>
#include <regex>
#include <sstream>

#include "../support/kernel_check.h"
#include "../support/gpu_serial.h"
#include "../support/suite_files.h"
#include "ir/gpu_launch.h"
#include "ir/visitor.h"
#include "kcc_runtime.h"
#include "passes/schedule_error.h"

namespace kcc::test {
namespace {

const char *kPtxas = "/usr/local/cuda/bin/ptxas";

const Module &suite() { return correctness_suite(); }

std::vector<Schedule> gpu_schedules() { return source_schedules("test/gpu/gpu_schedules.ir"); }

/// (kernel, schedule label, schedule) for every GPU case.
struct Case {
  const Kernel *kernel;
  std::string label;
  Schedule schedule;
};

std::vector<Case> cases(const Target &t) {
  std::vector<Case> out;
  for (auto &k : suite().kernels) out.push_back({&k, "default", default_schedule(k, t)});
  std::map<std::string, int> n;
  for (auto &s : gpu_schedules()) {
    const Kernel *k = suite().find_kernel(s.kernel);
    if (k) out.push_back({k, fmt::format("hand{}", n[s.kernel]++), s});
  }
  return out;
}

// ------------------------------------------------------------------ ptxas

struct PtxasEntry {
  int registers = -1;
  int64_t smem = 0;
};

/// Per entry function: "Used N registers, used B barriers, S bytes smem" lines of ptxas -v.
std::map<std::string, PtxasEntry> parse_ptxas(const std::string &log) {
  std::map<std::string, PtxasEntry> out;
  std::regex fn(R"(Function properties for (\S+))"), used(R"(Used (\d+) registers)"), smem(R"((\d+) bytes smem)");
  std::string cur;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, fn)) cur = m[1];
    if (!cur.empty() && std::regex_search(line, m, used)) out[cur].registers = std::stoi(m[1]);
    if (!cur.empty() && std::regex_search(line, m, smem)) out[cur].smem = std::stoll(m[1]);
  }
  return out;
}

class Ptxas : public ::testing::TestWithParam<std::string> {};

TEST_P(Ptxas, EveryKernelAssemblesWithinLimits) {
  if (!std::filesystem::exists(kPtxas)) GTEST_SKIP() << "ptxas not found at " << kPtxas << " (CUDA not installed)";
  const Target t = make_target("nvptx-" + GetParam());
  const std::string dir = std::string(KCC_BINARY_DIR) + "/test_gpu_ptx";
  std::filesystem::create_directories(dir);
  for (const Case &c : cases(t)) {
    SCOPED_TRACE(c.kernel->name + " " + c.label + " on " + t.name);
    LoweredFunc f = lower_kernel(*c.kernel, c.schedule, t);
    ASSERT_TRUE(f.gpu) << "lowering made no launch plan";
    const GpuLaunchPlan &plan = *f.gpu;
    CompiledModule cm = generate_code({f}, t, c.kernel->name);
    cm.optimize();
    const std::string ptx = cm.assembly();
    ASSERT_NE(ptx.find(".target " + GetParam()), std::string::npos);
    ASSERT_FALSE(cm.object().empty());
    const std::string base = fmt::format("{}/{}_{}_{}", dir, c.kernel->name, c.label, GetParam());
    std::ofstream(base + ".ptx") << ptx;
    const std::string cmd = fmt::format("{} -arch={} -v {}.ptx -o {}.cubin > {}.log 2>&1", kPtxas, GetParam(), base,
                                        base, base);
    int rc = std::system(cmd.c_str());
    const std::string log = read_file(base + ".log");
    ASSERT_EQ(rc, 0) << "ptxas rejected " << base << ".ptx:\n" << log;
    auto entries = parse_ptxas(log);
    ASSERT_EQ(entries.size(), plan.launches.size()) << log;
    for (size_t i = 0; i < plan.launches.size(); ++i) {
      const std::string name = f.name + "_k" + std::to_string(i);
      ASSERT_TRUE(entries.count(name)) << name << " missing in:\n" << log;
      const PtxasEntry &e = entries[name];
      const GpuLaunch &l = plan.launches[i];
      EXPECT_GT(e.registers, 0) << log;
      EXPECT_LE(e.registers, t.max_registers_per_thread) << log;
      EXPECT_LE(int64_t(e.registers) * l.threads(), t.max_registers_per_block) << log;
      EXPECT_LE(e.smem + l.shared_bytes, t.max_shared_bytes) << log;
      EXPECT_LE(l.threads(), t.max_threads_per_block);
      std::printf("[ptxas %s] %-10s %-8s %-14s block %lldx%lldx%lld grid %lldx%lldx%lld regs %3d shared %lld B\n",
                  GetParam().c_str(), c.kernel->name.c_str(), c.label.c_str(), name.c_str(), (long long)l.block[0],
                  (long long)l.block[1], (long long)l.block[2], (long long)l.grid[0], (long long)l.grid[1],
                  (long long)l.grid[2], e.registers, (long long)(e.smem + l.shared_bytes));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Arch, Ptxas, ::testing::Values("sm_80", "sm_90"), [](const auto &i) { return i.param; });

TEST(PtxGeneration, Sm70AndSm86AreGeneratedToo) {
  // CUDA 13's ptxas has no sm_70: its PTX is generated but not assembled here.
  for (const char *arch : {"sm_70", "sm_86"}) {
    Target t = make_target(std::string("nvptx-") + arch);
    const Kernel &k = kernel_of(suite(), "matmul");
    CompiledModule cm = generate_code({lower_kernel(k, default_schedule(k, t), t)}, t, "m");
    EXPECT_NE(cm.assembly().find(std::string(".target ") + arch), std::string::npos);
  }
}

TEST(PtxGeneration, AlignedVectorLoadsAre16Bytes) {
  Module m = parse_module("v.ir", "kernel scale(X: f32[64, 64]) -> Y: f32[64, 64] {\n  Y[i, j] = X[i, j] * 2.0\n}\n"
                                  "schedule scale {\n  split Y.j [4] -> j0 j1\n  bind Y.i block.x\n"
                                  "  bind Y.j0 thread.x\n  vectorize Y.j1\n}\n");
  Target t = make_target("nvptx-sm_90");
  const Kernel &k = kernel_of(m, "scale");
  CompiledModule cm = generate_code({lower_kernel(k, *m.find_schedule("scale"), t)}, t, "v");
  const std::string ptx = cm.assembly();
  EXPECT_NE(ptx.find("ld.global.nc.v4.f32"), std::string::npos) << ptx;
  EXPECT_NE(ptx.find("st.global.v4.f32"), std::string::npos) << ptx;
}

const char *kTwoLaunches =
    "kernel two(X: f32[64, 32]) -> Y: f32[64, 32] {\n  T[i, j] = X[i, j] * 2.0\n  Y[i, j] = T[i, j] + 1.0\n}\n"
    "schedule two {\n  bind T.i block.x\n  bind T.j thread.x\n  bind Y.i block.x\n  bind Y.j thread.x\n}\n";

TEST(GpuLowering, TheLaunchPlanComesWithTheLoweredFunction) {
  // Made once, by the pipeline's verify step, for the body the function ends with; CPU
  // functions have none.
  Module m = parse_module("two.ir", kTwoLaunches);
  const Kernel &k = kernel_of(m, "two");
  LoweredFunc f = lower_kernel(k, *m.find_schedule("two"), make_target("nvptx-sm_90"));
  ASSERT_TRUE(f.gpu);
  EXPECT_TRUE(f.gpu->body.same_as(f.body));
  ASSERT_EQ(f.gpu->launches.size(), 2u);  // one per root stage
  for (const GpuLaunch &l : f.gpu->launches) {
    EXPECT_EQ(l.grid, (std::array<int64_t, 3>{64, 1, 1}));
    EXPECT_EQ(l.block, (std::array<int64_t, 3>{32, 1, 1}));
  }
  ASSERT_EQ(f.gpu->scratch.size(), 1u);  // T, between the launches
  EXPECT_EQ(f.gpu->scratch[0]->name, "T");
  EXPECT_FALSE(lower_kernel(k, default_schedule(k, make_target("host")), make_target("host")).gpu);
}

TEST(PtxGeneration, RefusesAFunctionWithoutTheLaunchPlanOfItsBody) {
  // The generator never plans launches itself: a missing or stale plan is a kcc bug.
  Module m = parse_module("two.ir", kTwoLaunches);
  const Kernel &k = kernel_of(m, "two");
  const Target t = make_target("nvptx-sm_90");
  LoweredFunc f = lower_kernel(k, *m.find_schedule("two"), t);
  LoweredFunc without = f;
  without.gpu.reset();
  EXPECT_THROW(generate_code({without}, t, "m"), InternalError);
  LoweredFunc stale = lower_kernel(k, *m.find_schedule("two"), t);  // another body, f's plan
  stale.gpu = f.gpu;
  EXPECT_THROW(generate_code({stale}, t, "m"), InternalError);
  EXPECT_NO_THROW(generate_code({f}, t, "m"));
}

// ------------------------------------------------------------------ sequential meaning on the CPU

CheckResult run_serial(const Kernel &k, const Schedule &s, const Target &gpu) {
  return check_lowered(k, serial_meaning(lower_kernel(k, s, gpu)), 2e-4, 7);
}

TEST(GpuLowering, SerialMeaningMatchesInterpreter) {
  const Target t = make_target("nvptx-sm_90");
  for (const Case &c : cases(t)) {
    SCOPED_TRACE(c.kernel->name + " " + c.label);
    auto r = run_serial(*c.kernel, c.schedule, t);
    EXPECT_TRUE(r.ok) << r.message;
  }
}

TEST(GpuLowering, UnboundRootStageIsRejectedAtTheSchedule) {
  const Target t = make_target("nvptx-sm_90");
  const Kernel &k = kernel_of(suite(), "transpose");
  auto s = parse_schedules("t.ir", "\nschedule transpose {\n}\n");
  try {
    lower_kernel(k, s[0], t);
    FAIL() << "no error";
  } catch (const ScheduleError &e) {
    EXPECT_NE(std::string(e.what()).find(
                  "on a GPU target every stage's outer loops must be bound; stage 'Y' has unbound loop 'i'"),
              std::string::npos)
        << e.what();
    // No step lacks the binding: the error points at the schedule.
    EXPECT_EQ(e.step_index(), 0);
    EXPECT_EQ(e.primitive(), "");
    EXPECT_EQ(e.loc().line, 2);
  }
}

TEST(GpuLowering, BlockLoopInsideThreadLoopNamesItsBindStep) {
  const Target t = make_target("nvptx-sm_90");
  const Kernel &k = kernel_of(suite(), "transpose");
  auto s = parse_schedules("t.ir", "schedule transpose {\n  bind Y.i thread.x\n  bind Y.j block.x\n}\n");
  try {
    lower_kernel(k, s[0], t);
    FAIL() << "no error";
  } catch (const ScheduleError &e) {
    EXPECT_NE(std::string(e.what()).find("block loop 'j' of stage 'Y' must be outside"), std::string::npos)
        << e.what();
    EXPECT_EQ(e.step_index(), 2) << e.what();
    EXPECT_EQ(e.primitive(), "bind");
    EXPECT_EQ(e.loc().line, 3);
  }
}

TEST(GpuLowering, SharedCacheWriteIsRefusedAtItsStep) {
  const Target t = make_target("nvptx-sm_90");
  const Kernel &k = kernel_of(suite(), "transpose");
  auto s = parse_schedules("t.ir", "schedule transpose {\n  bind Y.i block.x\n  cache_write Y shared at Y.j\n}\n");
  try {
    lower_kernel(k, s[0], t);
    FAIL() << "no error";
  } catch (const ScheduleError &e) {
    EXPECT_EQ(e.kind(), ScheduleErrorKind::IllegalCache) << e.what();
    EXPECT_EQ(e.step_index(), 2) << e.what();
    EXPECT_EQ(e.primitive(), "cache_write");
    EXPECT_EQ(e.loc().line, 3);
  }
}

TEST(GpuLowering, TooManyThreadsIsRejectedBeforeBuilding) {
  const Target t = make_target("nvptx-sm_90");
  const Kernel &k = kernel_of(suite(), "transpose");  // Y: 23 x 19
  auto big = parse_schedules("t.ir", "schedule transpose {\n  fuse Y i j -> f\n  split Y.f [2048] -> b t\n"
                                     "  bind Y.b block.x\n  bind Y.t thread.x\n}\n");
  try {
    lower_kernel(k, big[0], t);
    FAIL() << "2048 threads per block accepted";
  } catch (const ScheduleError &e) {
    EXPECT_EQ(e.kind(), ScheduleErrorKind::LimitExceeded) << e.what();
    EXPECT_NE(std::string(e.what()).find("2048 threads per block"), std::string::npos) << e.what();
    // The bind that made the block too wide, with its place.
    EXPECT_EQ(e.step_index(), 4) << e.what();
    EXPECT_EQ(e.primitive(), "bind");
    EXPECT_EQ(e.loop(), "t");
    EXPECT_EQ(e.loc().line, 5);
  }
}

TEST(GpuLowering, TooMuchSharedMemoryNamesTheCacheReadStep) {
  const Target t = make_target("nvptx-sm_90");
  // One block reads 8 rows of A: 8 x 8192 floats = 256 KiB of shared memory.
  Module m = parse_module("s.ir", "kernel rows(A: f32[64, 8192]) -> Y: f32[64] {\n  Y[i] = sum(k) A[i, k]\n}\n");
  auto s = parse_schedules("s.ir", "schedule rows {\n  split Y.i [8] -> i0 i1\n  bind Y.i0 block.x\n"
                                   "  bind Y.i1 thread.x\n  cache_read A shared at Y.i0 -> As\n}\n");
  try {
    lower_kernel(kernel_of(m, "rows"), s[0], t);
    FAIL() << "256 KiB of shared memory accepted";
  } catch (const ScheduleError &e) {
    EXPECT_EQ(e.kind(), ScheduleErrorKind::LimitExceeded) << e.what();
    EXPECT_NE(std::string(e.what()).find("bytes of shared memory per block exceed"), std::string::npos) << e.what();
    EXPECT_EQ(e.step_index(), 4) << e.what();
    EXPECT_EQ(e.primitive(), "cache_read");
    EXPECT_EQ(e.loc().line, 5);
  }
}

// ------------------------------------------------------------------ runtime and device

TEST(CudaRuntime, NoDriverIsAClearError) {
  if (kcc_cuda_available()) GTEST_SKIP() << "a CUDA driver is present";
  uint32_t dims[7] = {1, 1, 1, 1, 1, 1, 0};
  void *mod = nullptr, *fn = nullptr;
  EXPECT_EQ(kcc_cuda_launch("", &mod, "k", &fn, dims, nullptr, nullptr), KCC_ERR_NO_CUDA_DRIVER);
  EXPECT_NE(std::string(kcc_cuda_last_error()).find("no CUDA driver"), std::string::npos) << kcc_cuda_last_error();
  EXPECT_NE(std::string(kcc_error_string(KCC_ERR_NO_CUDA_DRIVER)).find("libcuda.so.1"), std::string::npos);
  void *p = reinterpret_cast<void *>(1);
  EXPECT_EQ(kcc_cuda_alloc(&p, 16, nullptr), KCC_ERR_NO_CUDA_DRIVER);
  EXPECT_EQ(p, nullptr);
}

TEST(CudaRuntime, NullDevicePointerIsAnErrorBeforeAnyRuntimeCall) {
  // The host stub returns KCC_ERR_NULL_ARGUMENT for a NULL tensor, with or without a driver
  // (without the check it would reach kcc_cuda_launch); the stream may be NULL.
  Module m = parse_module("n.ir", "kernel add(A: f32[64], B: f32[64]) -> C: f32[64] {\n  C[i] = A[i] + B[i]\n}\n");
  const Target t = make_target("nvptx-sm_90");
  const Kernel &k = kernel_of(m, "add");
  CompiledModule cm = generate_code({lower_kernel(k, default_schedule(k, t), t)}, t, "n");
  cm.optimize();
  auto jit = JitModule::create(std::move(cm));
  void *fn = jit->lookup("add");
  int fake[4];  // never dereferenced on the host: the stub returns before any launch
  for (size_t null_at = 0; null_at < 3; ++null_at) {
    std::vector<void *> args{fake, fake + 1, fake + 2, nullptr};
    args[null_at] = nullptr;
    EXPECT_EQ(call_kernel(fn, args), KCC_ERR_NULL_ARGUMENT) << null_at;
  }
}

TEST(OnDevice, EveryKernelMatchesInterpreter) {
  if (!kcc_cuda_available()) GTEST_SKIP() << "no CUDA driver (libcuda.so.1 not found): " << kcc_cuda_last_error();
  const char *arch = std::getenv("KCC_TEST_GPU_ARCH");  // default sm_90 (H100)
  const Target t = make_target(std::string("nvptx-") + (arch ? arch : "sm_90"));
  for (const Case &c : cases(t)) {
    SCOPED_TRACE(c.kernel->name + " " + c.label);
    const Kernel &k = *c.kernel;
    CompiledModule cm = generate_code({lower_kernel(k, c.schedule, t)}, t, k.name);
    cm.optimize();
    auto jit = JitModule::create(std::move(cm));
    auto inputs = random_inputs(k, 3);
    auto ref = interpret(k, inputs);
    std::vector<void *> dev;
    std::vector<size_t> bytes;
    for (auto &v : inputs) bytes.push_back(v.size() * sizeof(float));
    for (auto &o : k.outputs) bytes.push_back(static_cast<size_t>(o->num_elements()) * sizeof(float));
    for (size_t i = 0; i < bytes.size(); ++i) {
      void *p = nullptr;
      ASSERT_EQ(kcc_cuda_alloc(&p, bytes[i], nullptr), 0) << kcc_cuda_last_error();
      dev.push_back(p);
      if (i < inputs.size()) {
        ASSERT_EQ(kcc_cuda_copy(p, inputs[i].data(), bytes[i], 1), 0);
      }
    }
    std::vector<void *> args = dev;
    args.push_back(nullptr);  // the default stream
    ASSERT_EQ(call_kernel(jit->lookup(k.name), args), 0) << kcc_cuda_last_error();
    ASSERT_EQ(kcc_cuda_synchronize(), 0) << kcc_cuda_last_error();
    for (size_t o = 0; o < k.outputs.size(); ++o) {
      std::vector<float> out(bytes[inputs.size() + o] / sizeof(float));
      ASSERT_EQ(kcc_cuda_copy(out.data(), dev[inputs.size() + o], bytes[inputs.size() + o], 0), 0);
      for (size_t i = 0; i < out.size(); ++i)
        ASSERT_LE(std::fabs(out[i] - ref[o][i]), 2e-4 * (1 + std::fabs(ref[o][i]))) << "element " << i;
    }
    for (void *p : dev) kcc_cuda_free(p, nullptr);
    kcc_cuda_synchronize();
  }
}

}  // namespace
}  // namespace kcc::test
