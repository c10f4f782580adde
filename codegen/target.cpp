// codegen/target.cpp - target names -> Target (triple, cpu, features, vector width, caches).
//
// Targets are rows of one table. Adding AArch64 (neon, sve, a64fx) or NVPTX (sm_80, sm_90) is a
// new row plus, for a new architecture, its LLVM initialization in init_llvm_targets() and its
// generator behind generate_code(); nothing here branches on target names.
#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "codegen/llvm_support.h"
#include "codegen/target.h"
#include "ir/diag.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

namespace kcc {

namespace {

/// One known target. `cpu == "host"` means: detect the host CPU and its features.
struct TargetRow {
  const char *name;
  Arch arch;
  const char *triple;
  const char *cpu;
  const char *features;
  int vector_bits;  ///< nominal preferred width; 0 = from the features (host)
  // Optional columns (0 / false = the Target defaults, or what the host reports).
  bool scalable = false;  ///< vector-length-agnostic SVE: vector_bits is the minimum (128)
  int cores = 0;          ///< cores of the machine the code runs on (cross targets)
  int64_t l1 = 0, l2 = 0, l3 = 0;  ///< data cache bytes per core (l2/l3: per shared group); l3 -1 = none
};

const TargetRow kTargets[] = {
    {"host", Arch::X86_64, "", "host", "", 0},
    {"x86_64-avx2", Arch::X86_64, "x86_64-pc-linux-gnu", "x86-64-v3", "", 256},
    {"x86_64-avx512", Arch::X86_64, "x86_64-pc-linux-gnu", "x86-64-v4", "", 512},
    // AArch64 (codegen/cpu_aarch64.cpp). neon/sve: a Neoverse-class server (64K L1D, 1M L2,
    // 32M shared L3). a64fx: Fujitsu A64FX, 48 cores in 4 groups of 12 sharing an 8M L2, no
    // L3, 512-bit SVE without SVE2 (vscale_range(4,4)).
    {"aarch64-neon", Arch::AArch64, "aarch64-unknown-linux-gnu", "generic", "+neon", 128, false, 0, 64 << 10, 1 << 20, 32 << 20},
    {"aarch64-sve", Arch::AArch64, "aarch64-unknown-linux-gnu", "generic", "+neon,+sve", 128, true, 0, 64 << 10, 1 << 20, 32 << 20},
    {"aarch64-a64fx", Arch::AArch64, "aarch64-unknown-linux-gnu", "a64fx", "", 512, false, 48, 64 << 10, 8 << 20, -1},
    // NVPTX (codegen/codegen_nvptx.cpp): +ptx80 everywhere, so that sm_90 does not fall back to
    // PTX ISA 7.8; vector_bits 128 = the widest global load (ld.v4.f32); cores = SMs of an
    // H100 SXM (the tuner's parallelism heuristics); per-block limits in set_gpu_limits().
    {"nvptx-sm_70", Arch::NVPTX, "nvptx64-nvidia-cuda", "sm_70", "+ptx80", 128, false, 80},
    {"nvptx-sm_80", Arch::NVPTX, "nvptx64-nvidia-cuda", "sm_80", "+ptx80", 128, false, 108},
    {"nvptx-sm_86", Arch::NVPTX, "nvptx64-nvidia-cuda", "sm_86", "+ptx80", 128, false, 84},
    {"nvptx-sm_90", Arch::NVPTX, "nvptx64-nvidia-cuda", "sm_90", "+ptx80", 128, false, 132},
};

std::string known_target_names() {
  std::string s;
  for (const auto &r : kTargets) s += (s.empty() ? "" : ", ") + std::string(r.name);
  return s;
}

Arch arch_of_triple(const llvm::Triple &t) {
  switch (t.getArch()) {
    case llvm::Triple::aarch64: return Arch::AArch64;
    case llvm::Triple::nvptx64: return Arch::NVPTX;
    default: return Arch::X86_64;
  }
}

/// "+a,+b,-c" sorted by name so that keys are stable across runs.
std::string host_features() {
  std::vector<std::string> fs;
  for (const auto &kv : llvm::sys::getHostCPUFeatures())
    fs.push_back(std::string(kv.second ? "+" : "-") + kv.getKey().str());
  std::sort(fs.begin(), fs.end(), [](const std::string &a, const std::string &b) {
    return a.substr(1) < b.substr(1);
  });
  std::string s;
  for (auto &f : fs) s += (s.empty() ? "" : ",") + f;
  return s;
}

std::string join_features(const std::string &a, const std::string &b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "," + b;
}

/// Reads "32K", "1024K", "32M" from sysfs cache descriptions.
int64_t parse_cache_size(const std::string &s) {
  if (s.empty()) return 0;
  int64_t v = 0;
  size_t i = 0;
  while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) v = v * 10 + (s[i++] - '0');
  if (i < s.size() && (s[i] == 'K' || s[i] == 'k')) v <<= 10;
  if (i < s.size() && (s[i] == 'M' || s[i] == 'm')) v <<= 20;
  return v;
}

std::string read_line(const std::string &path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

/// Host caches from /sys (data/unified caches of cpu0); leaves defaults when absent.
void read_host_caches(Target &t) {
  for (int i = 0; i < 8; ++i) {
    std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::string level = read_line(dir + "level");
    if (level.empty()) break;
    std::string type = read_line(dir + "type");
    if (type == "Instruction") continue;
    int64_t size = parse_cache_size(read_line(dir + "size"));
    if (size <= 0) continue;
    if (level == "1") t.l1_bytes = size;
    if (level == "2") t.l2_bytes = size;
    if (level == "3") t.l3_bytes = size;
  }
}

/// The features that change the code kcc generates, per architecture: the vector ISA levels and
/// the arithmetic extensions LLVM may select. The rest of LLVM's feature list (cache-control
/// and system instructions, ...) does not reach kernels and stays out of the key.
struct CodeFeature {
  const char *name;
  /// A base feature defines the vector ISA a schedule was tuned for (its widths and FMA): an
  /// entry recorded with it serves only targets that have it. Extensions (bf16, VNNI, AMX, ...)
  /// are selected by LLVM when the target being compiled for has them, so a schedule never
  /// depends on them.
  bool base;
};

const std::vector<CodeFeature> &code_features(Arch a) {
  static const std::vector<CodeFeature> x86 = {
      {"sse4.2", true},      {"avx", true},          {"avx2", true},        {"fma", true},
      {"f16c", false},       {"avx512f", true},      {"avx512cd", true},    {"avx512bw", true},
      {"avx512dq", true},    {"avx512vl", true},     {"evex512", true},     {"avx512vnni", false},
      {"avx512bf16", false}, {"avx512fp16", false},  {"avx512ifma", false}, {"avx512vbmi", false},
      {"avx512vbmi2", false}, {"avxvnni", false},    {"amx-tile", false},   {"amx-int8", false},
      {"amx-bf16", false}};
  static const std::vector<CodeFeature> aarch64 = {{"neon", true},  {"sve", true},   {"fullfp16", false},
                                                   {"dotprod", false}, {"bf16", false}, {"i8mm", false},
                                                   {"sve2", false}};
  static const std::vector<CodeFeature> none;
  switch (a) {
    case Arch::X86_64: return x86;
    case Arch::AArch64: return aarch64;
    case Arch::NVPTX: return none;  // the cpu (sm_XX) and the PTX version say it all
  }
  return none;
}

const CodeFeature *find_code_feature(Arch a, const std::string &name) {
  for (const CodeFeature &f : code_features(a))
    if (name == f.name) return &f;
  return nullptr;
}

/// Target::isa: the code features the cpu + features enable; for NVPTX the explicit "+ptxNN".
std::set<std::string> enabled_code_features(const Target &t, const llvm::MCSubtargetInfo &sti) {
  std::set<std::string> out;
  for (const CodeFeature &f : code_features(t.arch))
    if (sti.checkFeatures(std::string("+") + f.name)) out.insert(f.name);
  if (t.arch == Arch::NVPTX) {
    std::stringstream ss(t.features);
    for (std::string f; std::getline(ss, f, ',');)
      if (f.size() > 1 && f[0] == '+') out.insert(f.substr(1));
  }
  return out;
}

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string f; std::getline(ss, f, sep);) out.push_back(f);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

std::string join(const std::set<std::string> &xs, const char *sep) {
  std::string s;
  for (const std::string &x : xs) s += (s.empty() ? "" : sep) + x;
  return s;
}

/// The key's options field: default options are left out, so keys stay as before them.
std::string options_field(const CodegenOptions &o) { return o.llvm_unroll ? "" : "no-llvm-unroll"; }

/// Widest vectors the cpu+features support for f32 on x86.
int x86_max_vector_bits(const llvm::MCSubtargetInfo &sti) {
  if (sti.checkFeatures("+avx512f")) return 512;
  if (sti.checkFeatures("+avx2") || sti.checkFeatures("+avx")) return 256;
  return 128;
}

/// Per-block limits of NVIDIA GPUs by compute capability (CUDA C programming guide, "Technical
/// Specifications per Compute Capability"): 1024 threads, 255 registers per thread, 64 Ki
/// registers per block; shared memory with the dynamic opt-in: 96 KiB (sm_70), 163 KiB (sm_80),
/// 99 KiB (sm_86, sm_89), 227 KiB (sm_90).
void set_gpu_limits(Target &t) {
  t.sm = std::stoi(t.cpu.substr(3));  // "sm_90" -> 90
  t.max_threads_per_block = 1024;
  t.max_registers_per_thread = 255;
  t.max_registers_per_block = 64 * 1024;
  switch (t.sm) {
    case 70: t.max_shared_bytes = 96 << 10; break;
    case 80: t.max_shared_bytes = 163 << 10; break;
    case 86:
    case 89: t.max_shared_bytes = 99 << 10; break;
    default: t.max_shared_bytes = 227 << 10; break;
  }
}

}  // namespace

int Target::vector_registers() const {
  switch (arch) {
    case Arch::X86_64: return isa.count("avx512f") ? 32 : 16;
    case Arch::AArch64: return 32;
    case Arch::NVPTX: return 0;
  }
  return 0;
}

std::string Target::key() const {
  std::string k = triple + ";" + cpu + ";" + join(isa, ",") + ";v" + std::to_string(vector_bits);
  if (std::string o = options_field(options); !o.empty()) k += ";" + o;
  return k;
}

std::string Target::description() const {
  std::string isa_name;
  switch (arch) {
    case Arch::X86_64:
      isa_name = isa.count("avx512f") ? "AVX-512" : isa.count("avx2") ? "AVX2" : isa.count("avx") ? "AVX" : "SSE";
      break;
    case Arch::AArch64:
      isa_name = isa.count("sve") ? (scalable_vectors ? "SVE" : "SVE " + std::to_string(vector_bits)) : "NEON";
      break;
    case Arch::NVPTX: isa_name = "PTX"; break;
  }
  std::string arch_name = triple.substr(0, triple.find('-'));
  std::string d = fmt::format("{} ({}, {}, {}", name, cpu, arch_name, isa_name);
  if (std::string o = options_field(options); !o.empty()) d += ", " + o;
  return d + ")";
}

std::optional<TargetKey> TargetKey::parse(const std::string &key) {
  std::vector<std::string> f = split(key, ';');
  if (f.size() < 4 || f.size() > 5 || f[0].empty() || f[1].empty() || f[3].size() < 2 || f[3][0] != 'v')
    return std::nullopt;
  TargetKey k;
  k.triple = f[0];
  k.cpu = f[1];
  try {
    size_t used = 0;
    k.vector_bits = std::stoi(f[3].substr(1), &used);
    if (used != f[3].size() - 1 || k.vector_bits <= 0) return std::nullopt;
  } catch (const std::exception &) {
    return std::nullopt;
  }
  // The whole feature string of older keys ("+avx2,-amx-tile,..."): its enabled code features.
  llvm::Triple tr(k.triple);
  Arch arch = arch_of_triple(tr);
  for (const std::string &x : split(f[2], ',')) {
    if (x.empty() || x[0] == '-') continue;
    std::string name = x[0] == '+' ? x.substr(1) : x;
    if (arch == Arch::NVPTX || find_code_feature(arch, name)) k.isa.insert(name);
  }
  if (f.size() == 5) k.options = f[4];
  return k;
}

KeyMatch match_target_key(const std::string &recorded, const Target &t, std::string *why) {
  auto say = [&](std::string s) {
    if (why) *why = std::move(s);
  };
  if (recorded == t.key()) {
    say("");
    return KeyMatch::Exact;
  }
  std::optional<TargetKey> k = TargetKey::parse(recorded);
  if (!k) {
    say(fmt::format("'{}' is not a target key", recorded));
    return KeyMatch::Foreign;
  }
  if (k->triple != t.triple) {
    say(fmt::format("recorded for {}, not {}", k->triple, t.triple));
    return KeyMatch::Foreign;
  }
  if (t.arch == Arch::NVPTX && k->cpu != t.cpu) {  // block sizes and shared memory are per-SM limits
    say(fmt::format("tuned for {}, whose limits differ from {}'s", k->cpu, t.cpu));
    return KeyMatch::Foreign;
  }
  // NVPTX: the PTX version features gate; elsewhere the base vector ISA does.
  std::set<std::string> lacking;
  for (const std::string &f : k->isa) {
    const CodeFeature *cf = find_code_feature(t.arch, f);
    bool gates = t.arch == Arch::NVPTX || (cf && cf->base);
    if (gates && !t.isa.count(f)) lacking.insert(f);
  }
  if (!lacking.empty() || k->vector_bits > t.vector_bits) {
    if (lacking.empty()) lacking.insert(fmt::format("{}-bit vectors", k->vector_bits));
    say(fmt::format("tuned on {} with {}, which {} lacks", k->cpu, join(lacking, ", "), t.description()));
    return KeyMatch::Foreign;
  }
  // Same ISA on another cpu, or other code options: correct, perhaps not the fastest.
  if (k->cpu != t.cpu) say(fmt::format("tuned on {}, used on {}", k->cpu, t.cpu));
  else if (k->options != options_field(t.options))
    say(fmt::format("tuned with options '{}', used with '{}'", k->options.empty() ? "default" : k->options,
                    options_field(t.options).empty() ? "default" : options_field(t.options)));
  else say(fmt::format("tuned for {}", recorded));
  return KeyMatch::Compatible;
}

Target make_target(const std::string &name, const std::string &mcpu, const std::string &mattr) {
  const TargetRow *row = nullptr;
  for (const auto &r : kTargets)
    if (name == r.name) row = &r;
  if (!row) throw UserError(SourceLoc{}, "unknown target '" + name + "'; known targets: " + known_target_names());

  init_llvm_targets();
  Target t;
  t.name = name;
  bool host = std::string(row->cpu) == "host";
  t.triple = host ? llvm::Triple::normalize(llvm::sys::getProcessTriple()) : row->triple;
  t.arch = host ? arch_of_triple(llvm::Triple(t.triple)) : row->arch;
  if (!mcpu.empty()) {
    t.cpu = mcpu == "native" ? llvm::sys::getHostCPUName().str() : mcpu;
    t.features = host && mcpu == "native" ? host_features() : row->features;
  } else if (host) {
    t.cpu = llvm::sys::getHostCPUName().str();
    t.features = host_features();
  } else {
    t.cpu = row->cpu;
    t.features = row->features;
  }
  t.features = join_features(t.features, mattr);

  std::string err;
  const llvm::Target *lt = llvm::TargetRegistry::lookupTarget(t.triple, err);
  if (!lt) throw UserError(SourceLoc{}, "target '" + name + "' (" + t.triple + ") is not supported by this build: " + err);
  // Check the cpu name on a plain subtarget first: LLVM prints a warning for unknown ones.
  std::unique_ptr<llvm::MCSubtargetInfo> plain(lt->createMCSubtargetInfo(t.triple, "", ""));
  if (!plain || !plain->isCPUStringValid(t.cpu))
    throw UserError(SourceLoc{}, "unknown cpu '" + t.cpu + "' for target '" + name + "'");
  std::unique_ptr<llvm::MCSubtargetInfo> sti(lt->createMCSubtargetInfo(t.triple, t.cpu, t.features));

  switch (t.arch) {
    case Arch::X86_64: {
      int widest = x86_max_vector_bits(*sti);
      t.vector_bits = row->vector_bits == 0 ? widest : std::min(row->vector_bits, widest);
      break;
    }
    case Arch::AArch64:
      t.vector_bits = row->vector_bits == 0 ? 128 : row->vector_bits;
      break;
    case Arch::NVPTX:
      t.vector_bits = row->vector_bits;
      set_gpu_limits(t);
      break;
  }
  t.scalable_vectors = row->scalable;
  t.cores = row->cores > 0 ? row->cores : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (t.cpu == "a64fx") t.fma_latency = 9;  // A64FX's FLA/FLB pipes
  if (row->l1 > 0) t.l1_bytes = row->l1;
  if (row->l2 > 0) t.l2_bytes = row->l2;
  if (row->l3 != 0) t.l3_bytes = std::max<int64_t>(0, row->l3);
  if (host) read_host_caches(t);
  t.isa = enabled_code_features(t, *sti);
  return t;
}

}  // namespace kcc
