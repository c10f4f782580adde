// codegen/llvm_support.cpp - the one place where LLVM targets are initialized and target
// machines are made; small LLVM helpers the generators share.
#include "codegen/llvm_support.h"

#include <mutex>

#include "ir/diag.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetOptions.h"

namespace kcc {

void init_llvm_targets() {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86Target();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmPrinter();
    LLVMInitializeX86AsmParser();
    LLVMInitializeAArch64TargetInfo();
    LLVMInitializeAArch64Target();
    LLVMInitializeAArch64TargetMC();
    LLVMInitializeAArch64AsmPrinter();
    LLVMInitializeAArch64AsmParser();
    LLVMInitializeNVPTXTargetInfo();  // NVPTX has no AsmParser
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
  });
}

std::unique_ptr<llvm::TargetMachine> make_target_machine(const Target &t) {
  init_llvm_targets();
  std::string err;
  const llvm::Target *lt = llvm::TargetRegistry::lookupTarget(t.triple, err);
  KCC_INTERNAL(lt != nullptr, "LLVM has no target for '" + t.triple + "': " + err);
  llvm::TargetOptions opts;
  opts.AllowFPOpFusion = llvm::FPOpFusion::Fast;  // a*b+c may become an FMA (ir/expr.h)
  std::unique_ptr<llvm::TargetMachine> tm(lt->createTargetMachine(
      t.triple, t.cpu, t.features, opts, llvm::Reloc::PIC_, std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  KCC_INTERNAL(tm != nullptr, "could not create a target machine for " + t.key());
  return tm;
}

llvm::Function *runtime_function(llvm::Module &m, const char *name, llvm::FunctionType *ft) {
  auto *f = llvm::cast<llvm::Function>(m.getOrInsertFunction(name, ft).getCallee());
  f->addFnAttr(llvm::Attribute::NoUnwind);
  return f;
}

void verify_module(llvm::Module &m, const char *when) {
  std::string msg;
  llvm::raw_string_ostream os(msg);
  if (!llvm::verifyModule(m, &os)) return;
  os.flush();
  throw InternalError(std::string("LLVM verifier failed ") + when + ":\n" + msg);
}

CompiledModule::Impl::~Impl() {
  mod.reset();  // before its context
  ctx.reset();
}

}  // namespace kcc
