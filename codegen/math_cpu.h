// codegen/math_cpu.h - private to codegen/: math functions (ir/expr.h MathFn) as LLVM IR.
#pragma once
#include <vector>

#include "ir/expr.h"
#include "llvm/IR/IRBuilder.h"

namespace kcc {

/// Emits MathFn calls on f32/f64 scalars or fixed vectors.
///  * f32 exp, tanh and sigmoid use inline polynomials (Cephes expf/tanhf) that vectorize:
///    exp within 2 ulp on [-87, 88] (exact 0 / inf beyond, NaN kept), tanh within 3 ulp, sigmoid
///    = 1/(1+exp(-x)).
///  * sqrt, fabs, floor, ceil are LLVM intrinsics (single instructions); log and pow are LLVM
///    intrinsics too (libm calls per lane after LLVM scalarizes them); erf calls libm's erff
///    per lane; f64 uses intrinsics or libm throughout.
class MathEmitter {
 public:
  using Builder = llvm::IRBuilder<>;
  MathEmitter(llvm::Module &m, Builder &b) : mod_(m), b_(b) {}
  llvm::Value *emit(MathFn fn, const std::vector<llvm::Value *> &args);

 private:
  llvm::Value *exp_f32(llvm::Value *x);
  llvm::Value *tanh_f32(llvm::Value *x);
  llvm::Value *libm_call(const char *f32_name, const char *f64_name, llvm::Value *x);
  llvm::Value *constant(llvm::Type *like, double v);

  llvm::Module &mod_;
  Builder &b_;
};

}  // namespace kcc
