// codegen/codegen_nvptx.cpp - loop IR -> PTX (device) + an x86-64 host module that launches it.
//
// A GPU kernel NAME becomes (execution model in codegen/gpu_launch.h):
//  * device: one PTX kernel `NAME_kI` per root loop nest (launch I), with the ptx_kernel calling
//    convention, `nvvm.annotations` {kernel, maxntidx/y/z = the block size}, arguments as
//    `ptr addrspace(1)` (noalias; readonly ones load through the non-coherent cache), block and
//    thread loops as reads of `llvm.nvvm.read.ptx.sreg.{ctaid,tid}.*`, Shared buffers as slices
//    of one dynamic `extern .shared` array (address space 3), Local buffers as allocas (registers
//    after SROA), barriers as `llvm.nvvm.barrier0`, vector loads/stores aligned as far as the
//    index proves (16-byte `ld.global.v4.f32` when it does). The module is optimized (O3) and
//    printed as PTX for the target's sm_XX;
//  * host: the PTX as a constant string, and `i32 NAME(ptr in..., ptr out..., ptr stream)` (C ABI,
//    device pointers aligned to 16 bytes, as cudaMalloc gives) that allocates device scratch for
//    root intermediates (kcc_cuda_alloc), launches each nest (kcc_cuda_launch: loads the module
//    once, caches the function, opts into large dynamic shared memory) and frees the scratch.
//    Every runtime status is returned at once (after freeing scratch).
#include <array>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "codegen/gpu_launch.h"
#include "codegen/llvm_support.h"
#include "codegen/math_cpu.h"
#include "ir/diag.h"
#include "ir/visitor.h"
#include "kcc_runtime.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/IntrinsicsNVPTX.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Passes/OptimizationLevel.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

namespace kcc {

namespace {

constexpr unsigned kGlobalAS = 1, kSharedAS = 3;

bool const_int_value(const Expr &e, int64_t *v) {
  if (auto *b = e.as<Broadcast>()) return const_int_value(b->value, v);
  if (auto *i = e.as<IntImm>()) {
    *v = i->value;
    return true;
  }
  return false;
}

/// `idx` as ramp(base, stride) with a constant stride, when it has that form.
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
  int64_t sa = 0, sb = 0, c = 0;
  switch (bin->op) {
    case BinOp::Add:
    case BinOp::Sub:
      if (!as_linear_ramp(bin->a, &ba, &sa) || !as_linear_ramp(bin->b, &bb, &sb)) return false;
      *base = bin->op == BinOp::Add ? ba + bb : ba - bb;
      *stride = bin->op == BinOp::Add ? sa + sb : sa - sb;
      return true;
    case BinOp::Mul:
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
    default: return false;
  }
}

int64_t gcd(int64_t a, int64_t b) {
  a = a < 0 ? -a : a;
  b = b < 0 ? -b : b;
  while (b) {
    int64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/// A number that provably divides the scalar integer `e` (1 when nothing is known).
int64_t known_multiple(const Expr &e) {
  constexpr int64_t kAny = int64_t(1) << 30;
  if (auto *i = e.as<IntImm>()) return i->value == 0 ? kAny : (i->value < 0 ? -i->value : i->value);
  auto *b = e.as<Binary>();
  if (!b) return 1;
  switch (b->op) {
    case BinOp::Add:
    case BinOp::Sub:
    case BinOp::Min:
    case BinOp::Max: return gcd(known_multiple(b->a), known_multiple(b->b));
    case BinOp::Mul: return std::min<int64_t>(kAny, known_multiple(b->a) * known_multiple(b->b));
    default: return 1;
  }
}

/// Buffers a statement stores to.
std::set<const BufferNode *> stored_buffers(const Stmt &s) {
  struct V : IRVisitor {
    std::set<const BufferNode *> out;
    void visit_node(const Store *op) override {
      out.insert(op->buffer.get());
      IRVisitor::visit_node(op);
    }
  } v;
  v.visit(s);
  return v.out;
}

class CodeGenNVPTX {
 public:
  CodeGenNVPTX(const Target &t, llvm::Module &m) : target_(t), mod_(m), ctx_(m.getContext()), b_(ctx_), math_(m, b_) {
    llvm::FastMathFlags fmf;
    fmf.setAllowContract(true);
    b_.setFastMathFlags(fmf);
    i32_ = b_.getInt32Ty();
    i64_ = b_.getInt64Ty();
  }

  /// Emits kernel `name` for one launch; `params` are the global buffers, in order.
  void emit_kernel(const std::string &name, const GpuLaunch &l, const std::vector<const BufferNode *> &params,
                   const LoweredFunc &f);

 private:
  llvm::Type *llvm_type(Type t);
  llvm::Type *mem_type(Type t);
  llvm::Value *splat(llvm::Value *v, int lanes);
  llvm::Value *load_to_reg(llvm::Value *v, Type t) {
    return t.is_bool() ? b_.CreateICmpNE(v, llvm::Constant::getNullValue(v->getType())) : v;
  }
  llvm::Value *reg_to_mem(llvm::Value *v, Type t) { return t.is_bool() ? b_.CreateZExt(v, mem_type(t)) : v; }
  llvm::Value *to_i64(llvm::Value *v, Type t);
  llvm::Value *sreg(bool block, int axis);
  llvm::Align align_of(const BufferNode *b, const Expr &base, Type t);

  void emit(const Stmt &s);
  void emit_for(const For *op);
  void emit_serial_loop(const Var &v, llvm::Value *mn, llvm::Value *end, llvm::Value *step, const Stmt &body);
  void emit_store(const Store *op);
  void emit_if(const IfThenElse *op);
  llvm::Value *emit(const Expr &e);
  llvm::Value *emit_cast(const Cast *op);
  llvm::Value *emit_binary(const Binary *op);
  llvm::Value *emit_int_div_mod(const Binary *op, llvm::Value *a, llvm::Value *b);
  llvm::Value *emit_load(const Load *op);
  llvm::Value *emit_ramp(const Ramp *op);
  llvm::Value *emit_call(const Call *op);
  llvm::Value *buffer_ptr(const BufferNode *b);

  const Target &target_;
  llvm::Module &mod_;
  llvm::LLVMContext &ctx_;
  llvm::IRBuilder<> b_;
  MathEmitter math_;
  llvm::Type *i32_, *i64_;

  const LoweredFunc *func_ = nullptr;
  const GpuLaunch *launch_ = nullptr;
  llvm::Function *fn_ = nullptr;
  llvm::BasicBlock *entry_ = nullptr;
  std::unordered_map<const Variable *, llvm::Value *> vars_;
  std::unordered_map<const BufferNode *, llvm::Value *> buffers_;
  std::set<const BufferNode *> aligned16_;  ///< buffers whose base is 16-byte aligned
  int thread_depth_[3] = {0, 0, 0};
};

llvm::Type *CodeGenNVPTX::llvm_type(Type t) {
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

llvm::Type *CodeGenNVPTX::mem_type(Type t) {
  if (!t.is_bool()) return llvm_type(t);
  return t.lanes > 1 ? static_cast<llvm::Type *>(llvm::FixedVectorType::get(b_.getInt8Ty(), t.lanes)) : b_.getInt8Ty();
}

llvm::Value *CodeGenNVPTX::splat(llvm::Value *v, int lanes) {
  if (lanes <= 1 || v->getType()->isVectorTy()) return v;
  return b_.CreateVectorSplat(lanes, v);
}

llvm::Value *CodeGenNVPTX::to_i64(llvm::Value *v, Type t) {
  if (v->getType()->getScalarType() == i64_) return v;
  llvm::Type *dst = t.lanes > 1 ? static_cast<llvm::Type *>(llvm::FixedVectorType::get(i64_, t.lanes)) : i64_;
  return t.is_bool() ? b_.CreateZExt(v, dst) : b_.CreateSExt(v, dst);
}

llvm::Value *CodeGenNVPTX::sreg(bool block, int axis) {
  static const llvm::Intrinsic::ID ctaid[] = {llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_x,
                                              llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_y,
                                              llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_z};
  static const llvm::Intrinsic::ID tid[] = {llvm::Intrinsic::nvvm_read_ptx_sreg_tid_x,
                                            llvm::Intrinsic::nvvm_read_ptx_sreg_tid_y,
                                            llvm::Intrinsic::nvvm_read_ptx_sreg_tid_z};
  llvm::Value *v = b_.CreateIntrinsic(block ? ctaid[axis] : tid[axis], {}, {});
  return b_.CreateZExt(v, i64_);
}

void CodeGenNVPTX::emit_kernel(const std::string &name, const GpuLaunch &l,
                               const std::vector<const BufferNode *> &params, const LoweredFunc &f) {
  func_ = &f;
  launch_ = &l;
  vars_.clear();
  buffers_.clear();
  aligned16_.clear();
  std::set<const BufferNode *> stored = stored_buffers(l.body);
  std::vector<llvm::Type *> ptys(params.size(), b_.getPtrTy(kGlobalAS));
  auto *fn = llvm::Function::Create(llvm::FunctionType::get(b_.getVoidTy(), ptys, false),
                                    llvm::Function::ExternalLinkage, name, mod_);
  fn->setCallingConv(llvm::CallingConv::PTX_Kernel);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  fn->addFnAttr("target-cpu", target_.cpu);
  if (!target_.features.empty()) fn->addFnAttr("target-features", target_.features);
  for (size_t i = 0; i < params.size(); ++i) {
    llvm::Argument *a = fn->getArg(static_cast<unsigned>(i));
    a->setName(params[i]->name);
    a->addAttr(llvm::Attribute::NoAlias);
    a->addAttr(llvm::Attribute::getWithAlignment(ctx_, llvm::Align(16)));
    uint64_t bytes = static_cast<uint64_t>(std::max<int64_t>(1, params[i]->size)) * std::max(1, params[i]->elem.bytes());
    a->addAttr(llvm::Attribute::getWithDereferenceableBytes(ctx_, bytes));
    if (!stored.count(params[i])) a->addAttr(llvm::Attribute::ReadOnly);
    buffers_[params[i]] = a;
    aligned16_.insert(params[i]);
  }
  // nvvm.annotations: kernel + maxntid (lets ptxas budget registers for the real block size).
  llvm::NamedMDNode *ann = mod_.getOrInsertNamedMetadata("nvvm.annotations");
  auto annotate = [&](const char *key, int64_t v) {
    llvm::Metadata *md[] = {llvm::ValueAsMetadata::get(fn), llvm::MDString::get(ctx_, key),
                            llvm::ValueAsMetadata::get(b_.getInt32(static_cast<uint32_t>(v)))};
    ann->addOperand(llvm::MDNode::get(ctx_, md));
  };
  annotate("kernel", 1);
  annotate("maxntidx", l.block[0]);
  annotate("maxntidy", l.block[1]);
  annotate("maxntidz", l.block[2]);

  fn_ = fn;
  entry_ = llvm::BasicBlock::Create(ctx_, "entry", fn);
  auto *body = llvm::BasicBlock::Create(ctx_, "body", fn);
  b_.SetInsertPoint(body);
  if (l.shared_bytes > 0) {
    llvm::GlobalVariable *smem = mod_.getGlobalVariable("kcc_shared");
    if (!smem) {
      smem = new llvm::GlobalVariable(mod_, llvm::ArrayType::get(b_.getInt8Ty(), 0), false,
                                      llvm::GlobalValue::ExternalLinkage, nullptr, "kcc_shared", nullptr,
                                      llvm::GlobalValue::NotThreadLocal, kSharedAS);
      smem->setAlignment(llvm::Align(16));
    }
    for (auto &[buf, off] : l.shared_offsets) {
      buffers_[buf] = b_.CreateConstInBoundsGEP1_64(b_.getInt8Ty(), smem, static_cast<uint64_t>(off), buf->name);
      aligned16_.insert(buf);
    }
  }
  emit(l.body);
  b_.CreateRetVoid();
  llvm::IRBuilder<>(entry_).CreateBr(body);

  std::string msg;
  llvm::raw_string_ostream os(msg);
  if (llvm::verifyFunction(*fn, &os)) {
    os.flush();
    throw InternalError("LLVM verifier failed on GPU kernel '" + name + "':\n" + msg + "loop IR:\n" + to_string(f));
  }
  func_ = nullptr;
  launch_ = nullptr;
}

// ------------------------------------------------------------------ statements

void CodeGenNVPTX::emit(const Stmt &s) {
  if (!s.defined()) return;
  switch (s.kind()) {
    case StmtKind::For: emit_for(s.as<For>()); return;
    case StmtKind::Store: emit_store(s.as<Store>()); return;
    case StmtKind::Allocate: {
      auto *op = s.as<Allocate>();
      const BufferNode *buf = op->buffer.get();
      switch (buf->scope) {
        case MemScope::Shared:
          KCC_INTERNAL(buffers_.count(buf), "shared buffer '" + buf->name + "' has no offset");
          break;
        case MemScope::Local: {
          llvm::IRBuilder<> eb(entry_);
          int64_t n = std::max<int64_t>(1, buf->size);
          llvm::AllocaInst *a =
              eb.CreateAlloca(llvm::ArrayType::get(mem_type(buf->elem), static_cast<uint64_t>(n)), nullptr, buf->name);
          a->setAlignment(llvm::Align(16));
          buffers_[buf] = a;
          aligned16_.insert(buf);
          break;
        }
        case MemScope::Global:
          KCC_INTERNAL(false, "device scratch '" + buf->name + "' inside a GPU kernel (plan_gpu_launches rejects it)");
      }
      emit(op->body);
      return;
    }
    case StmtKind::Seq:
      for (auto &t : s.as<Seq>()->stmts) emit(t);
      return;
    case StmtKind::IfThenElse: emit_if(s.as<IfThenElse>()); return;
    case StmtKind::Barrier:
      b_.CreateIntrinsic(llvm::Intrinsic::nvvm_barrier0, {}, {});
      return;
  }
}

/// for (v = mn; v < end; v += step) body
void CodeGenNVPTX::emit_serial_loop(const Var &v, llvm::Value *mn, llvm::Value *end, llvm::Value *step,
                                    const Stmt &body) {
  llvm::BasicBlock *pre = b_.GetInsertBlock();
  auto *loop = llvm::BasicBlock::Create(ctx_, v->name + ".loop", fn_);
  auto *after = llvm::BasicBlock::Create(ctx_, v->name + ".after", fn_);
  b_.CreateCondBr(b_.CreateICmpSLT(mn, end), loop, after);
  b_.SetInsertPoint(loop);
  llvm::PHINode *iv = b_.CreatePHI(i64_, 2, v->name);
  iv->addIncoming(mn, pre);
  vars_[v.get()] = iv;
  emit(body);
  vars_.erase(v.get());
  llvm::Value *next = b_.CreateAdd(iv, step, v->name + ".next", false, true);
  iv->addIncoming(next, b_.GetInsertBlock());
  b_.CreateCondBr(b_.CreateICmpSLT(next, end), loop, after);
  b_.SetInsertPoint(after);
}

void CodeGenNVPTX::emit_for(const For *op) {
  KCC_INTERNAL(op->var->type == Type::i64(), "loop variable '" + op->var->name + "' is not i64");
  llvm::Value *mn = b_.CreateSExtOrTrunc(emit(op->min), i64_);
  switch (op->kind) {
    case ForKind::Serial:
    case ForKind::Vectorized:  // left over when it could not be vectorized: a plain loop
    case ForKind::Parallel:    // rejected by check_gpu_schedule; harmless as a serial loop
    case ForKind::Unrolled: {  // unroll_loops removes these; LLVM unrolls constant loops anyway
      llvm::Value *ext = b_.CreateSExtOrTrunc(emit(op->extent), i64_);
      emit_serial_loop(op->var, mn, b_.CreateAdd(mn, ext, "", false, true), b_.getInt64(1), op->body);
      return;
    }
    case ForKind::GpuBlock:
    case ForKind::GpuThread: break;
  }
  const int a = op->thread_axis;
  const bool block = op->kind == ForKind::GpuBlock;
  int64_t ext = 0;
  KCC_INTERNAL(is_const_int(op->extent, &ext), "GPU loop '" + op->var->name + "' has a non-constant extent");
  const int64_t dim = block ? launch_->grid[a] : launch_->block[a];
  const bool nested = !block && thread_depth_[a] > 0;
  if (!block) ++thread_depth_[a];
  llvm::Value *id = sreg(block, a);
  if (nested && ext > dim) {
    // The block's threads share the iterations: v = tid, tid + blockDim, ...
    emit_serial_loop(op->var, b_.CreateAdd(mn, id, "", false, true), b_.CreateAdd(mn, b_.getInt64(ext)),
                     b_.getInt64(dim), op->body);
  } else {
    llvm::Value *v = b_.CreateAdd(mn, id, op->var->name, false, true);
    vars_[op->var.get()] = v;
    if (ext < dim) {
      auto *then_bb = llvm::BasicBlock::Create(ctx_, op->var->name + ".in", fn_);
      auto *merge = llvm::BasicBlock::Create(ctx_, op->var->name + ".out", fn_);
      b_.CreateCondBr(b_.CreateICmpULT(id, b_.getInt64(ext)), then_bb, merge);
      b_.SetInsertPoint(then_bb);
      emit(op->body);
      b_.CreateBr(merge);
      b_.SetInsertPoint(merge);
    } else {
      emit(op->body);
    }
    vars_.erase(op->var.get());
  }
  if (!block) --thread_depth_[a];
}

void CodeGenNVPTX::emit_if(const IfThenElse *op) {
  KCC_INTERNAL(op->cond.type().lanes == 1 && op->cond.type().is_bool(), "if condition must be a scalar bool");
  llvm::Value *c = emit(op->cond);
  auto *then_bb = llvm::BasicBlock::Create(ctx_, "then", fn_);
  auto *merge = llvm::BasicBlock::Create(ctx_, "endif", fn_);
  auto *else_bb = op->else_case.defined() ? llvm::BasicBlock::Create(ctx_, "else", fn_) : merge;
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

llvm::Value *CodeGenNVPTX::buffer_ptr(const BufferNode *b) {
  auto it = buffers_.find(b);
  KCC_INTERNAL(it != buffers_.end(), "buffer '" + b->name + "' is used outside its allocation in '" +
                                         (func_ ? func_->name : std::string("?")) + "'");
  return it->second;
}

/// Alignment of a vector access at element `base`: what the buffer's 16-byte base and the index
/// prove, so that 16-byte accesses become single ld/st.v4 instructions.
llvm::Align CodeGenNVPTX::align_of(const BufferNode *b, const Expr &base, Type t) {
  const int64_t eb = std::max(1, t.element().bytes());
  if (!aligned16_.count(b)) return llvm::Align(static_cast<uint64_t>(eb));
  int64_t bytes = std::min<int64_t>(16, known_multiple(base) * eb);
  int64_t a = eb;
  while (a * 2 <= bytes && bytes % (a * 2) == 0) a *= 2;
  return llvm::Align(static_cast<uint64_t>(a));
}

llvm::Value *CodeGenNVPTX::emit_load(const Load *op) {
  const BufferNode *buf = op->buffer.get();
  llvm::Value *base_ptr = buffer_ptr(buf);
  Type t = op->type;
  llvm::Type *et = mem_type(t.element());
  llvm::Align al(static_cast<uint64_t>(std::max(1, t.element().bytes())));
  if (t.lanes == 1) {
    llvm::Value *p = b_.CreateInBoundsGEP(et, base_ptr, to_i64(emit(op->index), op->index.type()));
    return load_to_reg(b_.CreateAlignedLoad(et, p, al), t);
  }
  Expr base;
  int64_t stride = 0;
  if (as_linear_ramp(op->index, &base, &stride) && (stride == 0 || stride == 1)) {
    llvm::Value *p = b_.CreateInBoundsGEP(et, base_ptr, to_i64(emit(base), base.type()));
    if (stride == 1) return load_to_reg(b_.CreateAlignedLoad(mem_type(t), p, align_of(buf, base, t)), t);
    return splat(load_to_reg(b_.CreateAlignedLoad(et, p, al), t.element()), t.lanes);
  }
  // A gather: one load per lane.
  llvm::Value *idx = to_i64(emit(op->index), op->index.type());
  llvm::Value *r = llvm::PoisonValue::get(mem_type(t));
  for (int i = 0; i < t.lanes; ++i) {
    llvm::Value *p = b_.CreateInBoundsGEP(et, base_ptr, b_.CreateExtractElement(idx, static_cast<uint64_t>(i)));
    r = b_.CreateInsertElement(r, b_.CreateAlignedLoad(et, p, al), static_cast<uint64_t>(i));
  }
  return load_to_reg(r, t);
}

void CodeGenNVPTX::emit_store(const Store *op) {
  const BufferNode *buf = op->buffer.get();
  llvm::Value *base_ptr = buffer_ptr(buf);
  Type vt = op->value.type();
  const int lanes = vt.lanes;
  llvm::Type *et = mem_type(vt.element());
  llvm::Align al(static_cast<uint64_t>(std::max(1, vt.element().bytes())));
  llvm::Value *val = reg_to_mem(emit(op->value), vt);
  llvm::Value *mask = op->predicate.defined() ? emit(op->predicate) : nullptr;
  Expr base;
  int64_t stride = 0;
  if (lanes > 1 && !mask && as_linear_ramp(op->index, &base, &stride) && stride == 1) {
    llvm::Value *p = b_.CreateInBoundsGEP(et, base_ptr, to_i64(emit(base), base.type()));
    b_.CreateAlignedStore(val, p, align_of(buf, base, vt));
    return;
  }
  llvm::Value *idx = lanes == 1 ? nullptr : to_i64(emit(op->index), op->index.type());
  for (int i = 0; i < lanes; ++i) {
    // Scalar stores (or one per lane), each under its mask lane.
    llvm::Value *m = !mask ? nullptr : lanes == 1 || !mask->getType()->isVectorTy()
                                           ? mask
                                           : b_.CreateExtractElement(mask, static_cast<uint64_t>(i));
    llvm::BasicBlock *merge = nullptr;
    if (m) {
      auto *then_bb = llvm::BasicBlock::Create(ctx_, "store.then", fn_);
      merge = llvm::BasicBlock::Create(ctx_, "store.end", fn_);
      b_.CreateCondBr(m, then_bb, merge);
      b_.SetInsertPoint(then_bb);
    }
    llvm::Value *ix = lanes == 1 ? to_i64(emit(op->index), op->index.type())
                                 : b_.CreateExtractElement(idx, static_cast<uint64_t>(i));
    llvm::Value *v = lanes == 1 ? val : b_.CreateExtractElement(val, static_cast<uint64_t>(i));
    b_.CreateAlignedStore(v, b_.CreateInBoundsGEP(et, base_ptr, ix), al);
    if (merge) {
      b_.CreateBr(merge);
      b_.SetInsertPoint(merge);
    }
  }
}

// ------------------------------------------------------------------ expressions

llvm::Value *CodeGenNVPTX::emit(const Expr &e) {
  KCC_INTERNAL(e.defined(), "undefined expression");
  switch (e.kind()) {
    case ExprKind::IntImm: {
      auto *op = e.as<IntImm>();
      return splat(llvm::ConstantInt::get(llvm_type(op->type.element()), static_cast<uint64_t>(op->value), true),
                   op->type.lanes);
    }
    case ExprKind::FloatImm: {
      auto *op = e.as<FloatImm>();
      return splat(llvm::ConstantFP::get(llvm_type(op->type.element()), op->value), op->type.lanes);
    }
    case ExprKind::Variable: {
      auto *op = e.as<Variable>();
      auto it = vars_.find(op);
      KCC_INTERNAL(it != vars_.end(), "variable '" + op->name + "' is not bound");
      return it->second;
    }
    case ExprKind::Cast: return emit_cast(e.as<Cast>());
    case ExprKind::Unary: {
      auto *op = e.as<Unary>();
      llvm::Value *a = emit(op->a);
      if (op->op == UnOp::Not) return b_.CreateNot(a);
      return op->type.is_float() ? b_.CreateFNeg(a) : b_.CreateNeg(a, "", true);
    }
    case ExprKind::Binary: return emit_binary(e.as<Binary>());
    case ExprKind::Select: {
      auto *op = e.as<Select>();
      llvm::Value *c = emit(op->cond);
      llvm::Value *t = emit(op->t);
      llvm::Value *f = emit(op->f);
      return b_.CreateSelect(c, t, f);
    }
    case ExprKind::Call: return emit_call(e.as<Call>());
    case ExprKind::Access: KCC_INTERNAL(false, "tensor access " + to_string(e) + " reached code generation");
    case ExprKind::Load: return emit_load(e.as<Load>());
    case ExprKind::Ramp: return emit_ramp(e.as<Ramp>());
    case ExprKind::Broadcast: {
      auto *op = e.as<Broadcast>();
      return splat(emit(op->value), op->lanes);
    }
  }
  KCC_INTERNAL(false, "unknown expression kind");
}

llvm::Value *CodeGenNVPTX::emit_cast(const Cast *op) {
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
  if (from.bits() == to.bits()) return b_.CreateFPTrunc(b_.CreateFPExt(v, llvm_type(Type::f32(to.lanes))), dst);
  return from.bits() < to.bits() ? b_.CreateFPExt(v, dst) : b_.CreateFPTrunc(v, dst);
}

llvm::Value *CodeGenNVPTX::emit_binary(const Binary *op) {
  Type t = op->a.type();
  llvm::Value *a = emit(op->a);
  llvm::Value *b = emit(op->b);
  const bool fp = t.is_float(), boolean = t.is_bool();
  switch (op->op) {
    case BinOp::Add: return fp ? b_.CreateFAdd(a, b) : b_.CreateAdd(a, b, "", false, !boolean);
    case BinOp::Sub: return fp ? b_.CreateFSub(a, b) : b_.CreateSub(a, b, "", false, !boolean);
    case BinOp::Mul: return fp ? b_.CreateFMul(a, b) : b_.CreateMul(a, b, "", false, !boolean);
    case BinOp::Div:
    case BinOp::Mod:
      if (fp) {
        if (op->op == BinOp::Div) return b_.CreateFDiv(a, b);
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

/// Floor division and modulus (ir/expr.h), shifts for positive powers of two.
llvm::Value *CodeGenNVPTX::emit_int_div_mod(const Binary *op, llvm::Value *a, llvm::Value *b) {
  const bool div = op->op == BinOp::Div;
  llvm::Type *ty = a->getType();
  int64_t c = 0;
  if (const_int_value(op->b, &c) && c > 0 && (c & (c - 1)) == 0) {
    int shift = 0;
    while ((int64_t(1) << shift) < c) ++shift;
    return div ? b_.CreateAShr(a, llvm::ConstantInt::get(ty, static_cast<uint64_t>(shift)))
               : b_.CreateAnd(a, llvm::ConstantInt::get(ty, static_cast<uint64_t>(c - 1)));
  }
  llvm::Value *q = b_.CreateSDiv(a, b);
  llvm::Value *r = b_.CreateSRem(a, b);
  llvm::Value *zero = llvm::Constant::getNullValue(ty);
  llvm::Value *fix = b_.CreateAnd(b_.CreateICmpNE(r, zero), b_.CreateICmpSLT(b_.CreateXor(r, b), zero));
  return div ? b_.CreateSub(q, b_.CreateZExt(fix, ty)) : b_.CreateSelect(fix, b_.CreateAdd(r, b), r);
}

llvm::Value *CodeGenNVPTX::emit_ramp(const Ramp *op) {
  Type et = op->type.element();
  llvm::Value *base = splat(emit(op->base), op->lanes);
  llvm::Value *stride = splat(emit(op->stride), op->lanes);
  std::vector<llvm::Constant *> steps;
  llvm::Type *st = llvm_type(et);
  for (int i = 0; i < op->lanes; ++i)
    steps.push_back(et.is_float() ? llvm::ConstantFP::get(st, i) : llvm::ConstantInt::get(st, static_cast<uint64_t>(i)));
  llvm::Value *iota = llvm::ConstantVector::get(steps);
  if (et.is_float()) return b_.CreateFAdd(base, b_.CreateFMul(stride, iota));
  return b_.CreateAdd(base, b_.CreateMul(stride, iota, "", false, true), "", false, true);
}

llvm::Value *CodeGenNVPTX::emit_call(const Call *op) {
  std::vector<llvm::Value *> args;
  for (auto &a : op->args) args.push_back(emit(a));
  Type t = op->type;
  if (t.is_int()) return b_.CreateBinaryIntrinsic(llvm::Intrinsic::abs, args[0], b_.getFalse());
  // The CPU math emitter's f32 functions are plain arithmetic (no libm): they run on the GPU
  // as they are. pow and f64 transcendentals would become libm calls, which PTX cannot resolve.
  KCC_INTERNAL(t.kind == ScalarKind::F32 || (op->fn != MathFn::tanh && op->fn != MathFn::erf),
               std::string("math function '") + to_string(op->fn) + "' on " + to_string(t) +
                   " is not supported on NVPTX yet");
  if (op->fn == MathFn::pow) {
    // x^y = exp(y * log(x)) (x > 0; NaN for negative x, unlike libm's pow for integral y).
    llvm::Value *l = math_.emit(MathFn::log, {args[0]});
    return math_.emit(MathFn::exp, {b_.CreateFMul(args[1], l)});
  }
  return math_.emit(op->fn, args);
}

// ------------------------------------------------------------------ device module

void optimize_module(llvm::Module &m, llvm::TargetMachine &tm) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(&tm);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3).run(m, mam);
}

std::string emit_ptx(llvm::Module &m, llvm::TargetMachine &tm) {
  llvm::SmallVector<char, 0> buf;
  llvm::raw_svector_ostream os(buf);
  llvm::legacy::PassManager pm;
  KCC_INTERNAL(!tm.addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::AssemblyFile),
               "the NVPTX target cannot emit PTX");
  pm.run(m);
  return std::string(buf.data(), buf.size());
}

void verify_or_throw(llvm::Module &m, const char *when) {
  std::string msg;
  llvm::raw_string_ostream os(msg);
  if (llvm::verifyModule(m, &os)) {
    os.flush();
    throw InternalError(std::string("LLVM verifier failed ") + when + ":\n" + msg);
  }
}

// ------------------------------------------------------------------ host module

/// The host stubs: int NAME(ptr args..., ptr stream).
class HostStubs {
 public:
  HostStubs(llvm::Module &m, const std::string &ptx) : mod_(m), ctx_(m.getContext()), b_(ctx_) {
    ptr_ = b_.getPtrTy();
    i32_ = b_.getInt32Ty();
    llvm::Constant *text = llvm::ConstantDataArray::getString(ctx_, ptx, /*AddNull=*/true);
    ptx_ = new llvm::GlobalVariable(mod_, text->getType(), true, llvm::GlobalValue::PrivateLinkage, text,
                                    "kcc_ptx");
    ptx_->setAlignment(llvm::Align(16));
    module_slot_ = new llvm::GlobalVariable(mod_, ptr_, false, llvm::GlobalValue::InternalLinkage,
                                            llvm::ConstantPointerNull::get(ptr_), "kcc_cuda_module");
  }

  void emit(const LoweredFunc &f, const GpuLaunchPlan &plan, const std::vector<std::string> &kernel_names,
            const std::vector<const BufferNode *> &params) {
    std::vector<llvm::Type *> ptys(f.args.size() + 1, ptr_);
    auto *fn = llvm::Function::Create(llvm::FunctionType::get(i32_, ptys, false), llvm::Function::ExternalLinkage,
                                      f.name, mod_);
    fn->addFnAttr(llvm::Attribute::NoUnwind);
    for (size_t i = 0; i < f.args.size(); ++i) fn->getArg(static_cast<unsigned>(i))->setName(f.args[i]->name);
    llvm::Value *stream = fn->getArg(static_cast<unsigned>(f.args.size()));
    stream->setName("stream");
    fn_ = fn;
    auto *entry = llvm::BasicBlock::Create(ctx_, "entry", fn);
    b_.SetInsertPoint(entry);
    // Device pointers of every parameter: arguments, then scratch.
    std::map<const BufferNode *, llvm::Value *> dev;
    for (size_t i = 0; i < f.args.size(); ++i) dev[f.args[i].get()] = fn->getArg(static_cast<unsigned>(i));
    llvm::Type *i64 = b_.getInt64Ty();
    auto *alloc_fn = runtime("kcc_cuda_alloc", llvm::FunctionType::get(i32_, {ptr_, i64, ptr_}, false));
    auto *free_fn = runtime("kcc_cuda_free", llvm::FunctionType::get(i32_, {ptr_, ptr_}, false));
    auto *launch_fn = runtime("kcc_cuda_launch", llvm::FunctionType::get(i32_, {ptr_, ptr_, ptr_, ptr_, ptr_, ptr_, ptr_}, false));
    std::vector<llvm::Value *> live;  // scratch allocated so far
    auto fail_if = [&](llvm::Value *status) {
      auto *bad = llvm::BasicBlock::Create(ctx_, "fail", fn);
      auto *ok = llvm::BasicBlock::Create(ctx_, "ok", fn);
      b_.CreateCondBr(b_.CreateICmpNE(status, b_.getInt32(0)), bad, ok);
      b_.SetInsertPoint(bad);
      for (auto it = live.rbegin(); it != live.rend(); ++it) b_.CreateCall(free_fn, {b_.CreateLoad(ptr_, *it), stream});
      b_.CreateRet(status);
      b_.SetInsertPoint(ok);
    };
    std::vector<llvm::Value *> scratch_slots;
    for (auto &sb : plan.scratch) {
      llvm::AllocaInst *slot = b_.CreateAlloca(ptr_, nullptr, sb->name + ".dev");
      uint64_t bytes = static_cast<uint64_t>(std::max<int64_t>(1, sb->size)) * std::max(1, sb->elem.bytes());
      llvm::Value *st = b_.CreateCall(alloc_fn, {slot, b_.getInt64(bytes), stream});
      fail_if(st);
      live.push_back(slot);
      scratch_slots.push_back(slot);
    }
    for (size_t i = 0; i < plan.scratch.size(); ++i) dev[plan.scratch[i].get()] = b_.CreateLoad(ptr_, scratch_slots[i]);
    // Kernel parameters: an array of the device pointers and an array of pointers to them.
    auto *arr = llvm::ArrayType::get(ptr_, std::max<size_t>(1, params.size()));
    llvm::AllocaInst *vals = b_.CreateAlloca(arr, nullptr, "param.values");
    llvm::AllocaInst *ptrs = b_.CreateAlloca(arr, nullptr, "params");
    for (size_t i = 0; i < params.size(); ++i) {
      llvm::Value *slot = b_.CreateConstInBoundsGEP2_64(arr, vals, 0, i);
      b_.CreateStore(dev.at(params[i]), slot);
      b_.CreateStore(slot, b_.CreateConstInBoundsGEP2_64(arr, ptrs, 0, i));
    }
    for (size_t li = 0; li < plan.launches.size(); ++li) {
      const GpuLaunch &l = plan.launches[li];
      // dims: grid x y z, block x y z, dynamic shared bytes
      std::vector<uint32_t> dims;
      for (int a = 0; a < 3; ++a) dims.push_back(static_cast<uint32_t>(l.grid[a]));
      for (int a = 0; a < 3; ++a) dims.push_back(static_cast<uint32_t>(l.block[a]));
      dims.push_back(static_cast<uint32_t>(l.shared_bytes));
      auto *dims_c = llvm::ConstantDataArray::get(ctx_, dims);
      auto *dims_g = new llvm::GlobalVariable(mod_, dims_c->getType(), true, llvm::GlobalValue::PrivateLinkage,
                                              dims_c, kernel_names[li] + ".dims");
      llvm::Constant *name_c = llvm::ConstantDataArray::getString(ctx_, kernel_names[li], true);
      auto *name_g = new llvm::GlobalVariable(mod_, name_c->getType(), true, llvm::GlobalValue::PrivateLinkage,
                                              name_c, kernel_names[li] + ".name");
      auto *fn_slot = new llvm::GlobalVariable(mod_, ptr_, false, llvm::GlobalValue::InternalLinkage,
                                               llvm::ConstantPointerNull::get(ptr_), kernel_names[li] + ".function");
      llvm::Value *st = b_.CreateCall(launch_fn, {ptx_, module_slot_, name_g, fn_slot, dims_g, ptrs, stream});
      fail_if(st);
    }
    for (auto it = live.rbegin(); it != live.rend(); ++it) b_.CreateCall(free_fn, {b_.CreateLoad(ptr_, *it), stream});
    b_.CreateRet(b_.getInt32(0));
  }

 private:
  llvm::Function *runtime(const char *name, llvm::FunctionType *ft) {
    auto *f = llvm::cast<llvm::Function>(mod_.getOrInsertFunction(name, ft).getCallee());
    f->addFnAttr(llvm::Attribute::NoUnwind);
    return f;
  }

  llvm::Module &mod_;
  llvm::LLVMContext &ctx_;
  llvm::IRBuilder<> b_;
  llvm::PointerType *ptr_;
  llvm::Type *i32_;
  llvm::GlobalVariable *ptx_, *module_slot_;
  llvm::Function *fn_ = nullptr;
};

/// The machine the host stubs run on: the process's triple, a generic cpu.
Target host_stub_target() {
  Target t;
  t.name = "host-stub";
  t.triple = llvm::Triple::normalize(llvm::sys::getProcessTriple());
  t.cpu = "generic";
  return t;
}

}  // namespace

void emit_nvptx_module(const std::vector<LoweredFunc> &funcs, const Target &t, llvm::Module &host,
                       std::unique_ptr<llvm::TargetMachine> &host_tm, std::string &ptx, std::string &device_ir) {
  // Device side.
  std::unique_ptr<llvm::TargetMachine> dtm = make_target_machine(t);
  auto dev = std::make_unique<llvm::Module>(host.getName().str() + ".device", host.getContext());
  dev->setTargetTriple(dtm->getTargetTriple().str());
  dev->setDataLayout(dtm->createDataLayout());
  CodeGenNVPTX cg(t, *dev);
  struct Planned {
    GpuLaunchPlan plan;
    std::vector<std::string> names;
    std::vector<const BufferNode *> params;
  };
  std::vector<Planned> planned;
  for (const LoweredFunc &f : funcs) {
    Planned p;
    std::string err;
    if (!plan_gpu_launches(f, p.plan, err))
      throw InternalError("GPU kernel '" + f.name + "': " + err + "\nloop IR:\n" + to_string(f));
    for (auto &a : f.args) p.params.push_back(a.get());
    for (auto &s : p.plan.scratch) p.params.push_back(s.get());
    for (size_t i = 0; i < p.plan.launches.size(); ++i) {
      p.names.push_back(f.name + "_k" + std::to_string(i));
      cg.emit_kernel(p.names.back(), p.plan.launches[i], p.params, f);
    }
    planned.push_back(std::move(p));
  }
  verify_or_throw(*dev, "on the generated device module");
  optimize_module(*dev, *dtm);
  verify_or_throw(*dev, "on the device module after O3");
  ptx = emit_ptx(*dev, *dtm);
  llvm::raw_string_ostream os(device_ir);
  dev->print(os, nullptr);
  os.flush();
  // Host side: the module the caller keeps (O3, object, JIT as for a CPU target).
  host_tm = make_target_machine(host_stub_target());
  host.setTargetTriple(host_tm->getTargetTriple().str());
  host.setDataLayout(host_tm->createDataLayout());
  HostStubs stubs(host, ptx);
  for (size_t i = 0; i < funcs.size(); ++i) stubs.emit(funcs[i], planned[i].plan, planned[i].names, planned[i].params);
}

}  // namespace kcc
