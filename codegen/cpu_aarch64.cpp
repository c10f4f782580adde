// codegen/cpu_aarch64.cpp - the AArch64 part of the CPU code generator.
//
// Three kinds of AArch64 target share the CPU generator (codegen_cpu.cpp); they differ only in
// the function attributes set here and in how vectorized loops reach LLVM:
//  * NEON (aarch64-neon): fixed 128-bit vectors; nothing to add.
//  * vector-length-specific SVE (aarch64-a64fx: vector_bits 512, not scalable):
//    vscale_range(4,4) tells LLVM the SVE registers are exactly 512 bits, so the fixed 16 x f32
//    vectors of kcc's loop IR are lowered to z registers with predicated SVE instructions
//    (ld1w/st1w with a ptrue predicate, fmla, gathers) instead of being split into NEON. The
//    code is then only correct on 512-bit SVE hardware, which is what the target promises.
//  * vector-length-agnostic SVE (aarch64-sve: scalable_vectors): vscale_range(1,16) (128 to
//    2048 bits). The loop IR keeps innermost vectorized loops as loops (passes/vectorize.cpp);
//    their LLVM loops carry "vectorize, scalable, width 4, predicate the tail" hints, so LLVM's
//    loop vectorizer makes them <vscale x 4 x float> loops stepping by vscale*4 with
//    get.active.lane.mask predicates: one binary, correct at every vector length. Fixed-width
//    vector code elsewhere in the loop IR lowers to NEON, which is correct at any length too.
// docs/decisions.md ("SVE: vector-length-specific for A64FX, LLVM's scalable loops for generic
// SVE") says why.
#include <string>
#include <vector>

#include "codegen/llvm_support.h"
#include "llvm/IR/Attributes.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Metadata.h"
#include "llvm/IR/Type.h"

namespace kcc {

namespace {

/// SVE granules (128 bits each) of a vector-length-specific SVE target; 0 when the target is
/// NEON-only or vector-length agnostic.
unsigned fixed_sve_granules(const Target &t) {
  if (t.scalable_vectors || t.vector_bits <= 128) return 0;
  return static_cast<unsigned>(t.vector_bits / 128);
}

llvm::MDNode *loop_property(llvm::LLVMContext &c, const char *name, llvm::Constant *value) {
  llvm::Metadata *ops[] = {llvm::MDString::get(c, name), llvm::ConstantAsMetadata::get(value)};
  return llvm::MDNode::get(c, ops);
}

}  // namespace

void apply_aarch64_attributes(const Target &t, llvm::Function &f) {
  llvm::LLVMContext &c = f.getContext();
  if (unsigned g = fixed_sve_granules(t)) {
    f.addFnAttr(llvm::Attribute::getWithVScaleRangeArgs(c, g, g));
  } else if (t.scalable_vectors) {
    f.addFnAttr(llvm::Attribute::getWithVScaleRangeArgs(c, 1, 16));
  }
}

void add_aarch64_vector_loop_hints(const Target &t, llvm::LLVMContext &c, std::vector<llvm::Metadata *> &props) {
  if (!t.scalable_vectors) return;
  llvm::Type *i1 = llvm::Type::getInt1Ty(c), *i32 = llvm::Type::getInt32Ty(c);
  props.push_back(loop_property(c, "llvm.loop.vectorize.scalable.enable", llvm::ConstantInt::get(i1, 1)));
  props.push_back(loop_property(c, "llvm.loop.vectorize.width", llvm::ConstantInt::get(i32, 4)));
  props.push_back(loop_property(c, "llvm.loop.vectorize.predicate.enable", llvm::ConstantInt::get(i1, 1)));
  props.push_back(loop_property(c, "llvm.loop.interleave.count", llvm::ConstantInt::get(i32, 1)));
}

}  // namespace kcc
