// codegen/target.h - what kcc compiles for.
#pragma once
#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace kcc {

enum class Arch : uint8_t { X86_64, AArch64, NVPTX };

/// Options that change the generated code without changing the machine. They are part of the
/// target key, so a registry entry or a tuning record says which code it measured.
struct CodegenOptions {
  /// LLVM's own loop unrolling in the O3 pipeline (kcc's register tiles rely on it when the
  /// schedule does not unroll them; docs/decisions.md 9). `--llvm-unroll=off` turns it off.
  bool llvm_unroll = true;
};

/// A compilation target: everything the code generators, the default schedule, the verifier
/// and the tuner need to know about the machine.
struct Target {
  std::string name;       ///< as given: host, x86_64-avx2, x86_64-avx512, ...
  Arch arch = Arch::X86_64;
  std::string triple;     ///< LLVM triple
  std::string cpu;        ///< LLVM cpu name
  std::string features;   ///< LLVM feature string (+avx2,+fma,...)
  /// The instruction-set features that change generated code and that the cpu + features
  /// enable (avx2, fma, avx512f, ..., sve, ...; see target.cpp), sorted. The key holds these
  /// instead of the whole feature string.
  std::set<std::string> isa;
  int vector_bits = 128;  ///< preferred vector register width for f32 code
  bool scalable_vectors = false;  ///< SVE vector-length-agnostic code
  int cores = 1;
  /// Floating-point multiply-add pipes per core and their latency in cycles: a register tile
  /// needs fma_units x fma_latency independent accumulators to keep every pipe busy (2 x 4 on
  /// current x86 and Neoverse cores, 2 x 9 on A64FX).
  int fma_units = 2, fma_latency = 4;
  int64_t l1_bytes = 32 << 10, l2_bytes = 1 << 20, l3_bytes = 32 << 20;
  // GPU limits (NVPTX only).
  int sm = 0;
  int max_threads_per_block = 0;
  int64_t max_shared_bytes = 0;   ///< per block, including the dynamic opt-in above 48 KiB
  int max_registers_per_thread = 0;
  int max_registers_per_block = 0;
  CodegenOptions options;

  /// f32 lanes in a preferred vector register.
  int f32_lanes() const { return vector_bits / 32; }
  /// Architectural vector registers the code may keep values in: 32 with AVX-512 (zmm0-31),
  /// 16 with AVX/AVX2 (ymm0-15), 32 on AArch64 (NEON v0-31, SVE z0-31); 0 on GPUs.
  int vector_registers() const;
  /// A stable key for databases and registries, of what the code depends on:
  /// "triple;cpu;isa,features;v<vector bits>[;option,...]", e.g.
  /// "x86_64-pc-linux-gnu;znver4;avx,avx2,avx512bw,...;v512" (options only when not default).
  std::string key() const;
  /// For people: "host (znver4, x86_64, AVX-512)", "aarch64-a64fx (a64fx, SVE 512)".
  std::string description() const;
  bool is_gpu() const { return arch == Arch::NVPTX; }
};

/// A Target::key() read back (also the long keys of earlier kcc versions, whose third field
/// is the whole LLVM feature string "+a,-b,..."; its code-relevant enabled features are kept).
struct TargetKey {
  std::string triple, cpu;
  std::set<std::string> isa;
  int vector_bits = 0;
  std::string options;  ///< the key's options field ("" = defaults)
  /// nullopt when `key` does not have the form of a target key.
  static std::optional<TargetKey> parse(const std::string &key);
};

/// How a schedule recorded for one target key may serve a target. A schedule is correct on
/// every CPU of its instruction set, only its speed differs, so:
enum class KeyMatch : uint8_t {
  Exact,       ///< recorded for this very target (same key)
  Compatible,  ///< another CPU (or options) of the same triple whose ISA the target has: usable
  Foreign,     ///< needs features the target lacks, another triple, or not a key: never used
};
/// Compares a recorded key with `t`; `why` (if given) says what differs, for messages:
/// "tuned on znver4" / "needs avx512f, avx512bw, which x86_64-avx2 lacks".
KeyMatch match_target_key(const std::string &recorded, const Target &t, std::string *why = nullptr);

/// Resolves a target name with optional --mcpu / --mattr overrides ("" = the target's default).
/// Known: host, x86_64-avx2, x86_64-avx512, aarch64-neon, aarch64-sve, aarch64-a64fx,
/// nvptx-sm_70, nvptx-sm_80, nvptx-sm_86, nvptx-sm_90.
/// Throws UserError (no location) naming the known targets when `name` is unknown.
Target make_target(const std::string &name, const std::string &mcpu = "", const std::string &mattr = "");

}  // namespace kcc
