// codegen/compiled_module.cpp - generate_code() and what can be done with its result:
// O3, textual IR, assembly, object bytes.
#include <fmt/format.h>

#include <time.h>

#include <string>

#include "codegen/codegen.h"
#include "codegen/llvm_support.h"
#include "ir/diag.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/PassInstrumentation.h"
#include "llvm/Passes/OptimizationLevel.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Transforms/Utils/Cloning.h"

namespace kcc {

namespace {

std::string emit_file(llvm::Module &m, llvm::TargetMachine &tm, llvm::CodeGenFileType kind) {
  // Code generation rewrites the IR it runs on: work on a copy so that the module can be
  // emitted again (assembly, then object) or printed afterwards.
  std::unique_ptr<llvm::Module> copy = llvm::CloneModule(m);
  llvm::SmallVector<char, 0> buf;
  llvm::raw_svector_ostream os(buf);
  llvm::legacy::PassManager pm;
  KCC_INTERNAL(!tm.addPassesToEmitFile(pm, os, nullptr, kind), "the target cannot emit this file type");
  pm.run(*copy);
  return std::string(buf.data(), buf.size());
}

}  // namespace

CompiledModule::CompiledModule() : impl_(std::make_unique<Impl>()) {}
CompiledModule::~CompiledModule() = default;
CompiledModule::CompiledModule(CompiledModule &&) noexcept = default;

llvm::Module &CompiledModule::module() { return *impl_->mod; }
const Target &CompiledModule::target() const { return impl_->target; }

void CompiledModule::optimize(double time_limit_seconds) {
  if (impl_->optimized) return;
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions pto;
  pto.LoopVectorization = true;
  pto.SLPVectorization = true;
  // A target option, so that it is part of the key of every record it produced.
  pto.LoopUnrolling = impl_->target.options.llvm_unroll;
  // With a time limit, every optional pass after the deadline is skipped (so the pipeline ends
  // within about one pass of it) and the module is given up. The time is this thread's CPU time:
  // the tuner builds on several threads of a shared machine, and load must not fail a build.
  auto thread_seconds = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  };
  const double deadline = thread_seconds() + time_limit_seconds;
  bool over = false;
  llvm::PassInstrumentationCallbacks pic;
  if (time_limit_seconds > 0)
    pic.registerShouldRunOptionalPassCallback([&](llvm::StringRef, llvm::Any) {
      if (!over && thread_seconds() > deadline) over = true;
      return !over;
    });
  llvm::PassBuilder pb(impl_->tm.get(), pto, std::nullopt, time_limit_seconds > 0 ? &pic : nullptr);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
  mpm.run(*impl_->mod, mam);
  if (over)
    throw CompileTimeLimit(fmt::format("optimization ran past its {:g} s CPU-time limit (the code is too large)",
                                       time_limit_seconds));
  verify_module(*impl_->mod, "after O3");
  impl_->optimized = true;
}

std::string CompiledModule::llvm_ir() const {
  std::string s = impl_->device_ir.empty() ? "" : "; ---- device module (PTX in assembly())\n" + impl_->device_ir + "\n; ---- host module\n";
  llvm::raw_string_ostream os(s);
  impl_->mod->print(os, nullptr);
  os.flush();
  return s;
}

std::string CompiledModule::assembly() {
  if (!impl_->device_ptx.empty()) return impl_->device_ptx;  // GPU targets: the PTX, not the host stubs
  return emit_file(*impl_->mod, *impl_->tm, llvm::CodeGenFileType::AssemblyFile);
}

std::string CompiledModule::object() {
  return emit_file(*impl_->mod, *impl_->tm, llvm::CodeGenFileType::ObjectFile);
}

CompiledModule generate_code(const std::vector<LoweredFunc> &funcs, const Target &target,
                             const std::string &module_name) {
  CompiledModule cm;
  CompiledModule::Impl &m = *cm.impl_;
  m.target = target;
  m.tm = make_target_machine(target);
  m.ctx = std::make_unique<llvm::LLVMContext>();
  m.mod = std::make_unique<llvm::Module>(module_name, *m.ctx);
  m.mod->setTargetTriple(m.tm->getTargetTriple().str());
  m.mod->setDataLayout(m.tm->createDataLayout());
  // One generator per architecture family, chosen here and nowhere else.
  switch (target.arch) {
    case Arch::X86_64:
    case Arch::AArch64:
      emit_cpu_functions(funcs, target, *m.mod);
      break;
    case Arch::NVPTX:
      emit_nvptx_module(funcs, target, *m.mod, m.tm, m.device_ptx, m.device_ir);
      break;
  }
  verify_module(*m.mod, "on the generated module");
  return cm;
}

}  // namespace kcc
