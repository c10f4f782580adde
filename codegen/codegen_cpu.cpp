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
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "codegen/llvm_support.h"
#include "codegen/math_cpu.h"
#include "ir/diag.h"
#include "ir/visitor.h"
#include "kcc_runtime.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/MDBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

namespace kcc {

namespace {

constexpr int64_t kMaxStackAllocBytes = 64 << 10;
constexpr unsigned kStackAlign = 64;

/// The constant integer value of `e` (an IntImm, or a Broadcast of one).
bool const_int_value(const Expr &e, int64_t *v) {
  if (auto *b = e.as<Broadcast>()) return const_int_value(b->value, v);
  if (auto *i = e.as<IntImm>()) {
    *v = i->value;
    return true;
  }
  return false;
}

/// Writes a vector index as `ramp(base, stride)` with a scalar base and constant stride when
/// it has that form (Ramp, Broadcast, and sums, differences and constant multiples of them).
bool as_linear_ramp(const Expr &idx, Expr *base, int64_t *stride) {
  if (auto *r = idx.as<Ramp>()) {
    if (!const_int_value(r->stride, stride)) return false;
    *base = r->base;
    return true;
  }
  if (auto *b = idx.as<Broadcast>()) {
    *base = b->value;
    *stride = 0;
    return true;
  }
  auto *bin = idx.as<Binary>();
  if (!bin) return false;
  Expr ba, bb;
  int64_t sa = 0, sb = 0;
  switch (bin->op) {
    case BinOp::Add:
    case BinOp::Sub:
      if (!as_linear_ramp(bin->a, &ba, &sa) || !as_linear_ramp(bin->b, &bb, &sb)) return false;
      *base = bin->op == BinOp::Add ? ba + bb : ba - bb;
      *stride = bin->op == BinOp::Add ? sa + sb : sa - sb;
      return true;
    case BinOp::Mul: {
      int64_t c;
      if (const_int_value(bin->b, &c) && as_linear_ramp(bin->a, &ba, &sa)) {
        *base = ba * make_int(c, ba.type());
        *stride = sa * c;
        return true;
      }
      if (const_int_value(bin->a, &c) && as_linear_ramp(bin->b, &bb, &sb)) {
        *base = bb * make_int(c, bb.type());
        *stride = sb * c;
        return true;
      }
      return false;
    }
    default: return false;
  }
}

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

class CodeGenCPU {
 public:
  CodeGenCPU(const Target &t, llvm::Module &m)
      : target_(t), mod_(m), ctx_(m.getContext()), b_(ctx_), math_(m, b_) {
    llvm::FastMathFlags fmf;
    fmf.setAllowContract(true);
    b_.setFastMathFlags(fmf);
    i32_ = b_.getInt32Ty();
    i64_ = b_.getInt64Ty();
    ptr_ = b_.getPtrTy();
  }

  void emit(const LoweredFunc &f);

 private:
  /// State of the LLVM function being filled (saved and restored around outlined bodies).
  struct FnState {
    llvm::Function *fn = nullptr;
    llvm::BasicBlock *entry = nullptr;    ///< allocas only; branches to the body at the end
    std::vector<llvm::Value *> heap;      ///< live kcc_alloc results, outermost first
    std::unordered_map<const Variable *, llvm::Value *> vars;
    std::unordered_map<const BufferNode *, llvm::Value *> buffers;
  };

  // ---- types
  llvm::Type *llvm_type(Type t);
  llvm::Type *mem_type(Type t);  ///< in-memory element type (bool is a byte)
  llvm::Value *splat(llvm::Value *v, int lanes);

  // ---- functions
  llvm::Function *begin_function(const std::string &name, llvm::FunctionType *ft);
  void finish_function();
  void apply_target_attributes(llvm::Function &f);
  llvm::Function *runtime_fn(const char *name, llvm::FunctionType *ft);
  void return_if_failed(llvm::Value *failed, llvm::Value *status);

  // ---- statements
  void emit(const Stmt &s);
  void emit_for(const For *op);
  void emit_serial_loop(const For *op, bool vectorize_hint);
  void emit_unrolled_loop(const For *op);
  void emit_parallel_loop(const For *op);
  void emit_store(const Store *op);
  void emit_allocate(const Allocate *op);
  void emit_if(const IfThenElse *op);

  // ---- expressions
  llvm::Value *emit(const Expr &e);
  llvm::Value *emit_cast(const Cast *op);
  llvm::Value *emit_unary(const Unary *op);
  llvm::Value *emit_binary(const Binary *op);
  llvm::Value *emit_int_div_mod(const Binary *op, llvm::Value *a, llvm::Value *b);
  llvm::Value *emit_load(const Load *op);
  llvm::Value *emit_ramp(const Ramp *op);
  llvm::Value *emit_call(const Call *op);
  llvm::Value *to_i64(llvm::Value *v, Type t);

  // ---- memory
  llvm::Value *buffer_ptr(const BufferNode *b);
  void annotate(llvm::Instruction *inst, const BufferNode *b);
  llvm::Value *load_to_reg(llvm::Value *v, Type t);  ///< i8 -> i1 for bool
  llvm::Value *reg_to_mem(llvm::Value *v, Type t);   ///< i1 -> i8 for bool

  void bind_var(const Variable *v, llvm::Value *val) { st_.vars[v] = val; }
  void unbind_var(const Variable *v) { st_.vars.erase(v); }

  const Target &target_;
  llvm::Module &mod_;
  llvm::LLVMContext &ctx_;
  llvm::IRBuilder<> b_;
  MathEmitter math_;
  llvm::Type *i32_, *i64_;
  llvm::PointerType *ptr_;

  const LoweredFunc *func_ = nullptr;
  FnState st_;
  std::vector<llvm::Function *> made_;  ///< functions created for the current LoweredFunc
  int parallel_count_ = 0;
  // alias scopes of the current LoweredFunc's buffers
  std::map<const BufferNode *, llvm::MDNode *> scope_list_, noalias_list_;
};

// ------------------------------------------------------------------ types

llvm::Type *CodeGenCPU::llvm_type(Type t) {
  llvm::Type *e = nullptr;
  switch (t.kind) {
    case ScalarKind::F32: e = b_.getFloatTy(); break;
    case ScalarKind::F16: e = b_.getHalfTy(); break;
    case ScalarKind::BF16: e = b_.getBFloatTy(); break;
    case ScalarKind::F64: e = b_.getDoubleTy(); break;
    case ScalarKind::I8: e = b_.getInt8Ty(); break;
    case ScalarKind::I32: e = b_.getInt32Ty(); break;
    case ScalarKind::I64: e = b_.getInt64Ty(); break;
    case ScalarKind::Bool: e = b_.getInt1Ty(); break;
  }
  return t.lanes > 1 ? llvm::FixedVectorType::get(e, t.lanes) : e;
}

llvm::Type *CodeGenCPU::mem_type(Type t) {
  if (!t.is_bool()) return llvm_type(t);
  llvm::Type *byte = b_.getInt8Ty();
  return t.lanes > 1 ? llvm::FixedVectorType::get(byte, t.lanes) : byte;
}

llvm::Value *CodeGenCPU::splat(llvm::Value *v, int lanes) {
  if (lanes <= 1 || v->getType()->isVectorTy()) return v;
  return b_.CreateVectorSplat(lanes, v);
}

llvm::Value *CodeGenCPU::load_to_reg(llvm::Value *v, Type t) {
  if (!t.is_bool()) return v;
  return b_.CreateICmpNE(v, llvm::Constant::getNullValue(v->getType()));
}

llvm::Value *CodeGenCPU::reg_to_mem(llvm::Value *v, Type t) {
  if (!t.is_bool()) return v;
  return b_.CreateZExt(v, mem_type(t));
}

llvm::Value *CodeGenCPU::to_i64(llvm::Value *v, Type t) {
  if (v->getType()->getScalarType() == i64_) return v;
  llvm::Type *dst = t.lanes > 1 ? static_cast<llvm::Type *>(llvm::FixedVectorType::get(i64_, t.lanes)) : i64_;
  return t.is_bool() ? b_.CreateZExt(v, dst) : b_.CreateSExt(v, dst);
}

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

llvm::Function *CodeGenCPU::runtime_fn(const char *name, llvm::FunctionType *ft) {
  llvm::FunctionCallee c = mod_.getOrInsertFunction(name, ft);
  auto *f = llvm::cast<llvm::Function>(c.getCallee());
  f->addFnAttr(llvm::Attribute::NoUnwind);
  return f;
}

/// if (failed) { free live scratch; return status; }  — continues in a new block.
void CodeGenCPU::return_if_failed(llvm::Value *failed, llvm::Value *status) {
  auto *fail = llvm::BasicBlock::Create(ctx_, "fail", st_.fn);
  auto *ok = llvm::BasicBlock::Create(ctx_, "ok", st_.fn);
  llvm::MDBuilder mdb(ctx_);
  b_.CreateCondBr(failed, fail, ok, mdb.createBranchWeights(1, 1 << 20));
  b_.SetInsertPoint(fail);
  auto *free_fn = runtime_fn("kcc_free", llvm::FunctionType::get(b_.getVoidTy(), {ptr_}, false));
  for (auto it = st_.heap.rbegin(); it != st_.heap.rend(); ++it) b_.CreateCall(free_fn, {*it});
  b_.CreateRet(status);
  b_.SetInsertPoint(ok);
}

void CodeGenCPU::emit(const LoweredFunc &f) {
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

  for (llvm::Function *g : made_) {
    std::string msg;
    llvm::raw_string_ostream os(msg);
    if (llvm::verifyFunction(*g, &os)) {
      os.flush();
      throw InternalError("LLVM verifier failed on function '" + g->getName().str() + "' generated for kernel '" +
                          f.name + "':\n" + msg + "loop IR:\n" + to_string(f));
    }
  }
  func_ = nullptr;
}

// ------------------------------------------------------------------ statements

void CodeGenCPU::emit(const Stmt &s) {
  if (!s.defined()) return;
  switch (s.kind()) {
    case StmtKind::For: emit_for(s.as<For>()); return;
    case StmtKind::Store: emit_store(s.as<Store>()); return;
    case StmtKind::Allocate: emit_allocate(s.as<Allocate>()); return;
    case StmtKind::Seq:
      for (auto &t : s.as<Seq>()->stmts) emit(t);
      return;
    case StmtKind::IfThenElse: emit_if(s.as<IfThenElse>()); return;
    case StmtKind::Barrier: return;  // a no-op on CPUs
  }
}

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
  llvm::BasicBlock *pre = b_.GetInsertBlock();
  auto *loop = llvm::BasicBlock::Create(ctx_, op->var->name + ".loop", st_.fn);
  auto *after = llvm::BasicBlock::Create(ctx_, op->var->name + ".after", st_.fn);
  b_.CreateCondBr(b_.CreateICmpSLT(mn, end), loop, after);

  b_.SetInsertPoint(loop);
  llvm::PHINode *iv = b_.CreatePHI(ty, 2, op->var->name);
  iv->addIncoming(mn, pre);
  bind_var(op->var.get(), iv);
  emit(op->body);
  unbind_var(op->var.get());
  llvm::Value *next = b_.CreateAdd(iv, llvm::ConstantInt::get(ty, 1), op->var->name + ".next", false, true);
  iv->addIncoming(next, b_.GetInsertBlock());
  llvm::BranchInst *br = b_.CreateCondBr(b_.CreateICmpSLT(next, end), loop, after);
  if (vectorize_hint) {
    llvm::Metadata *enable[] = {llvm::MDString::get(ctx_, "llvm.loop.vectorize.enable"),
                                llvm::ConstantAsMetadata::get(b_.getTrue())};
    std::vector<llvm::Metadata *> ops{nullptr, llvm::MDNode::get(ctx_, enable)};
    if (target_.arch == Arch::AArch64) add_aarch64_vector_loop_hints(target_, ctx_, ops);
    llvm::MDNode *id = llvm::MDNode::getDistinct(ctx_, ops);
    id->replaceOperandWith(0, id);
    br->setMetadata(llvm::LLVMContext::MD_loop, id);
  }
  b_.SetInsertPoint(after);
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
  b_.SetInsertPoint(outer_block);
  auto *pf = runtime_fn("kcc_parallel_for", llvm::FunctionType::get(i32_, {i64_, ptr_, ptr_}, false));
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
  auto *alloc_fn = runtime_fn("kcc_alloc", llvm::FunctionType::get(ptr_, {i64_}, false));
  alloc_fn->addRetAttr(llvm::Attribute::NoAlias);
  llvm::CallInst *p = b_.CreateCall(alloc_fn, {b_.getInt64(bytes)}, buf->name);
  p->addRetAttr(llvm::Attribute::getWithAlignment(ctx_, llvm::Align(64)));
  return_if_failed(b_.CreateIsNull(p), b_.getInt32(KCC_ERR_OUT_OF_MEMORY));
  st_.heap.push_back(p);
  st_.buffers[buf] = p;
  emit(op->body);
  st_.buffers.erase(buf);
  st_.heap.pop_back();
  auto *free_fn = runtime_fn("kcc_free", llvm::FunctionType::get(b_.getVoidTy(), {ptr_}, false));
  b_.CreateCall(free_fn, {p});
}

void CodeGenCPU::emit_if(const IfThenElse *op) {
  KCC_INTERNAL(op->cond.type().lanes == 1 && op->cond.type().is_bool(),
               "if condition must be a scalar bool: " + to_string(op->cond));
  llvm::Value *c = emit(op->cond);
  auto *then_bb = llvm::BasicBlock::Create(ctx_, "then", st_.fn);
  auto *merge = llvm::BasicBlock::Create(ctx_, "endif", st_.fn);
  auto *else_bb = op->else_case.defined() ? llvm::BasicBlock::Create(ctx_, "else", st_.fn) : merge;
  b_.CreateCondBr(c, then_bb, else_bb);
  b_.SetInsertPoint(then_bb);
  emit(op->then_case);
  b_.CreateBr(merge);
  if (op->else_case.defined()) {
    b_.SetInsertPoint(else_bb);
    emit(op->else_case);
    b_.CreateBr(merge);
  }
  b_.SetInsertPoint(merge);
}

// ------------------------------------------------------------------ memory

llvm::Value *CodeGenCPU::buffer_ptr(const BufferNode *b) {
  auto it = st_.buffers.find(b);
  KCC_INTERNAL(it != st_.buffers.end(), "buffer '" + b->name + "' is used outside its allocation in '" +
                                            (func_ ? func_->name : std::string("?")) + "'");
  return it->second;
}

void CodeGenCPU::annotate(llvm::Instruction *inst, const BufferNode *b) {
  auto s = scope_list_.find(b);
  if (s == scope_list_.end()) return;
  inst->setMetadata(llvm::LLVMContext::MD_alias_scope, s->second);
  inst->setMetadata(llvm::LLVMContext::MD_noalias, noalias_list_[b]);
}

llvm::Value *CodeGenCPU::emit_load(const Load *op) {
  const BufferNode *buf = op->buffer.get();
  llvm::Value *base_ptr = buffer_ptr(buf);
  Type t = op->type;
  llvm::Type *et = mem_type(t.element());
  llvm::Align al(std::max(1, t.element().bytes()));
  if (t.lanes == 1) {
    llvm::Value *p = b_.CreateInBoundsGEP(et, base_ptr, to_i64(emit(op->index), op->index.type()));
    llvm::LoadInst *ld = b_.CreateAlignedLoad(et, p, al);
    annotate(ld, buf);
    return load_to_reg(ld, t);
  }
  Expr base;
  int64_t stride = 0;
  if (as_linear_ramp(op->index, &base, &stride) && (stride == 0 || stride == 1)) {
    llvm::Value *p = b_.CreateInBoundsGEP(et, base_ptr, to_i64(emit(base), base.type()));
    if (stride == 1) {
      llvm::LoadInst *ld = b_.CreateAlignedLoad(mem_type(t), p, al);
      annotate(ld, buf);
      return load_to_reg(ld, t);
    }
    llvm::LoadInst *ld = b_.CreateAlignedLoad(et, p, al);
    annotate(ld, buf);
    return splat(load_to_reg(ld, t.element()), t.lanes);
  }
  llvm::Value *idx = to_i64(emit(op->index), op->index.type());
  llvm::Value *ptrs = b_.CreateInBoundsGEP(et, base_ptr, idx);
  llvm::CallInst *g = b_.CreateMaskedGather(mem_type(t), ptrs, al);
  annotate(g, buf);
  return load_to_reg(g, t);
}

void CodeGenCPU::emit_store(const Store *op) {
  const BufferNode *buf = op->buffer.get();
  llvm::Value *base_ptr = buffer_ptr(buf);
  Type vt = op->value.type();
  int lanes = vt.lanes;
  llvm::Type *et = mem_type(vt.element());
  llvm::Align al(std::max(1, vt.element().bytes()));
  llvm::Value *val = reg_to_mem(emit(op->value), vt);
  llvm::Value *mask = nullptr;
  if (op->predicate.defined()) {
    mask = emit(op->predicate);
    if (lanes > 1) mask = splat(mask, lanes);
  }

  if (lanes == 1) {
    llvm::BasicBlock *merge = nullptr;
    if (mask) {
      auto *then_bb = llvm::BasicBlock::Create(ctx_, "store.then", st_.fn);
      merge = llvm::BasicBlock::Create(ctx_, "store.end", st_.fn);
      b_.CreateCondBr(mask, then_bb, merge);
      b_.SetInsertPoint(then_bb);
    }
    llvm::Value *p = b_.CreateInBoundsGEP(et, base_ptr, to_i64(emit(op->index), op->index.type()));
    annotate(b_.CreateAlignedStore(val, p, al), buf);
    if (merge) {
      b_.CreateBr(merge);
      b_.SetInsertPoint(merge);
    }
    return;
  }
  Expr base;
  int64_t stride = 0;
  if (as_linear_ramp(op->index, &base, &stride) && stride == 1) {
    llvm::Value *p = b_.CreateInBoundsGEP(et, base_ptr, to_i64(emit(base), base.type()));
    llvm::Instruction *st = mask ? static_cast<llvm::Instruction *>(b_.CreateMaskedStore(val, p, al, mask))
                                 : b_.CreateAlignedStore(val, p, al);
    annotate(st, buf);
    return;
  }
  llvm::Value *idx = to_i64(emit(op->index), op->index.type());
  llvm::Value *ptrs = b_.CreateInBoundsGEP(et, base_ptr, idx);
  annotate(b_.CreateMaskedScatter(val, ptrs, al, mask), buf);
}

// ------------------------------------------------------------------ expressions

llvm::Value *CodeGenCPU::emit(const Expr &e) {
  KCC_INTERNAL(e.defined(), "undefined expression in '" + (func_ ? func_->name : std::string("?")) + "'");
  switch (e.kind()) {
    case ExprKind::IntImm: {
      auto *op = e.as<IntImm>();
      llvm::Type *t = llvm_type(op->type.element());
      return splat(llvm::ConstantInt::get(t, static_cast<uint64_t>(op->value), true), op->type.lanes);
    }
    case ExprKind::FloatImm: {
      auto *op = e.as<FloatImm>();
      return splat(llvm::ConstantFP::get(llvm_type(op->type.element()), op->value), op->type.lanes);
    }
    case ExprKind::Variable: {
      auto *op = e.as<Variable>();
      auto it = st_.vars.find(op);
      KCC_INTERNAL(it != st_.vars.end(), "variable '" + op->name + "' is not bound in '" +
                                             (func_ ? func_->name : std::string("?")) + "'");
      return it->second;
    }
    case ExprKind::Cast: return emit_cast(e.as<Cast>());
    case ExprKind::Unary: return emit_unary(e.as<Unary>());
    case ExprKind::Binary: return emit_binary(e.as<Binary>());
    case ExprKind::Select: {
      auto *op = e.as<Select>();
      llvm::Value *c = emit(op->cond);
      llvm::Value *t = emit(op->t);
      llvm::Value *f = emit(op->f);
      return b_.CreateSelect(c, t, f);
    }
    case ExprKind::Call: return emit_call(e.as<Call>());
    case ExprKind::Access:
      KCC_INTERNAL(false, "tensor access " + to_string(e) + " reached code generation (lowering must remove it)");
    case ExprKind::Load: return emit_load(e.as<Load>());
    case ExprKind::Ramp: return emit_ramp(e.as<Ramp>());
    case ExprKind::Broadcast: {
      auto *op = e.as<Broadcast>();
      return splat(emit(op->value), op->lanes);
    }
  }
  KCC_INTERNAL(false, "unknown expression kind");
}

llvm::Value *CodeGenCPU::emit_cast(const Cast *op) {
  Type from = op->value.type(), to = op->type;
  llvm::Value *v = emit(op->value);
  llvm::Type *dst = llvm_type(to);
  if (from == to) return v;
  if (to.is_bool()) {
    if (from.is_float()) return b_.CreateFCmpUNE(v, llvm::Constant::getNullValue(v->getType()));
    return b_.CreateICmpNE(v, llvm::Constant::getNullValue(v->getType()));
  }
  if (from.is_bool()) return to.is_float() ? b_.CreateUIToFP(v, dst) : b_.CreateZExt(v, dst);
  if (from.is_int() && to.is_int()) return b_.CreateSExtOrTrunc(v, dst);
  if (from.is_int() && to.is_float()) return b_.CreateSIToFP(v, dst);
  if (from.is_float() && to.is_int()) return b_.CreateFPToSI(v, dst);
  // float -> float
  if (from.bits() == to.bits()) {  // f16 <-> bf16: through f32
    llvm::Type *f32 = llvm_type(Type::f32(to.lanes));
    return b_.CreateFPTrunc(b_.CreateFPExt(v, f32), dst);
  }
  return from.bits() < to.bits() ? b_.CreateFPExt(v, dst) : b_.CreateFPTrunc(v, dst);
}

llvm::Value *CodeGenCPU::emit_unary(const Unary *op) {
  llvm::Value *a = emit(op->a);
  switch (op->op) {
    case UnOp::Neg:
      if (op->type.is_float()) return b_.CreateFNeg(a);
      return b_.CreateNeg(a, "", /*HasNSW=*/true);
    case UnOp::Not: return b_.CreateNot(a);
  }
  KCC_INTERNAL(false, "unknown unary operator");
}

llvm::Value *CodeGenCPU::emit_binary(const Binary *op) {
  Type t = op->a.type();
  llvm::Value *a = emit(op->a);
  llvm::Value *b = emit(op->b);
  bool fp = t.is_float();
  bool boolean = t.is_bool();
  switch (op->op) {
    case BinOp::Add: return fp ? b_.CreateFAdd(a, b) : b_.CreateAdd(a, b, "", false, !boolean);
    case BinOp::Sub: return fp ? b_.CreateFSub(a, b) : b_.CreateSub(a, b, "", false, !boolean);
    case BinOp::Mul: return fp ? b_.CreateFMul(a, b) : b_.CreateMul(a, b, "", false, !boolean);
    case BinOp::Div:
    case BinOp::Mod:
      if (fp) {
        if (op->op == BinOp::Div) return b_.CreateFDiv(a, b);
        // floor modulus, like the integer one: the result has the sign of the divisor
        llvm::Value *r = b_.CreateFRem(a, b);
        llvm::Value *zero = llvm::Constant::getNullValue(r->getType());
        llvm::Value *fix = b_.CreateAnd(b_.CreateFCmpONE(r, zero),
                                        b_.CreateXor(b_.CreateFCmpOLT(r, zero), b_.CreateFCmpOLT(b, zero)));
        return b_.CreateSelect(fix, b_.CreateFAdd(r, b), r);
      }
      return emit_int_div_mod(op, a, b);
    case BinOp::Min:
      if (fp) return b_.CreateMinNum(a, b);
      if (boolean) return b_.CreateAnd(a, b);
      return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, a, b);
    case BinOp::Max:
      if (fp) return b_.CreateMaxNum(a, b);
      if (boolean) return b_.CreateOr(a, b);
      return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, a, b);
    case BinOp::EQ: return fp ? b_.CreateFCmpOEQ(a, b) : b_.CreateICmpEQ(a, b);
    case BinOp::NE: return fp ? b_.CreateFCmpUNE(a, b) : b_.CreateICmpNE(a, b);
    case BinOp::LT: return fp ? b_.CreateFCmpOLT(a, b) : boolean ? b_.CreateICmpULT(a, b) : b_.CreateICmpSLT(a, b);
    case BinOp::LE: return fp ? b_.CreateFCmpOLE(a, b) : boolean ? b_.CreateICmpULE(a, b) : b_.CreateICmpSLE(a, b);
    case BinOp::GT: return fp ? b_.CreateFCmpOGT(a, b) : boolean ? b_.CreateICmpUGT(a, b) : b_.CreateICmpSGT(a, b);
    case BinOp::GE: return fp ? b_.CreateFCmpOGE(a, b) : boolean ? b_.CreateICmpUGE(a, b) : b_.CreateICmpSGE(a, b);
    case BinOp::And: return b_.CreateAnd(a, b);
    case BinOp::Or: return b_.CreateOr(a, b);
  }
  KCC_INTERNAL(false, "unknown binary operator");
}

/// Floor division and modulus (ir/expr.h): sdiv/srem plus a fix-up when the remainder's sign
/// differs from the divisor's; shifts and masks for positive power-of-two constants.
llvm::Value *CodeGenCPU::emit_int_div_mod(const Binary *op, llvm::Value *a, llvm::Value *b) {
  KCC_INTERNAL(!op->type.is_bool(), "division of bools");
  bool div = op->op == BinOp::Div;
  llvm::Type *ty = a->getType();
  int64_t c = 0;
  if (const_int_value(op->b, &c) && c > 0) {
    if ((c & (c - 1)) == 0) {
      int shift = 0;
      while ((int64_t(1) << shift) < c) ++shift;
      return div ? b_.CreateAShr(a, llvm::ConstantInt::get(ty, shift))
                 : b_.CreateAnd(a, llvm::ConstantInt::get(ty, static_cast<uint64_t>(c - 1)));
    }
    llvm::Value *q = b_.CreateSDiv(a, b);
    llvm::Value *r = b_.CreateSRem(a, b);
    llvm::Value *neg = b_.CreateICmpSLT(r, llvm::Constant::getNullValue(ty));
    return div ? b_.CreateAdd(q, b_.CreateSExt(neg, ty)) : b_.CreateSelect(neg, b_.CreateAdd(r, b), r);
  }
  llvm::Value *q = b_.CreateSDiv(a, b);
  llvm::Value *r = b_.CreateSRem(a, b);
  llvm::Value *zero = llvm::Constant::getNullValue(ty);
  llvm::Value *fix = b_.CreateAnd(b_.CreateICmpNE(r, zero), b_.CreateICmpSLT(b_.CreateXor(r, b), zero));
  return div ? b_.CreateSub(q, b_.CreateZExt(fix, ty)) : b_.CreateSelect(fix, b_.CreateAdd(r, b), r);
}

llvm::Value *CodeGenCPU::emit_ramp(const Ramp *op) {
  Type et = op->type.element();
  llvm::Value *base = splat(emit(op->base), op->lanes);
  llvm::Value *stride = splat(emit(op->stride), op->lanes);
  std::vector<llvm::Constant *> steps;
  llvm::Type *st = llvm_type(et);
  for (int i = 0; i < op->lanes; ++i)
    steps.push_back(et.is_float() ? llvm::ConstantFP::get(st, i) : llvm::ConstantInt::get(st, i));
  llvm::Value *iota = llvm::ConstantVector::get(steps);
  if (et.is_float()) return b_.CreateFAdd(base, b_.CreateFMul(stride, iota));
  return b_.CreateAdd(base, b_.CreateMul(stride, iota, "", false, true), "", false, true);
}

llvm::Value *CodeGenCPU::emit_call(const Call *op) {
  std::vector<llvm::Value *> args;
  for (auto &a : op->args) args.push_back(emit(a));
  Type t = op->type;
  if (t.is_int()) {
    KCC_INTERNAL(op->fn == MathFn::abs, std::string("math function '") + to_string(op->fn) + "' on integers");
    return b_.CreateBinaryIntrinsic(llvm::Intrinsic::abs, args[0], b_.getFalse());
  }
  KCC_INTERNAL(t.is_float(), std::string("math function '") + to_string(op->fn) + "' on " + to_string(t));
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
  for (const auto &f : funcs) cg.emit(f);
}

}  // namespace kcc
