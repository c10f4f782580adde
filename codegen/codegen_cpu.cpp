// codegen/codegen_cpu.cpp - loop IR -> LLVM IR for CPUs (x86-64; AArch64 through the hooks of
// cpu_aarch64.cpp: vscale_range attributes and scalable-loop hints).
//
// Every kernel becomes `i32 NAME(ptr arg0, ..., ptr argN)`:
//  * arguments are noalias (distinct tensors), aligned to their element size, dereferenceable
//    for the whole tensor, and readonly when never stored to;
//  * every load and store carries alias-scope metadata: one scope per buffer, noalias with
//    every other buffer of the function, so the distinctness survives outlining of parallel
//    loops into separate functions;
//  * float arithmetic carries the `contract` fast-math flag (FMA formation), index arithmetic
//    `nsw`;
//  * a parallel loop is outlined into `i32 NAME.par.K(ptr closure, i64 begin, i64 end)` and
//    handed to kcc_parallel_for; a non-zero status returns from the kernel at once, after
//    freeing the heap scratch buffers live at that point;
//  * Local allocations of at most 64 KiB with a constant size are allocas in the entry block
//    (SROA promotes small unrolled accumulator tiles to registers); other allocations come from
//    kcc_alloc / kcc_free, with KCC_ERR_OUT_OF_MEMORY returned when it fails.
//
// Expressions, stores, ifs and counted loops come from the shared emitter (llvm_emitter.h);
// this file holds the CPU's functions, loops, allocations, alias scopes and math.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "codegen/llvm_emitter.h"
#include "codegen/llvm_support.h"
#include "ir/diag.h"
#include "ir/visitor.h"
#include "kcc_runtime.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/MDBuilder.h"
#include "llvm/IR/Module.h"

namespace kcc {

namespace {

constexpr int64_t kMaxStackAllocBytes = 64 << 10;
constexpr unsigned kStackAlign = 64;

/// Buffers a function touches, and which of them it stores to.
class BufferCollector : public IRVisitor {
 public:
  std::vector<const BufferNode *> order;
  std::set<const BufferNode *> stored;

  void add(const BufferNode *b) {
    if (seen_.insert(b).second) order.push_back(b);
  }

 protected:
  void visit_node(const Load *op) override {
    add(op->buffer.get());
    IRVisitor::visit_node(op);
  }
  void visit_node(const Store *op) override {
    add(op->buffer.get());
    stored.insert(op->buffer.get());
    IRVisitor::visit_node(op);
  }
  void visit_node(const Allocate *op) override {
    add(op->buffer.get());
    IRVisitor::visit_node(op);
  }

 private:
  std::set<const BufferNode *> seen_;
};

/// Variables and buffers a statement mentions (candidates for a parallel closure).
class UseCollector : public IRVisitor {
 public:
  std::vector<const Variable *> vars;
  std::vector<const BufferNode *> buffers;

 protected:
  void visit_node(const Variable *op) override {
    if (seen_vars_.insert(op).second) vars.push_back(op);
  }
  void visit_node(const Load *op) override {
    if (seen_bufs_.insert(op->buffer.get()).second) buffers.push_back(op->buffer.get());
    IRVisitor::visit_node(op);
  }
  void visit_node(const Store *op) override {
    if (seen_bufs_.insert(op->buffer.get()).second) buffers.push_back(op->buffer.get());
    IRVisitor::visit_node(op);
  }

 private:
  std::set<const Variable *> seen_vars_;
  std::set<const BufferNode *> seen_bufs_;
};

class CodeGenCPU : public LLVMEmitter {
 public:
  CodeGenCPU(const Target &t, llvm::Module &m) : LLVMEmitter(t, m) {}

  void emit_function(const LoweredFunc &f);

 private:
  // ---- functions
  llvm::Function *begin_function(const std::string &name, llvm::FunctionType *ft);
  void finish_function();
  void apply_target_attributes(llvm::Function &f);
  void return_if_failed(llvm::Value *failed, llvm::Value *status);

  // ---- hooks of the shared emitter
  void emit_for(const For *op) override;
  void emit_allocate(const Allocate *op) override;
  void emit_barrier() override {}  // a no-op on CPUs
  llvm::Value *emit_math(const Call *op, std::vector<llvm::Value *> &args) override;
  llvm::Value *emit_gather(const BufferNode *buf, Type t, llvm::Value *base_ptr, llvm::Value *idx,
                           llvm::Align elem_align) override;
  void emit_scatter(const BufferNode *buf, llvm::Value *base_ptr, llvm::Value *idx, llvm::Value *val,
                    llvm::Value *mask, llvm::Align elem_align) override;
  bool masked_vector_stores() const override { return true; }
  void annotate(llvm::Instruction *inst, const BufferNode *b) override;

  // ---- loops
  void emit_serial_loop(const For *op, bool vectorize_hint);
  void emit_unrolled_loop(const For *op);
  void emit_parallel_loop(const For *op);

  std::vector<llvm::Value *> heap_;     ///< live kcc_alloc results of st_.fn, outermost first
  std::vector<llvm::Function *> made_;  ///< functions created for the current LoweredFunc
  int parallel_count_ = 0;
  // alias scopes of the current LoweredFunc's buffers
  std::map<const BufferNode *, llvm::MDNode *> scope_list_, noalias_list_;
};

// ------------------------------------------------------------------ functions

void CodeGenCPU::apply_target_attributes(llvm::Function &f) {
  f.addFnAttr(llvm::Attribute::NoUnwind);
  f.addFnAttr("no-trapping-math", "true");
  if (!target_.cpu.empty()) f.addFnAttr("target-cpu", target_.cpu);
  if (!target_.features.empty()) f.addFnAttr("target-features", target_.features);
  switch (target_.arch) {
    case Arch::X86_64:
      // skylake-avx512 and icelake default to 256-bit vectors unless told otherwise.
      f.addFnAttr("prefer-vector-width", std::to_string(target_.vector_bits));
      break;
    case Arch::AArch64:
      apply_aarch64_attributes(target_, f);
      break;
    case Arch::NVPTX:
      KCC_INTERNAL(false, "the CPU code generator was given an NVPTX target");
  }
}

llvm::Function *CodeGenCPU::begin_function(const std::string &name, llvm::FunctionType *ft) {
  auto *fn = llvm::Function::Create(ft, llvm::Function::ExternalLinkage, name, mod_);
  apply_target_attributes(*fn);
  st_ = FnState{};
  heap_.clear();
  st_.fn = fn;
  st_.entry = llvm::BasicBlock::Create(ctx_, "entry", fn);
  auto *body = llvm::BasicBlock::Create(ctx_, "body", fn);
  b_.SetInsertPoint(body);
  made_.push_back(fn);
  return fn;
}

/// Returns 0 from the current block and closes the entry block.
void CodeGenCPU::finish_function() {
  b_.CreateRet(b_.getInt32(0));
  llvm::IRBuilder<> eb(st_.entry);
  eb.CreateBr(&*std::next(st_.fn->begin()));
}

/// if (failed) { free live scratch; return status; }  — continues in a new block.
void CodeGenCPU::return_if_failed(llvm::Value *failed, llvm::Value *status) {
  auto *fail = llvm::BasicBlock::Create(ctx_, "fail", st_.fn);
  auto *ok = llvm::BasicBlock::Create(ctx_, "ok", st_.fn);
  llvm::MDBuilder mdb(ctx_);
  b_.CreateCondBr(failed, fail, ok, mdb.createBranchWeights(1, 1 << 20));
  b_.SetInsertPoint(fail);
  auto *free_fn = runtime_function(mod_, "kcc_free", llvm::FunctionType::get(b_.getVoidTy(), {ptr_}, false));
  for (auto it = heap_.rbegin(); it != heap_.rend(); ++it) b_.CreateCall(free_fn, {*it});
  b_.CreateRet(status);
  b_.SetInsertPoint(ok);
}

void CodeGenCPU::emit_function(const LoweredFunc &f) {
  func_ = &f;
  made_.clear();
  parallel_count_ = 0;

  BufferCollector bc;
  for (auto &a : f.args) bc.add(a.get());
  bc.visit(f.body);
  // One alias scope per buffer: every buffer is distinct memory.
  llvm::MDBuilder mdb(ctx_);
  llvm::MDNode *domain = mdb.createAnonymousAliasScopeDomain(f.name);
  std::map<const BufferNode *, llvm::MDNode *> scope;
  for (auto *b : bc.order) scope[b] = mdb.createAnonymousAliasScope(domain, b->name);
  scope_list_.clear();
  noalias_list_.clear();
  for (auto *b : bc.order) {
    std::vector<llvm::Metadata *> others;
    for (auto *o : bc.order)
      if (o != b) others.push_back(scope[o]);
    scope_list_[b] = llvm::MDNode::get(ctx_, {scope[b]});
    noalias_list_[b] = llvm::MDNode::get(ctx_, others);
  }

  std::vector<llvm::Type *> params(f.args.size(), ptr_);
  auto *fn = begin_function(f.name, llvm::FunctionType::get(i32_, params, false));
  for (size_t i = 0; i < f.args.size(); ++i) {
    const BufferNode *buf = f.args[i].get();
    llvm::Argument *a = fn->getArg(static_cast<unsigned>(i));
    a->setName(buf->name);
    a->addAttr(llvm::Attribute::NoAlias);
    a->addAttr(llvm::Attribute::getWithAlignment(ctx_, llvm::Align(std::max(1, buf->elem.bytes()))));
    uint64_t bytes = static_cast<uint64_t>(buf->size) * static_cast<uint64_t>(std::max(1, buf->elem.bytes()));
    if (bytes > 0) a->addAttr(llvm::Attribute::getWithDereferenceableBytes(ctx_, bytes));
    if (!bc.stored.count(buf)) a->addAttr(llvm::Attribute::ReadOnly);
    st_.buffers[buf] = a;
  }
  emit(f.body);
  finish_function();

  for (llvm::Function *g : made_)
    verify_or_throw(*g, "function '" + g->getName().str() + "' generated for kernel '" + f.name + "'");
  func_ = nullptr;
}

// ------------------------------------------------------------------ loops

void CodeGenCPU::emit_for(const For *op) {
  switch (op->kind) {
    case ForKind::Serial: emit_serial_loop(op, false); return;
    case ForKind::Vectorized:
      // The lowering normally turns these into vector code; ask LLVM to vectorize what is left.
      emit_serial_loop(op, true);
      return;
    case ForKind::Unrolled: emit_unrolled_loop(op); return;
    case ForKind::Parallel: emit_parallel_loop(op); return;
    case ForKind::GpuBlock:
    case ForKind::GpuThread:
      KCC_INTERNAL(false, "GPU loop '" + op->var->name + "' reached the CPU code generator");
  }
}

void CodeGenCPU::emit_serial_loop(const For *op, bool vectorize_hint) {
  llvm::Type *ty = llvm_type(op->var->type);
  llvm::Value *mn = b_.CreateSExtOrTrunc(emit(op->min), ty);
  llvm::Value *ext = b_.CreateSExtOrTrunc(emit(op->extent), ty);
  llvm::Value *end = b_.CreateAdd(mn, ext, op->var->name + ".end", false, true);
  llvm::BranchInst *br = emit_loop(op->var.get(), mn, end, llvm::ConstantInt::get(ty, 1), op->body);
  if (vectorize_hint) {
    llvm::Metadata *enable[] = {llvm::MDString::get(ctx_, "llvm.loop.vectorize.enable"),
                                llvm::ConstantAsMetadata::get(b_.getTrue())};
    std::vector<llvm::Metadata *> ops{nullptr, llvm::MDNode::get(ctx_, enable)};
    if (target_.arch == Arch::AArch64) add_aarch64_vector_loop_hints(target_, ctx_, ops);
    llvm::MDNode *id = llvm::MDNode::getDistinct(ctx_, ops);
    id->replaceOperandWith(0, id);
    br->setMetadata(llvm::LLVMContext::MD_loop, id);
  }
}

void CodeGenCPU::emit_unrolled_loop(const For *op) {
  int64_t n = 0;
  KCC_INTERNAL(is_const_int(op->extent, &n),
               "unrolled loop '" + op->var->name + "' has a non-constant extent " + to_string(op->extent));
  llvm::Type *ty = llvm_type(op->var->type);
  llvm::Value *mn = b_.CreateSExtOrTrunc(emit(op->min), ty);
  for (int64_t k = 0; k < n; ++k) {
    bind_var(op->var.get(), b_.CreateAdd(mn, llvm::ConstantInt::get(ty, k), "", false, true));
    emit(op->body);
  }
  unbind_var(op->var.get());
}

void CodeGenCPU::emit_parallel_loop(const For *op) {
  llvm::Type *ty = llvm_type(op->var->type);
  llvm::Value *mn = b_.CreateSExtOrTrunc(emit(op->min), ty);
  llvm::Value *ext = b_.CreateSExtOrTrunc(emit(op->extent), ty);

  // The closure: the loop min, then every bound variable and buffer the body uses.
  UseCollector uses;
  uses.visit(op->body);
  std::vector<const Variable *> cvars;
  std::vector<const BufferNode *> cbufs;
  std::vector<llvm::Type *> fields{ty};
  std::vector<llvm::Value *> values{mn};
  for (const Variable *v : uses.vars) {
    auto it = st_.vars.find(v);
    if (it == st_.vars.end()) continue;  // bound inside the body (or the loop var itself)
    cvars.push_back(v);
    fields.push_back(it->second->getType());
    values.push_back(it->second);
  }
  for (const BufferNode *bn : uses.buffers) {
    auto it = st_.buffers.find(bn);
    if (it == st_.buffers.end()) continue;  // allocated inside the body
    cbufs.push_back(bn);
    fields.push_back(ptr_);
    values.push_back(it->second);
  }
  auto *cty = llvm::StructType::get(ctx_, fields);
  llvm::AllocaInst *closure;
  {
    llvm::IRBuilder<> eb(st_.entry);
    closure = eb.CreateAlloca(cty, nullptr, op->var->name + ".closure");
  }
  for (size_t i = 0; i < values.size(); ++i)
    b_.CreateStore(values[i], b_.CreateStructGEP(cty, closure, static_cast<unsigned>(i)));

  // The outlined body: i32 (ptr closure, i64 begin, i64 end).
  FnState outer = std::move(st_);
  std::vector<llvm::Value *> outer_heap = std::move(heap_);
  llvm::BasicBlock *outer_block = b_.GetInsertBlock();
  auto *bft = llvm::FunctionType::get(i32_, {ptr_, i64_, i64_}, false);
  std::string name = func_->name + ".par." + std::to_string(parallel_count_++);
  llvm::Function *body_fn = begin_function(name, bft);
  body_fn->setLinkage(llvm::Function::InternalLinkage);
  body_fn->getArg(0)->addAttr(llvm::Attribute::NoAlias);
  body_fn->getArg(0)->addAttr(llvm::Attribute::ReadOnly);
  llvm::Value *cl = body_fn->getArg(0);
  llvm::Value *begin = body_fn->getArg(1), *end = body_fn->getArg(2);
  llvm::Value *inner_mn = b_.CreateLoad(ty, b_.CreateStructGEP(cty, cl, 0), "min");
  for (size_t i = 0; i < cvars.size(); ++i)
    bind_var(cvars[i], b_.CreateLoad(fields[1 + i], b_.CreateStructGEP(cty, cl, static_cast<unsigned>(1 + i)),
                                     cvars[i]->name));
  for (size_t i = 0; i < cbufs.size(); ++i) {
    unsigned f = static_cast<unsigned>(1 + cvars.size() + i);
    llvm::LoadInst *p = b_.CreateLoad(ptr_, b_.CreateStructGEP(cty, cl, f), cbufs[i]->name);
    // What the kernel's argument attributes said, restated for the outlined body.
    const BufferNode *bn = cbufs[i];
    uint64_t align = bn->arg_index >= 0 ? static_cast<uint64_t>(std::max(1, bn->elem.bytes())) : kStackAlign;
    uint64_t bytes = static_cast<uint64_t>(std::max<int64_t>(1, bn->size)) * std::max(1, bn->elem.bytes());
    p->setMetadata(llvm::LLVMContext::MD_nonnull, llvm::MDNode::get(ctx_, {}));
    p->setMetadata(llvm::LLVMContext::MD_align,
                   llvm::MDNode::get(ctx_, {llvm::ConstantAsMetadata::get(b_.getInt64(align))}));
    p->setMetadata(llvm::LLVMContext::MD_dereferenceable,
                   llvm::MDNode::get(ctx_, {llvm::ConstantAsMetadata::get(b_.getInt64(bytes))}));
    st_.buffers[cbufs[i]] = p;
  }
  llvm::BasicBlock *pre = b_.GetInsertBlock();
  auto *loop = llvm::BasicBlock::Create(ctx_, "par.loop", body_fn);
  auto *after = llvm::BasicBlock::Create(ctx_, "par.after", body_fn);
  b_.CreateCondBr(b_.CreateICmpSLT(begin, end), loop, after);
  b_.SetInsertPoint(loop);
  llvm::PHINode *i = b_.CreatePHI(i64_, 2, "i");
  i->addIncoming(begin, pre);
  bind_var(op->var.get(), b_.CreateAdd(inner_mn, b_.CreateTrunc(i, ty), op->var->name, false, true));
  emit(op->body);
  llvm::Value *next = b_.CreateAdd(i, b_.getInt64(1), "i.next", false, true);
  i->addIncoming(next, b_.GetInsertBlock());
  b_.CreateCondBr(b_.CreateICmpSLT(next, end), loop, after);
  b_.SetInsertPoint(after);
  finish_function();

  st_ = std::move(outer);
  heap_ = std::move(outer_heap);
  b_.SetInsertPoint(outer_block);
  auto *pf = runtime_function(mod_, "kcc_parallel_for", llvm::FunctionType::get(i32_, {i64_, ptr_, ptr_}, false));
  llvm::Value *status = b_.CreateCall(pf, {b_.CreateSExt(ext, i64_), body_fn, closure}, "status");
  return_if_failed(b_.CreateICmpNE(status, b_.getInt32(0)), status);
}

void CodeGenCPU::emit_allocate(const Allocate *op) {
  const BufferNode *buf = op->buffer.get();
  KCC_INTERNAL(buf->scope != MemScope::Shared, "shared-memory buffer '" + buf->name + "' on a CPU target");
  llvm::Type *et = mem_type(buf->elem);
  int64_t elem_bytes = std::max(1, buf->elem.bytes());
  int64_t count = std::max<int64_t>(1, buf->size);
  int64_t bytes = count * elem_bytes;
  if (buf->scope == MemScope::Local && bytes <= kMaxStackAllocBytes) {
    llvm::IRBuilder<> eb(st_.entry);
    llvm::AllocaInst *a = eb.CreateAlloca(llvm::ArrayType::get(et, static_cast<uint64_t>(count)), nullptr, buf->name);
    a->setAlignment(llvm::Align(kStackAlign));
    st_.buffers[buf] = a;
    emit(op->body);
    st_.buffers.erase(buf);
    return;
  }
  auto *alloc_fn = runtime_function(mod_, "kcc_alloc", llvm::FunctionType::get(ptr_, {i64_}, false));
  alloc_fn->addRetAttr(llvm::Attribute::NoAlias);
  llvm::CallInst *p = b_.CreateCall(alloc_fn, {b_.getInt64(bytes)}, buf->name);
  p->addRetAttr(llvm::Attribute::getWithAlignment(ctx_, llvm::Align(64)));
  return_if_failed(b_.CreateIsNull(p), b_.getInt32(KCC_ERR_OUT_OF_MEMORY));
  heap_.push_back(p);
  st_.buffers[buf] = p;
  emit(op->body);
  st_.buffers.erase(buf);
  heap_.pop_back();
  auto *free_fn = runtime_function(mod_, "kcc_free", llvm::FunctionType::get(b_.getVoidTy(), {ptr_}, false));
  b_.CreateCall(free_fn, {p});
}

// ------------------------------------------------------------------ memory and math

void CodeGenCPU::annotate(llvm::Instruction *inst, const BufferNode *b) {
  auto s = scope_list_.find(b);
  if (s == scope_list_.end()) return;
  inst->setMetadata(llvm::LLVMContext::MD_alias_scope, s->second);
  inst->setMetadata(llvm::LLVMContext::MD_noalias, noalias_list_[b]);
}

llvm::Value *CodeGenCPU::emit_gather(const BufferNode *buf, Type t, llvm::Value *base_ptr, llvm::Value *idx,
                                     llvm::Align elem_align) {
  llvm::Value *ptrs = b_.CreateInBoundsGEP(mem_type(t.element()), base_ptr, idx);
  llvm::CallInst *g = b_.CreateMaskedGather(mem_type(t), ptrs, elem_align);
  annotate(g, buf);
  return g;
}

void CodeGenCPU::emit_scatter(const BufferNode *buf, llvm::Value *base_ptr, llvm::Value *idx, llvm::Value *val,
                              llvm::Value *mask, llvm::Align elem_align) {
  llvm::Type *et = llvm::cast<llvm::VectorType>(val->getType())->getElementType();
  llvm::Value *ptrs = b_.CreateInBoundsGEP(et, base_ptr, idx);
  annotate(b_.CreateMaskedScatter(val, ptrs, elem_align, mask), buf);
}

llvm::Value *CodeGenCPU::emit_math(const Call *op, std::vector<llvm::Value *> &args) {
  Type t = op->type;
  // f16 / bf16: compute in f32.
  bool narrow = t.kind == ScalarKind::F16 || t.kind == ScalarKind::BF16;
  if (narrow)
    for (auto &a : args) a = b_.CreateFPExt(a, llvm_type(Type::f32(t.lanes)));
  llvm::Value *r = math_.emit(op->fn, args);
  return narrow ? b_.CreateFPTrunc(r, llvm_type(t)) : r;
}

}  // namespace

void emit_cpu_functions(const std::vector<LoweredFunc> &funcs, const Target &t, llvm::Module &m) {
  CodeGenCPU cg(t, m);
  for (const auto &f : funcs) cg.emit_function(f);
}

}  // namespace kcc
