// test/support/ptxas.h - assembles the PTX of a lowered function with CUDA's ptxas, to check
// NVPTX code generation without a GPU. Tests skip the check when ptxas is not installed
// (have_ptxas()). Header-only; used by test/tuner and test/correctness.
#pragma once
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "codegen/codegen.h"
#include "suite_files.h"

namespace kcc::test {

inline const char *const kPtxas = "/usr/local/cuda/bin/ptxas";

inline bool have_ptxas() { return std::filesystem::exists(kPtxas); }

/// ptxas -arch=`t.cpu` (sm_XX) on the PTX of `f` compiled for the NVPTX target `t`, written to
/// `base`.ptx (the cubin and log beside it); "" when it assembles, else ptxas's log.
inline std::string ptxas_errors(const LoweredFunc &f, const Target &t, const std::string &base) {
  CompiledModule cm = generate_code({f}, t, f.name);
  cm.optimize();
  std::ofstream(base + ".ptx") << cm.assembly();
  const std::string cmd = fmt::format("{} -arch={} {}.ptx -o {}.cubin > {}.log 2>&1", kPtxas, t.cpu, base, base, base);
  if (std::system(cmd.c_str()) == 0) return "";
  std::string log = read_file(base + ".log");
  return log.empty() ? "ptxas failed" : log;
}

}  // namespace kcc::test
