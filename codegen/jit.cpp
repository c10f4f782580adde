// codegen/jit.cpp - in-process execution of generated kernels (tests, tuner measurements).
//
// The JIT links the object file that CompiledModule::object() emits, so what runs is exactly
// what an AOT build would link (same TargetMachine, same flags), not a re-compilation with
// the JIT's own settings. Runtime and libm symbols resolve to this process.
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "codegen/codegen.h"
#include "codegen/llvm_support.h"
#include "ir/diag.h"
#include "kcc_runtime.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

namespace kcc {

namespace {

std::string error_text(llvm::Error e) { return llvm::toString(std::move(e)); }

class OrcJit : public JitModule {
 public:
  explicit OrcJit(std::unique_ptr<llvm::orc::LLJIT> j) : jit_(std::move(j)) {}
  void *lookup(const std::string &name) override {
    auto sym = jit_->lookup(name);
    if (!sym) throw InternalError("JIT: kernel '" + name + "' not found: " + error_text(sym.takeError()));
    return sym->toPtr<void *>();
  }

 private:
  std::unique_ptr<llvm::orc::LLJIT> jit_;
};

/// The symbols generated code may call, bound to this process's copies (the runtime is linked
/// into kcc_codegen, so these exist even when the executable exports nothing).
llvm::Error define_runtime_symbols(llvm::orc::LLJIT &j) {
  llvm::orc::MangleAndInterner mangle(j.getExecutionSession(), j.getDataLayout());
  llvm::orc::SymbolMap syms;
  auto add = [&](const char *name, auto *fn) {
    syms[mangle(name)] = {llvm::orc::ExecutorAddr::fromPtr(reinterpret_cast<void *>(fn)),
                          llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
  };
  add("kcc_parallel_for", &kcc_parallel_for);
  add("kcc_alloc", &kcc_alloc);
  add("kcc_free", &kcc_free);
  add("kcc_load_weights", &kcc_load_weights);
  // NVPTX host stubs (the device code itself is loaded by the CUDA driver at run time).
  add("kcc_cuda_launch", &kcc_cuda_launch);
  add("kcc_cuda_alloc", &kcc_cuda_alloc);
  add("kcc_cuda_free", &kcc_cuda_free);
  add("tanhf", static_cast<float (*)(float)>(&::tanhf));
  add("erff", static_cast<float (*)(float)>(&::erff));
  add("tanh", static_cast<double (*)(double)>(&::tanh));
  add("erf", static_cast<double (*)(double)>(&::erf));
  return j.getMainJITDylib().define(llvm::orc::absoluteSymbols(std::move(syms)));
}

}  // namespace

std::unique_ptr<JitModule> JitModule::create(CompiledModule m) {
  init_llvm_targets();
  m.optimize();
  return create_from_object(m.object(), m.module().getModuleIdentifier());
}

std::unique_ptr<JitModule> JitModule::create_from_object(const std::string &obj, const std::string &name) {
  init_llvm_targets();
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) throw InternalError("JIT: cannot detect the host: " + error_text(jtmb.takeError()));
  auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(*jtmb)).create();
  if (!jit) throw InternalError("JIT: cannot create LLJIT: " + error_text(jit.takeError()));
  llvm::orc::LLJIT &j = **jit;
  if (auto e = define_runtime_symbols(j)) throw InternalError("JIT: " + error_text(std::move(e)));
  // libm, libc (memset/memcpy the optimizer may introduce) and anything else the process has.
  auto gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(j.getDataLayout().getGlobalPrefix());
  if (!gen) throw InternalError("JIT: " + error_text(gen.takeError()));
  j.getMainJITDylib().addGenerator(std::move(*gen));
  if (auto e = j.addObjectFile(llvm::MemoryBuffer::getMemBufferCopy(obj, name)))
    throw InternalError("JIT: cannot add the object file: " + error_text(std::move(e)));
  return std::make_unique<OrcJit>(std::move(*jit));
}

namespace {

/// Emits `i32 NAME(ptr args)` (or `i32 NAME(ptr fn, ptr args)` when `callee` is null: the
/// function pointer comes first) that loads `n` pointers from args[0..n) and calls the kernel.
void emit_argv_call(llvm::Module &m, const std::string &name, llvm::Function *callee, size_t n) {
  llvm::LLVMContext &ctx = m.getContext();
  llvm::Type *ptr = llvm::PointerType::getUnqual(ctx);
  llvm::Type *i32 = llvm::Type::getInt32Ty(ctx);
  std::vector<llvm::Type *> params = callee ? std::vector<llvm::Type *>{ptr} : std::vector<llvm::Type *>{ptr, ptr};
  auto *f = llvm::Function::Create(llvm::FunctionType::get(i32, params, false), llvm::Function::ExternalLinkage,
                                   name, m);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", f));
  llvm::Value *argv = f->getArg(callee ? 0 : 1);
  std::vector<llvm::Value *> args;
  for (size_t i = 0; i < n; ++i)
    args.push_back(b.CreateLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, argv, i)));
  llvm::FunctionType *kt = llvm::FunctionType::get(i32, std::vector<llvm::Type *>(n, ptr), false);
  llvm::Value *r = callee ? b.CreateCall(callee, args) : b.CreateCall(kt, f->getArg(0), args);
  b.CreateRet(r);
}

using ArgvCall = int (*)(void *, void *const *);

/// The trampoline `int call(void *fn, void **args)` for kernels of `n` arguments: JIT-compiled
/// once per count and kept for the life of the process (a leaked LLJIT per count: a process
/// sees a handful of counts, and nothing may unload code a forked worker still calls).
ArgvCall argv_trampoline(size_t n) {
  static std::mutex mu;
  static std::map<size_t, ArgvCall> made;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = made.find(n); it != made.end()) return it->second;
  init_llvm_targets();
  auto ctx = std::make_unique<llvm::LLVMContext>();
  auto m = std::make_unique<llvm::Module>("kcc_argv_call", *ctx);
  const std::string name = "kcc_argv_call_" + std::to_string(n);
  emit_argv_call(*m, name, nullptr, n);
  auto jit = llvm::orc::LLJITBuilder().create();
  if (!jit) throw InternalError("JIT: cannot create LLJIT: " + error_text(jit.takeError()));
  m->setDataLayout((*jit)->getDataLayout());
  if (auto e = (*jit)->addIRModule(llvm::orc::ThreadSafeModule(std::move(m), std::move(ctx))))
    throw InternalError("JIT: " + error_text(std::move(e)));
  auto sym = (*jit)->lookup(name);
  if (!sym) throw InternalError("JIT: " + error_text(sym.takeError()));
  ArgvCall f = sym->toPtr<ArgvCall>();
  (void)jit->release();  // kept: see above
  return made[n] = f;
}

}  // namespace

void add_argv_entry(CompiledModule &m, const std::string &kernel, const std::string &entry) {
  llvm::Function *f = m.module().getFunction(kernel);
  KCC_INTERNAL(f != nullptr, "add_argv_entry: no function '" + kernel + "' in the module");
  emit_argv_call(m.module(), entry, f, f->arg_size());
}

void prepare_call_kernel(size_t nargs) {
  if (nargs > kDirectCallArgs) (void)argv_trampoline(nargs);
}

int call_kernel(void *fn, const std::vector<void *> &a) {
  KCC_INTERNAL(fn != nullptr, "call_kernel: null function");
  using P = void *;
  // Up to kDirectCallArgs arguments, a direct call through a cast (no JIT, nothing to prepare);
  // beyond, a trampoline generated for the count.
  switch (a.size()) {
#define KCC_CALL(N, ...) \
  case N: return reinterpret_cast<int (*)(__VA_ARGS__)>(fn)
    case 0: return reinterpret_cast<int (*)()>(fn)();
    KCC_CALL(1, P)(a[0]);
    KCC_CALL(2, P, P)(a[0], a[1]);
    KCC_CALL(3, P, P, P)(a[0], a[1], a[2]);
    KCC_CALL(4, P, P, P, P)(a[0], a[1], a[2], a[3]);
    KCC_CALL(5, P, P, P, P, P)(a[0], a[1], a[2], a[3], a[4]);
    KCC_CALL(6, P, P, P, P, P, P)(a[0], a[1], a[2], a[3], a[4], a[5]);
    KCC_CALL(7, P, P, P, P, P, P, P)(a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
    KCC_CALL(8, P, P, P, P, P, P, P, P)(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
#undef KCC_CALL
    default: return argv_trampoline(a.size())(fn, a.data());
  }
}

}  // namespace kcc
