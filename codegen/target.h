// codegen/target.h - what kcc compiles for.
#pragma once
#include <cstdint>
#include <string>

namespace kcc {

enum class Arch : uint8_t { X86_64, AArch64, NVPTX };

/// A compilation target: everything the code generators, the default schedule, the verifier
/// and the tuner need to know about the machine.
struct Target {
  std::string name;       ///< as given: host, x86_64-avx2, x86_64-avx512, ...
  Arch arch = Arch::X86_64;
  std::string triple;     ///< LLVM triple
  std::string cpu;        ///< LLVM cpu name
  std::string features;   ///< LLVM feature string (+avx2,+fma,...)
  int vector_bits = 128;  ///< preferred vector register width for f32 code
  bool scalable_vectors = false;  ///< SVE vector-length-agnostic code
  int cores = 1;
  int64_t l1_bytes = 32 << 10, l2_bytes = 1 << 20, l3_bytes = 32 << 20;
  // GPU limits (NVPTX only).
  int sm = 0;
  int max_threads_per_block = 0;
  int64_t max_shared_bytes = 0;   ///< per block, including the dynamic opt-in above 48 KiB
  int max_registers_per_thread = 0;
  int max_registers_per_block = 0;

  /// f32 lanes in a preferred vector register.
  int f32_lanes() const { return vector_bits / 32; }
  /// A stable key for databases and registries: triple, cpu and features.
  std::string key() const;
  bool is_gpu() const { return arch == Arch::NVPTX; }
};

/// Resolves a target name with optional --mcpu / --mattr overrides ("" = the target's default).
/// Known: host, x86_64-avx2, x86_64-avx512, aarch64-neon, aarch64-sve, aarch64-a64fx,
/// nvptx-sm_70, nvptx-sm_80, nvptx-sm_86, nvptx-sm_90.
/// Throws UserError (no location) naming the known targets when `name` is unknown.
Target make_target(const std::string &name, const std::string &mcpu = "", const std::string &mattr = "");

}  // namespace kcc
