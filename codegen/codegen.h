// codegen/codegen.h - loop IR -> LLVM IR -> optimized module -> object / assembly / JIT.
//
// One CPU code generator serves every CPU target; the per-target part (vector width, features,
// function attributes) is reached through the Target. NVPTX has its own generator behind the
// same interface (codegen_nvptx.cpp), which takes each function's launch plan from
// LoweredFunc::gpu (ir/gpu_launch.h) and never plans launches itself.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
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

/// The entry points of a compiled model (codegen/model_entry.cpp), in terms of buffers only: the
/// pipeline plans where each tensor lives (passes/memory_plan.h) and says so here.
struct ModelEntrySpec {
  /// Where an argument of a kernel call points.
  enum class Place : uint8_t { Input, Output, Workspace, Weights };
  struct Buffer {
    Place place = Place::Input;
    int64_t index = 0;  ///< Input/Output: which argument of the model; Workspace/Weights: byte offset
  };
  struct Call {
    std::string kernel;          ///< a function of the module: int K(ptr...) returning a kcc_status
    std::vector<Buffer> args;    ///< inputs then outputs of the kernel
  };
  std::string name;                              ///< the model's C name
  std::vector<int> input_align, output_align;    ///< bytes each argument must be aligned to (its element size)
  std::vector<Call> calls;                       ///< in order
  int64_t workspace_bytes = 0;
  /// Embedded weights: the blob (borrowed; copied into the module), a 64-byte-aligned constant.
  /// External: empty, and the entry points take a `const void *weights` of `weights_bytes`
  /// bytes first.
  bool external_weights = false;
  std::string_view weights;
  int64_t weights_bytes = 0;
  uint64_t weights_fnv1a = 0;                    ///< external: what NAME_load_weights checks
};

/// Adds a model's C entry points to `m` (the kernels it calls must be there): with W the
/// `const void *weights` argument of external weights, absent when they are embedded,
///   int NAME(W, const T *in..., T *out...)                 a workspace of its own (kcc_alloc)
///   int NAME_run(W, void *workspace, const T *in..., T *out...)  the caller's workspace
///   size_t NAME_workspace_size(void)
/// and with external weights
///   size_t NAME_weights_size(void)
///   int NAME_load_weights(const char *path, void **weights)   through kcc_load_weights
/// Each returns KCC_ERR_NULL_ARGUMENT for a NULL pointer (workspace and weights may be NULL
/// when their size is 0), KCC_ERR_MISALIGNED for a workspace or weights pointer not 64-byte
/// aligned or a tensor not aligned to its element, before any work; then the first non-zero
/// status of a kernel. No global mutable state: calls with separate workspaces may run at once.
/// The verifier runs on the result (InternalError on failure).
void add_model_entry(CompiledModule &m, const ModelEntrySpec &spec);

/// The C symbols add_model_entry may define for a model named `name`.
std::vector<std::string> model_entry_symbols(const std::string &name);

/// Renames each function `K` of `kernels` in `m` to `prefix + K`, callers included: the C
/// symbols of the kernels in an object that holds a model (DESIGN §9), so that the objects of
/// several models link into one program although their kernels' names come from the workload.
void prefix_kernel_symbols(CompiledModule &m, const std::vector<std::string> &kernels, const std::string &prefix);

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
