// codegen/llvm_support.h - private to codegen/: LLVM set-up shared by the generators.
//
// Not a public header: nothing outside codegen/ includes it (it pulls in LLVM).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "codegen/codegen.h"
#include "codegen/target.h"
#include "ir/stmt.h"

namespace llvm {
class Function;
class FunctionType;
class LLVMContext;
class Metadata;
class Module;
class TargetMachine;
}  // namespace llvm

namespace kcc {

/// Registers the LLVM targets kcc generates code for (X86 now; AArch64 and NVPTX join here).
/// Idempotent and thread-safe.
void init_llvm_targets();

/// The TargetMachine for `t` (PIC, O3, FMA contraction allowed). InternalError if LLVM lacks the
/// target.
std::unique_ptr<llvm::TargetMachine> make_target_machine(const Target &t);

/// The runtime function `name` of type `ft` in `m` (declared nounwind on first use).
llvm::Function *runtime_function(llvm::Module &m, const char *name, llvm::FunctionType *ft);

/// Runs the LLVM verifier on `m`; InternalError("LLVM verifier failed WHEN: ...") on failure.
void verify_module(llvm::Module &m, const char *when);

/// The CPU generator (x86-64; AArch64 slots in through the per-target attribute hook): emits
/// one C-ABI function per LoweredFunc into `m`, each verified. Throws InternalError with the
/// verifier's message and the function's loop IR when verification fails.
void emit_cpu_functions(const std::vector<LoweredFunc> &funcs, const Target &t, llvm::Module &m);

/// AArch64 part of the CPU generator (cpu_aarch64.cpp): function attributes of a kernel or an
/// outlined body (vscale_range for SVE targets).
void apply_aarch64_attributes(const Target &t, llvm::Function &f);
/// Adds the llvm.loop properties of a Vectorized loop that reaches code generation on `t`
/// (scalable targets: scalable width vscale x 4, predicated tail, no interleaving).
void add_aarch64_vector_loop_hints(const Target &t, llvm::LLVMContext &c, std::vector<llvm::Metadata *> &props);

/// The NVPTX generator (codegen_nvptx.cpp): builds, optimizes and prints the device module
/// (`ptx`, and its LLVM IR in `device_ir`), then fills `host` (an empty module in `host`'s
/// context) with the embedded PTX and one launch stub per kernel,
/// int NAME(const float *in..., float *out..., void *stream), and sets `host_tm` to the
/// machine the stubs are compiled for (the host's triple, generic cpu).
void emit_nvptx_module(const std::vector<LoweredFunc> &funcs, const Target &t, llvm::Module &host,
                       std::unique_ptr<llvm::TargetMachine> &host_tm, std::string &ptx, std::string &device_ir);

struct CompiledModule::Impl {
  Target target;
  std::unique_ptr<llvm::LLVMContext> ctx;
  std::unique_ptr<llvm::Module> mod;  ///< NVPTX targets: the host module with the launch stubs
  std::unique_ptr<llvm::TargetMachine> tm;
  bool optimized = false;
  std::string device_ptx;  ///< NVPTX targets: the optimized device code as PTX (embedded in mod)
  std::string device_ir;   ///< NVPTX targets: the optimized device module as LLVM IR text
  ~Impl();
};

}  // namespace kcc
