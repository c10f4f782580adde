// codegen/llvm_emitter.cpp - the expression and statement emission the CPU and NVPTX
// generators share (codegen/llvm_emitter.h).
//
// Conventions of the emitted code:
//  * float arithmetic carries the `contract` fast-math flag, index arithmetic `nsw`;
//  * bools are i1 in registers and bytes in memory;
//  * integer division and modulus are floor operations (ir/expr.h): sdiv/srem plus a fix-up
//    when the remainder's sign differs from the divisor's, shifts and masks for positive
//    power-of-two constants;
//  * float modulus has the sign of the divisor, like the integer one;
//  * vector accesses with a contiguous index (ramp of stride 1) are single vector loads and
//    stores, uniform ones (stride 0) a scalar load and a splat, anything else a gather or
//    scatter of the target.
#include "codegen/llvm_emitter.h"

#include <algorithm>

#include "ir/diag.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

namespace kcc {

bool const_int_value(const Expr &e, int64_t *v) {
  if (auto *b = e.as<Broadcast>()) return const_int_value(b->value, v);
  if (auto *i = e.as<IntImm>()) {
    *v = i->value;
    return true;
  }
  return false;
}

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

LLVMEmitter::LLVMEmitter(const Target &t, llvm::Module &m)
    : target_(t), mod_(m), ctx_(m.getContext()), b_(ctx_), math_(m, b_) {
  llvm::FastMathFlags fmf;
  fmf.setAllowContract(true);
  b_.setFastMathFlags(fmf);
  i32_ = b_.getInt32Ty();
  i64_ = b_.getInt64Ty();
  ptr_ = b_.getPtrTy();
}

llvm::Align LLVMEmitter::vector_align(const BufferNode *, const Expr &, Type t) {
  return llvm::Align(static_cast<uint64_t>(std::max(1, t.element().bytes())));
}

void LLVMEmitter::annotate(llvm::Instruction *, const BufferNode *) {}

std::string LLVMEmitter::func_name() const { return func_ ? func_->name : std::string("?"); }

void LLVMEmitter::verify_or_throw(llvm::Function &fn, const std::string &what) {
  std::string msg;
  llvm::raw_string_ostream os(msg);
  if (!llvm::verifyFunction(fn, &os)) return;
  os.flush();
  throw InternalError("LLVM verifier failed on " + what + ":\n" + msg + "loop IR:\n" +
                      (func_ ? to_string(*func_) : std::string("?")));
}

// ------------------------------------------------------------------ types

llvm::Type *LLVMEmitter::llvm_type(Type t) {
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

llvm::Type *LLVMEmitter::mem_type(Type t) {
  if (!t.is_bool()) return llvm_type(t);
  llvm::Type *byte = b_.getInt8Ty();
  return t.lanes > 1 ? llvm::FixedVectorType::get(byte, t.lanes) : byte;
}

llvm::Value *LLVMEmitter::splat(llvm::Value *v, int lanes) {
  if (lanes <= 1 || v->getType()->isVectorTy()) return v;
  return b_.CreateVectorSplat(lanes, v);
}

llvm::Value *LLVMEmitter::load_to_reg(llvm::Value *v, Type t) {
  if (!t.is_bool()) return v;
  return b_.CreateICmpNE(v, llvm::Constant::getNullValue(v->getType()));
}

llvm::Value *LLVMEmitter::reg_to_mem(llvm::Value *v, Type t) {
  if (!t.is_bool()) return v;
  return b_.CreateZExt(v, mem_type(t));
}

llvm::Value *LLVMEmitter::to_i64(llvm::Value *v, Type t) {
  if (v->getType()->getScalarType() == i64_) return v;
  llvm::Type *dst = t.lanes > 1 ? static_cast<llvm::Type *>(llvm::FixedVectorType::get(i64_, t.lanes)) : i64_;
  return t.is_bool() ? b_.CreateZExt(v, dst) : b_.CreateSExt(v, dst);
}

// ------------------------------------------------------------------ statements

void LLVMEmitter::emit(const Stmt &s) {
  if (!s.defined()) return;
  switch (s.kind()) {
    case StmtKind::For: emit_for(s.as<For>()); return;
    case StmtKind::Store: emit_store(s.as<Store>()); return;
    case StmtKind::Allocate: emit_allocate(s.as<Allocate>()); return;
    case StmtKind::Seq:
      for (auto &t : s.as<Seq>()->stmts) emit(t);
      return;
    case StmtKind::IfThenElse: emit_if(s.as<IfThenElse>()); return;
    case StmtKind::Barrier: emit_barrier(); return;
    case StmtKind::Prefetch: emit_prefetch(s.as<Prefetch>()); return;
  }
}

llvm::BranchInst *LLVMEmitter::emit_loop(const Variable *v, llvm::Value *mn, llvm::Value *end, llvm::Value *step,
                                         const Stmt &body) {
  llvm::BasicBlock *pre = b_.GetInsertBlock();
  auto *loop = llvm::BasicBlock::Create(ctx_, v->name + ".loop", st_.fn);
  auto *after = llvm::BasicBlock::Create(ctx_, v->name + ".after", st_.fn);
  b_.CreateCondBr(b_.CreateICmpSLT(mn, end), loop, after);

  b_.SetInsertPoint(loop);
  llvm::PHINode *iv = b_.CreatePHI(mn->getType(), 2, v->name);
  iv->addIncoming(mn, pre);
  bind_var(v, iv);
  emit(body);
  unbind_var(v);
  llvm::Value *next = b_.CreateAdd(iv, step, v->name + ".next", false, true);
  iv->addIncoming(next, b_.GetInsertBlock());
  llvm::BranchInst *br = b_.CreateCondBr(b_.CreateICmpSLT(next, end), loop, after);
  b_.SetInsertPoint(after);
  return br;
}

void LLVMEmitter::emit_if(const IfThenElse *op) {
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

void LLVMEmitter::emit_store(const Store *op) {
  const BufferNode *buf = op->buffer.get();
  llvm::Value *base_ptr = buffer_ptr(buf);
  Type vt = op->value.type();
  const int lanes = vt.lanes;
  llvm::Type *et = mem_type(vt.element());
  llvm::Align al(static_cast<uint64_t>(std::max(1, vt.element().bytes())));
  llvm::Value *val = reg_to_mem(emit(op->value), vt);
  llvm::Value *mask = op->predicate.defined() ? emit(op->predicate) : nullptr;
  if (mask && lanes > 1 && masked_vector_stores()) mask = splat(mask, lanes);

  if (lanes == 1) {
    guarded(mask, [&] {
      llvm::Value *p = b_.CreateInBoundsGEP(et, base_ptr, to_i64(emit(op->index), op->index.type()));
      annotate(b_.CreateAlignedStore(val, p, al), buf);
    });
    return;
  }
  Expr base;
  int64_t stride = 0;
  if ((!mask || masked_vector_stores()) && as_linear_ramp(op->index, &base, &stride) && stride == 1) {
    llvm::Value *p = b_.CreateInBoundsGEP(et, base_ptr, to_i64(emit(base), base.type()));
    llvm::Align va = vector_align(buf, base, vt);
    llvm::Instruction *st = mask ? static_cast<llvm::Instruction *>(b_.CreateMaskedStore(val, p, va, mask))
                                 : b_.CreateAlignedStore(val, p, va);
    annotate(st, buf);
    return;
  }
  llvm::Value *idx = to_i64(emit(op->index), op->index.type());
  emit_scatter(buf, base_ptr, idx, val, mask, al);
}

// ------------------------------------------------------------------ memory

llvm::Value *LLVMEmitter::buffer_ptr(const BufferNode *b) {
  auto it = st_.buffers.find(b);
  KCC_INTERNAL(it != st_.buffers.end(),
               "buffer '" + b->name + "' is used outside its allocation in '" + func_name() + "'");
  return it->second;
}

void LLVMEmitter::emit_prefetch(const Prefetch *op) {
  if (!prefetches()) return;
  auto *ld = op->read.as<Load>();
  KCC_INTERNAL(ld, "prefetch of something other than a load in '" + func_name() + "'");
  Expr idx = ld->index;
  int64_t stride = 0;
  if (idx.type().lanes > 1 && !as_linear_ramp(ld->index, &idx, &stride)) return;  // the first lane's line
  // Not inbounds: a prefetch may point past its buffer (the iteration after the last), which is
  // harmless for the instruction but not for an inbounds GEP.
  llvm::Value *p = b_.CreateGEP(mem_type(ld->type.element()), buffer_ptr(ld->buffer.get()), to_i64(emit(idx), idx.type()));
  // read, locality 2 (the L2 and outwards: the next block must not evict the current one from
  // L1), data cache
  b_.CreateIntrinsic(llvm::Intrinsic::prefetch, {p->getType()}, {p, b_.getInt32(0), b_.getInt32(2), b_.getInt32(1)});
}

llvm::Value *LLVMEmitter::emit_load(const Load *op) {
  const BufferNode *buf = op->buffer.get();
  llvm::Value *base_ptr = buffer_ptr(buf);
  Type t = op->type;
  llvm::Type *et = mem_type(t.element());
  llvm::Align al(static_cast<uint64_t>(std::max(1, t.element().bytes())));
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
      llvm::LoadInst *ld = b_.CreateAlignedLoad(mem_type(t), p, vector_align(buf, base, t));
      annotate(ld, buf);
      return load_to_reg(ld, t);
    }
    llvm::LoadInst *ld = b_.CreateAlignedLoad(et, p, al);
    annotate(ld, buf);
    return splat(load_to_reg(ld, t.element()), t.lanes);
  }
  llvm::Value *idx = to_i64(emit(op->index), op->index.type());
  return load_to_reg(emit_gather(buf, t, base_ptr, idx, al), t);
}

// ------------------------------------------------------------------ expressions

llvm::Value *LLVMEmitter::emit(const Expr &e) {
  KCC_INTERNAL(e.defined(), "undefined expression in '" + func_name() + "'");
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
      KCC_INTERNAL(it != st_.vars.end(), "variable '" + op->name + "' is not bound in '" + func_name() + "'");
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

llvm::Value *LLVMEmitter::emit_cast(const Cast *op) {
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

llvm::Value *LLVMEmitter::emit_unary(const Unary *op) {
  llvm::Value *a = emit(op->a);
  switch (op->op) {
    case UnOp::Neg:
      if (op->type.is_float()) return b_.CreateFNeg(a);
      return b_.CreateNeg(a, "", /*HasNSW=*/true);
    case UnOp::Not: return b_.CreateNot(a);
  }
  KCC_INTERNAL(false, "unknown unary operator");
}

llvm::Value *LLVMEmitter::emit_binary(const Binary *op) {
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
/// differs from the divisor's; shifts and masks for positive power-of-two constants, and a
/// cheaper fix-up (remainder < 0) for other positive constants.
llvm::Value *LLVMEmitter::emit_int_div_mod(const Binary *op, llvm::Value *a, llvm::Value *b) {
  KCC_INTERNAL(!op->type.is_bool(), "division of bools");
  const bool div = op->op == BinOp::Div;
  llvm::Type *ty = a->getType();
  int64_t c = 0;
  if (const_int_value(op->b, &c) && c > 0) {
    if ((c & (c - 1)) == 0) {
      int shift = 0;
      while ((int64_t(1) << shift) < c) ++shift;
      return div ? b_.CreateAShr(a, llvm::ConstantInt::get(ty, static_cast<uint64_t>(shift)))
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

llvm::Value *LLVMEmitter::emit_ramp(const Ramp *op) {
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

llvm::Value *LLVMEmitter::emit_call(const Call *op) {
  std::vector<llvm::Value *> args;
  for (auto &a : op->args) args.push_back(emit(a));
  Type t = op->type;
  if (t.is_int()) {
    KCC_INTERNAL(op->fn == MathFn::abs, std::string("math function '") + to_string(op->fn) + "' on integers");
    return b_.CreateBinaryIntrinsic(llvm::Intrinsic::abs, args[0], b_.getFalse());
  }
  KCC_INTERNAL(t.is_float(), std::string("math function '") + to_string(op->fn) + "' on " + to_string(t));
  return emit_math(op, args);
}

}  // namespace kcc
