// codegen/model_entry.cpp - the C entry points of a compiled model (DESIGN.md §9).
//
// Glue only: argument checks, the workspace (kcc_alloc'd or the caller's), pointers into it and
// into the weights, and the kernel calls in order, each status checked. The kernels themselves
// are the module's functions, generated as for any kernel. Everything a call needs is in its
// arguments or in constant data, so the entry points hold no state of their own.
#include <fmt/format.h>

#include "codegen/codegen.h"
#include "codegen/llvm_support.h"
#include "ir/diag.h"
#include "kcc_runtime.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

namespace kcc {

namespace {

constexpr uint64_t kAlign = 64;  // workspace and weights (passes/memory_plan.h, kModelAlign)

class EntryEmitter {
 public:
  EntryEmitter(llvm::Module &m, const Target &t, const ModelEntrySpec &s)
      : m_(m), t_(t), s_(s), ctx_(m.getContext()), b_(ctx_), ptr_(b_.getPtrTy()), i32_(b_.getInt32Ty()),
        i64_(b_.getInt64Ty()) {}

  void run() {
    check_kernels();
    if (!s_.external_weights && !s_.weights.empty()) embed_weights();
    llvm::Function *body = emit_body();
    emit_run(body);
    emit_own_workspace(body);
    emit_constant(s_.name + "_workspace_size", s_.workspace_bytes);
    if (s_.external_weights) {
      emit_constant(s_.name + "_weights_size", s_.weights_bytes);
      emit_load_weights();
    }
  }

 private:
  size_t num_tensors() const { return s_.input_align.size() + s_.output_align.size(); }

  void check_kernels() {
    for (const ModelEntrySpec::Call &c : s_.calls) {
      llvm::Function *f = m_.getFunction(c.kernel);
      KCC_INTERNAL(f != nullptr, fmt::format("model '{}': no function '{}' in the module", s_.name, c.kernel));
      KCC_INTERNAL(f->arg_size() == c.args.size(),
                   fmt::format("model '{}': '{}' takes {} arguments, not {}", s_.name, c.kernel, f->arg_size(),
                               c.args.size()));
    }
    for (const std::string &symbol : model_entry_symbols(s_.name))
      KCC_INTERNAL(!m_.getFunction(symbol), "model entry '" + symbol + "' is already defined");
  }

  void embed_weights() {
    auto *data = llvm::ConstantDataArray::getRaw(llvm::StringRef(s_.weights.data(), s_.weights.size()),
                                                s_.weights.size(), b_.getInt8Ty());
    weights_ = new llvm::GlobalVariable(m_, data->getType(), /*isConstant=*/true, llvm::GlobalValue::PrivateLinkage,
                                        data, s_.name + ".weights");
    weights_->setAlignment(llvm::Align(kAlign));
    weights_->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
  }

  llvm::Function *function(const std::string &name, llvm::Type *ret, const std::vector<llvm::Type *> &params,
                           bool internal = false) {
    auto *f = llvm::Function::Create(llvm::FunctionType::get(ret, params, false),
                                     internal ? llvm::Function::InternalLinkage : llvm::Function::ExternalLinkage,
                                     name, m_);
    f->addFnAttr(llvm::Attribute::NoUnwind);
    if (!t_.cpu.empty()) f->addFnAttr("target-cpu", t_.cpu);
    if (!t_.features.empty()) f->addFnAttr("target-features", t_.features);
    b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", f));
    return f;
  }

  /// if (cond) return status; continues in a new block.
  void return_if(llvm::Value *cond, int status) {
    llvm::Function *f = b_.GetInsertBlock()->getParent();
    auto *fail = llvm::BasicBlock::Create(ctx_, "fail", f);
    auto *next = llvm::BasicBlock::Create(ctx_, "ok", f);
    b_.CreateCondBr(cond, fail, next);
    b_.SetInsertPoint(fail);
    b_.CreateRet(b_.getInt32(status));
    b_.SetInsertPoint(next);
  }

  llvm::Value *misaligned(llvm::Value *p, uint64_t align) {
    return b_.CreateICmpNE(b_.CreateAnd(b_.CreatePtrToInt(p, i64_), align - 1), b_.getInt64(0));
  }

  /// NULL and alignment checks of the tensors (args[first..]) and of a block pointer that must
  /// be 64-byte aligned and may be NULL only when `bytes` is 0.
  void check_tensors(llvm::Function *f, unsigned first) {
    llvm::Value *any_null = b_.getFalse(), *any_misaligned = b_.getFalse();
    for (size_t i = 0; i < num_tensors(); ++i) {
      llvm::Value *a = f->getArg(first + static_cast<unsigned>(i));
      int align = i < s_.input_align.size() ? s_.input_align[i] : s_.output_align[i - s_.input_align.size()];
      any_null = b_.CreateOr(any_null, b_.CreateIsNull(a));
      if (align > 1) any_misaligned = b_.CreateOr(any_misaligned, misaligned(a, static_cast<uint64_t>(align)));
    }
    return_if(any_null, KCC_ERR_NULL_ARGUMENT);
    return_if(any_misaligned, KCC_ERR_MISALIGNED);
  }
  void check_block(llvm::Value *p, int64_t bytes) {
    if (bytes > 0) return_if(b_.CreateIsNull(p), KCC_ERR_NULL_ARGUMENT);
    return_if(misaligned(p, kAlign), KCC_ERR_MISALIGNED);
  }

  /// The parameters of NAME_run: [weights,] workspace, inputs, outputs.
  std::vector<llvm::Type *> run_params() const {
    return std::vector<llvm::Type *>(num_tensors() + 1 + (s_.external_weights ? 1 : 0), ptr_);
  }

  /// internal int NAME.body(weights, workspace, tensors...): the calls, unchecked.
  llvm::Function *emit_body() {
    std::vector<llvm::Type *> params(num_tensors() + 2, ptr_);
    llvm::Function *f = function(s_.name + ".body", i32_, params, /*internal=*/true);
    llvm::Value *weights = f->getArg(0), *ws = f->getArg(1);
    for (const ModelEntrySpec::Call &c : s_.calls) {
      std::vector<llvm::Value *> args;
      for (const ModelEntrySpec::Buffer &buf : c.args) {
        switch (buf.place) {
          case ModelEntrySpec::Place::Input: args.push_back(f->getArg(2 + static_cast<unsigned>(buf.index))); break;
          case ModelEntrySpec::Place::Output:
            args.push_back(f->getArg(2 + static_cast<unsigned>(s_.input_align.size() + buf.index)));
            break;
          case ModelEntrySpec::Place::Workspace: args.push_back(b_.CreateConstInBoundsGEP1_64(b_.getInt8Ty(), ws, buf.index)); break;
          case ModelEntrySpec::Place::Weights:
            args.push_back(b_.CreateConstInBoundsGEP1_64(b_.getInt8Ty(), weights, buf.index));
            break;
        }
      }
      llvm::Value *status = b_.CreateCall(m_.getFunction(c.kernel), args, "status." + c.kernel);
      llvm::Function *fn = b_.GetInsertBlock()->getParent();
      auto *fail = llvm::BasicBlock::Create(ctx_, "fail", fn);
      auto *next = llvm::BasicBlock::Create(ctx_, "ok", fn);
      b_.CreateCondBr(b_.CreateICmpNE(status, b_.getInt32(0)), fail, next);
      b_.SetInsertPoint(fail);
      b_.CreateRet(status);
      b_.SetInsertPoint(next);
    }
    b_.CreateRet(b_.getInt32(0));
    return f;
  }

  /// The weights pointer the body gets: the embedded blob, or the caller's.
  llvm::Value *weights_arg(llvm::Function *f) {
    if (s_.external_weights) return f->getArg(0);
    return weights_ ? static_cast<llvm::Value *>(weights_) : llvm::ConstantPointerNull::get(ptr_);
  }

  /// int NAME_run([weights,] workspace, tensors...)
  void emit_run(llvm::Function *body) {
    llvm::Function *f = function(s_.name + "_run", i32_, run_params());
    unsigned ext = s_.external_weights ? 1 : 0;
    check_tensors(f, ext + 1);
    if (s_.external_weights) check_block(f->getArg(0), s_.weights_bytes);
    check_block(f->getArg(ext), s_.workspace_bytes);
    std::vector<llvm::Value *> args = {weights_arg(f), f->getArg(ext)};
    for (size_t i = 0; i < num_tensors(); ++i) args.push_back(f->getArg(ext + 1 + static_cast<unsigned>(i)));
    b_.CreateRet(b_.CreateCall(body, args));
  }

  /// int NAME([weights,] tensors...): checks, kcc_alloc, the body, kcc_free.
  void emit_own_workspace(llvm::Function *body) {
    unsigned ext = s_.external_weights ? 1 : 0;
    llvm::Function *f = function(s_.name, i32_, std::vector<llvm::Type *>(num_tensors() + ext, ptr_));
    check_tensors(f, ext);
    if (s_.external_weights) check_block(f->getArg(0), s_.weights_bytes);
    llvm::Value *ws = llvm::ConstantPointerNull::get(ptr_);
    if (s_.workspace_bytes > 0) {
      auto *alloc = runtime_function(m_, "kcc_alloc", llvm::FunctionType::get(ptr_, {i64_}, false));
      ws = b_.CreateCall(alloc, {b_.getInt64(static_cast<uint64_t>(s_.workspace_bytes))}, "workspace");
      return_if(b_.CreateIsNull(ws), KCC_ERR_OUT_OF_MEMORY);
    }
    std::vector<llvm::Value *> args = {weights_arg(f), ws};
    for (size_t i = 0; i < num_tensors(); ++i) args.push_back(f->getArg(ext + static_cast<unsigned>(i)));
    llvm::Value *status = b_.CreateCall(body, args, "status");
    if (s_.workspace_bytes > 0) {
      auto *free_fn = runtime_function(m_, "kcc_free", llvm::FunctionType::get(b_.getVoidTy(), {ptr_}, false));
      b_.CreateCall(free_fn, {ws});
    }
    b_.CreateRet(status);
  }

  /// size_t NAME(void) { return value; }
  void emit_constant(const std::string &name, int64_t value) {
    function(name, i64_, {});
    b_.CreateRet(b_.getInt64(static_cast<uint64_t>(value)));
  }

  /// int NAME_load_weights(const char *path, void **weights)
  void emit_load_weights() {
    llvm::Function *f = function(s_.name + "_load_weights", i32_, {ptr_, ptr_});
    auto *load = runtime_function(m_, "kcc_load_weights", llvm::FunctionType::get(i32_, {ptr_, i64_, i64_, ptr_}, false));
    b_.CreateRet(b_.CreateCall(load, {f->getArg(0), b_.getInt64(static_cast<uint64_t>(s_.weights_bytes)),
                                      b_.getInt64(s_.weights_fnv1a), f->getArg(1)}));
  }

  llvm::Module &m_;
  const Target &t_;
  const ModelEntrySpec &s_;
  llvm::LLVMContext &ctx_;
  llvm::IRBuilder<> b_;
  llvm::PointerType *ptr_;
  llvm::IntegerType *i32_, *i64_;
  llvm::GlobalVariable *weights_ = nullptr;
};

}  // namespace

void add_model_entry(CompiledModule &m, const ModelEntrySpec &spec) {
  KCC_INTERNAL(!m.target().is_gpu(), "model entry points are generated for CPU targets only");
  EntryEmitter(m.module(), m.target(), spec).run();
  verify_module(m.module(), ("after the entry points of model '" + spec.name + "'").c_str());
}

std::vector<std::string> model_entry_symbols(const std::string &name) {
  return {name, name + "_run", name + "_workspace_size", name + "_weights_size", name + "_load_weights"};
}

void prefix_kernel_symbols(CompiledModule &m, const std::vector<std::string> &kernels, const std::string &prefix) {
  if (prefix.empty()) return;
  for (const std::string &k : kernels) {
    llvm::Function *f = m.module().getFunction(k);
    KCC_INTERNAL(f != nullptr, fmt::format("no function '{}' in the module", k));
    KCC_INTERNAL(!m.module().getNamedValue(prefix + k),
                 fmt::format("kernel '{}' would take the symbol '{}', which the module defines", k, prefix + k));
    f->setName(prefix + k);
  }
}

}  // namespace kcc
