// codegen/codegen.h - loop IR -> LLVM IR -> optimized module -> object / assembly / JIT.
//
// One CPU code generator serves every CPU target; the per-target part (vector width, features,
// function attributes) is reached through the Target. NVPTX will get its own generator behind
// the same interface.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "codegen/target.h"
#include "ir/stmt.h"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace kcc {

/// CompiledModule::optimize() ran past its time limit.
struct CompileTimeLimit : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// An LLVM module holding one C-ABI function per lowered kernel:
///   int NAME(const float *in0, ..., float *out0, ...)   returning 0 or a kcc_status.
/// Parallel loops call kcc_parallel_for; scratch buffers use kcc_alloc/kcc_free.
class CompiledModule {
 public:
  ~CompiledModule();
  CompiledModule(CompiledModule &&) noexcept;
  /// Runs the O3 pipeline for the target (idempotent). With `time_limit_seconds` > 0 (the tuner's
  /// builds), throws CompileTimeLimit when the pipeline runs past it; the module is then unusable.
  void optimize(double time_limit_seconds = 0);
  std::string llvm_ir() const;   ///< textual LLVM IR
  std::string assembly();        ///< target assembly
  std::string object();          ///< ELF object file bytes
  llvm::Module &module();
  const Target &target() const;

 private:
  friend CompiledModule generate_code(const std::vector<LoweredFunc> &, const Target &,
                                      const std::string &);
  CompiledModule();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Generates LLVM IR for the functions (the LLVM verifier runs on the result; a failure is an
/// InternalError). `module_name` names the LLVM module.
CompiledModule generate_code(const std::vector<LoweredFunc> &funcs, const Target &target,
                             const std::string &module_name = "kcc");

/// An in-process JIT of an optimized module (host targets only), for tests and measurement.
/// Runtime symbols (kcc_parallel_for, ...) resolve to the copies linked into this process.
class JitModule {
 public:
  static std::unique_ptr<JitModule> create(CompiledModule m);
  /// Loads an object file already emitted by CompiledModule::object() for the host (lets a caller
  /// run the back end outside any lock it holds around loading).
  static std::unique_ptr<JitModule> create_from_object(const std::string &object, const std::string &name);
  virtual ~JitModule() = default;
  /// Address of the kernel `name`; InternalError if missing.
  virtual void *lookup(const std::string &name) = 0;
};

/// Calls a generated kernel with the argument pointers in order (inputs then outputs), any
/// number of them: up to kDirectCallArgs by a direct call, beyond through a trampoline
/// JIT-compiled once per argument count.
int call_kernel(void *fn, const std::vector<void *> &args);
inline constexpr size_t kDirectCallArgs = 8;
/// Compiles call_kernel's trampoline for `nargs` now (nothing to do up to kDirectCallArgs): a
/// process about to fork workers that call kernels does it once, before forking.
void prepare_call_kernel(size_t nargs);

/// Adds `int ENTRY(void **args)` to `m`, calling the module's function `kernel` with
/// args[0..n): an entry point a C caller can use whatever the kernel's argument count
/// (kcc-runner calls candidates through it). InternalError if `kernel` is not in `m`.
void add_argv_entry(CompiledModule &m, const std::string &kernel, const std::string &entry);

}  // namespace kcc
