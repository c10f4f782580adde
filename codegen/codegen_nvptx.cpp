// codegen/codegen_nvptx.cpp - loop IR -> PTX (device) + an x86-64 host module that launches it.
//
// A GPU kernel NAME becomes (execution model in ir/gpu_launch.h; the launch plan comes with the
// function, LoweredFunc::gpu, made by the pipeline):
//  * device: one PTX kernel `NAME_kI` per root loop nest (launch I), with the ptx_kernel calling
//    convention, `nvvm.annotations` {kernel, maxntidx/y/z = the block size}, arguments as
//    `ptr addrspace(1)` (noalias; readonly ones load through the non-coherent cache), block and
//    thread loops as reads of `llvm.nvvm.read.ptx.sreg.{ctaid,tid}.*`, Shared buffers as slices
//    of one dynamic `extern .shared` array (address space 3), Local buffers as allocas (registers
//    after SROA), barriers as `llvm.nvvm.barrier0`, vector loads/stores aligned as far as the
//    index proves (16-byte `ld.global.v4.f32` when it does). The module is optimized (O3) and
//    printed as PTX for the target's sm_XX;
//  * host: the PTX as a constant string, and `i32 NAME(ptr in..., ptr out..., ptr stream)` (C ABI,
//    device pointers aligned to 16 bytes, as cudaMalloc gives; KCC_ERR_NULL_ARGUMENT for a NULL
//    one, before any runtime call) that allocates device scratch for
//    root intermediates (kcc_cuda_alloc), launches each nest (kcc_cuda_launch: loads the module
//    once, caches the function, opts into large dynamic shared memory) and frees the scratch.
//    Every runtime status is returned at once (after freeing scratch).
//
// Expressions, stores, ifs and counted loops come from the shared emitter (llvm_emitter.h);
// this file holds the kernels, GPU-bound loops, shared and local buffers, barriers, per-lane
// gathers and scatters, alignment from the index, the device module and the host stubs.
#include <array>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "codegen/llvm_emitter.h"
#include "codegen/llvm_support.h"
#include "ir/diag.h"
#include "ir/gpu_launch.h"
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
#include "llvm/Passes/OptimizationLevel.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

namespace kcc {

namespace {

constexpr unsigned kGlobalAS = 1, kSharedAS = 3;

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
    case BinOp::Max: return std::gcd(known_multiple(b->a), known_multiple(b->b));
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

class CodeGenNVPTX : public LLVMEmitter {
 public:
  CodeGenNVPTX(const Target &t, llvm::Module &m) : LLVMEmitter(t, m) {}

  /// Emits kernel `name` for one launch; `params` are the global buffers, in order.
  void emit_kernel(const std::string &name, const GpuLaunch &l, const std::vector<const BufferNode *> &params,
                   const LoweredFunc &f);

 private:
  llvm::Value *sreg(bool block, int axis);

  // ---- hooks of the shared emitter
  void emit_for(const For *op) override;
  void emit_allocate(const Allocate *op) override;
  void emit_barrier() override { b_.CreateIntrinsic(llvm::Intrinsic::nvvm_barrier0, {}, {}); }
  llvm::Value *emit_math(const Call *op, std::vector<llvm::Value *> &args) override;
  llvm::Value *emit_gather(const BufferNode *buf, Type t, llvm::Value *base_ptr, llvm::Value *idx,
                           llvm::Align elem_align) override;
  void emit_scatter(const BufferNode *buf, llvm::Value *base_ptr, llvm::Value *idx, llvm::Value *val,
                    llvm::Value *mask, llvm::Align elem_align) override;
  bool masked_vector_stores() const override { return false; }
  llvm::Align vector_align(const BufferNode *b, const Expr &base, Type t) override;

  const GpuLaunch *launch_ = nullptr;
  std::set<const BufferNode *> aligned16_;  ///< buffers whose base is 16-byte aligned
  int thread_depth_[3] = {0, 0, 0};
};

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
  st_ = FnState{};
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
    st_.buffers[params[i]] = a;
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

  st_.fn = fn;
  st_.entry = llvm::BasicBlock::Create(ctx_, "entry", fn);
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
      st_.buffers[buf] = b_.CreateConstInBoundsGEP1_64(b_.getInt8Ty(), smem, static_cast<uint64_t>(off), buf->name);
      aligned16_.insert(buf);
    }
  }
  emit(l.body);
  b_.CreateRetVoid();
  llvm::IRBuilder<>(st_.entry).CreateBr(body);
  verify_or_throw(*fn, "GPU kernel '" + name + "'");
  func_ = nullptr;
  launch_ = nullptr;
}

// ------------------------------------------------------------------ statements
// ------------------------------------------------------------------ loops and buffers

void CodeGenNVPTX::emit_for(const For *op) {
  KCC_INTERNAL(op->var->type == Type::i64(), "loop variable '" + op->var->name + "' is not i64");
  llvm::Value *mn = b_.CreateSExtOrTrunc(emit(op->min), i64_);
  switch (op->kind) {
    case ForKind::Serial:
    case ForKind::Vectorized:  // left over when it could not be vectorized: a plain loop
    case ForKind::Parallel:    // rejected by check_gpu_schedule; harmless as a serial loop
    case ForKind::Unrolled: {  // unroll_loops removes these; LLVM unrolls constant loops anyway
      llvm::Value *ext = b_.CreateSExtOrTrunc(emit(op->extent), i64_);
      emit_loop(op->var.get(), mn, b_.CreateAdd(mn, ext, "", false, true), b_.getInt64(1), op->body);
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
    emit_loop(op->var.get(), b_.CreateAdd(mn, id, "", false, true), b_.CreateAdd(mn, b_.getInt64(ext)),
              b_.getInt64(dim), op->body);
  } else {
    bind_var(op->var.get(), b_.CreateAdd(mn, id, op->var->name, false, true));
    if (ext < dim) {
      auto *then_bb = llvm::BasicBlock::Create(ctx_, op->var->name + ".in", st_.fn);
      auto *merge = llvm::BasicBlock::Create(ctx_, op->var->name + ".out", st_.fn);
      b_.CreateCondBr(b_.CreateICmpULT(id, b_.getInt64(ext)), then_bb, merge);
      b_.SetInsertPoint(then_bb);
      emit(op->body);
      b_.CreateBr(merge);
      b_.SetInsertPoint(merge);
    } else {
      emit(op->body);
    }
    unbind_var(op->var.get());
  }
  if (!block) --thread_depth_[a];
}

void CodeGenNVPTX::emit_allocate(const Allocate *op) {
  const BufferNode *buf = op->buffer.get();
  switch (buf->scope) {
    case MemScope::Shared:
      KCC_INTERNAL(st_.buffers.count(buf), "shared buffer '" + buf->name + "' has no offset");
      break;
    case MemScope::Local: {
      llvm::IRBuilder<> eb(st_.entry);
      int64_t n = std::max<int64_t>(1, buf->size);
      llvm::AllocaInst *a =
          eb.CreateAlloca(llvm::ArrayType::get(mem_type(buf->elem), static_cast<uint64_t>(n)), nullptr, buf->name);
      a->setAlignment(llvm::Align(16));
      st_.buffers[buf] = a;
      aligned16_.insert(buf);
      break;
    }
    case MemScope::Global:
      KCC_INTERNAL(false, "device scratch '" + buf->name + "' inside a GPU kernel (split_gpu_launches rejects it)");
  }
  emit(op->body);
}

// ------------------------------------------------------------------ memory and math

/// Alignment of a vector access at element `base`: what the buffer's 16-byte base and the index
/// prove, so that 16-byte accesses become single ld/st.v4 instructions.
llvm::Align CodeGenNVPTX::vector_align(const BufferNode *b, const Expr &base, Type t) {
  const int64_t eb = std::max(1, t.element().bytes());
  if (!aligned16_.count(b)) return llvm::Align(static_cast<uint64_t>(eb));
  int64_t bytes = std::min<int64_t>(16, known_multiple(base) * eb);
  int64_t a = eb;
  while (a * 2 <= bytes && bytes % (a * 2) == 0) a *= 2;
  return llvm::Align(static_cast<uint64_t>(a));
}

/// A gather: one load per lane.
llvm::Value *CodeGenNVPTX::emit_gather(const BufferNode *, Type t, llvm::Value *base_ptr, llvm::Value *idx,
                                       llvm::Align elem_align) {
  llvm::Type *et = mem_type(t.element());
  llvm::Value *r = llvm::PoisonValue::get(mem_type(t));
  for (int i = 0; i < t.lanes; ++i) {
    llvm::Value *p = b_.CreateInBoundsGEP(et, base_ptr, b_.CreateExtractElement(idx, static_cast<uint64_t>(i)));
    r = b_.CreateInsertElement(r, b_.CreateAlignedLoad(et, p, elem_align), static_cast<uint64_t>(i));
  }
  return r;
}

/// A scatter (or a predicated vector store): one scalar store per lane, each under its mask lane.
void CodeGenNVPTX::emit_scatter(const BufferNode *, llvm::Value *base_ptr, llvm::Value *idx, llvm::Value *val,
                                llvm::Value *mask, llvm::Align elem_align) {
  auto *vty = llvm::cast<llvm::FixedVectorType>(val->getType());
  llvm::Type *et = vty->getElementType();
  for (unsigned i = 0; i < vty->getNumElements(); ++i) {
    llvm::Value *m = !mask || !mask->getType()->isVectorTy() ? mask : b_.CreateExtractElement(mask, uint64_t{i});
    guarded(m, [&] {
      llvm::Value *ix = b_.CreateExtractElement(idx, uint64_t{i});
      llvm::Value *v = b_.CreateExtractElement(val, uint64_t{i});
      b_.CreateAlignedStore(v, b_.CreateInBoundsGEP(et, base_ptr, ix), elem_align);
    });
  }
}

llvm::Value *CodeGenNVPTX::emit_math(const Call *op, std::vector<llvm::Value *> &args) {
  Type t = op->type;
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
    // A NULL device pointer is KCC_ERR_NULL_ARGUMENT, before any runtime call (stream may be NULL).
    llvm::Value *any_null = nullptr;
    for (size_t i = 0; i < f.args.size(); ++i) {
      llvm::Value *is_null = b_.CreateIsNull(fn->getArg(static_cast<unsigned>(i)));
      any_null = any_null ? b_.CreateOr(any_null, is_null) : is_null;
    }
    if (any_null) {
      auto *null_bb = llvm::BasicBlock::Create(ctx_, "null_argument", fn);
      auto *body_bb = llvm::BasicBlock::Create(ctx_, "checked", fn);
      b_.CreateCondBr(any_null, null_bb, body_bb);
      b_.SetInsertPoint(null_bb);
      b_.CreateRet(b_.getInt32(KCC_ERR_NULL_ARGUMENT));
      b_.SetInsertPoint(body_bb);
    }
    // Device pointers of every parameter: arguments, then scratch.
    std::map<const BufferNode *, llvm::Value *> dev;
    for (size_t i = 0; i < f.args.size(); ++i) dev[f.args[i].get()] = fn->getArg(static_cast<unsigned>(i));
    llvm::Type *i64 = b_.getInt64Ty();
    auto *alloc_fn = runtime_function(mod_, "kcc_cuda_alloc", llvm::FunctionType::get(i32_, {ptr_, i64, ptr_}, false));
    auto *free_fn = runtime_function(mod_, "kcc_cuda_free", llvm::FunctionType::get(i32_, {ptr_, ptr_}, false));
    auto *launch_fn = runtime_function(mod_, "kcc_cuda_launch", llvm::FunctionType::get(i32_, {ptr_, ptr_, ptr_, ptr_, ptr_, ptr_, ptr_}, false));
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
    // The slots and parameter arrays (constant sizes) belong in the entry block, before the check.
    std::vector<llvm::AllocaInst *> allocas;
    for (llvm::BasicBlock &bb : *fn)
      if (&bb != entry)
        for (llvm::Instruction &inst : bb)
          if (auto *a = llvm::dyn_cast<llvm::AllocaInst>(&inst)) allocas.push_back(a);
    for (llvm::AllocaInst *a : allocas) a->moveBefore(&*entry->getFirstInsertionPt());
  }

 private:
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
    const GpuLaunchPlan *plan;
    std::vector<std::string> names;
    std::vector<const BufferNode *> params;
  };
  std::vector<Planned> planned;
  for (const LoweredFunc &f : funcs) {
    KCC_INTERNAL(f.gpu && f.gpu->body.same_as(f.body),
                 "GPU kernel '" + f.name + "' has no launch plan for its body (the pipeline's verify step makes it)");
    Planned p{f.gpu.get(), {}, {}};
    for (auto &a : f.args) p.params.push_back(a.get());
    for (auto &s : p.plan->scratch) p.params.push_back(s.get());
    for (size_t i = 0; i < p.plan->launches.size(); ++i) {
      p.names.push_back(f.name + "_k" + std::to_string(i));
      cg.emit_kernel(p.names.back(), p.plan->launches[i], p.params, f);
    }
    planned.push_back(std::move(p));
  }
  verify_module(*dev, "on the generated device module");
  optimize_module(*dev, *dtm);
  verify_module(*dev, "on the device module after O3");
  ptx = emit_ptx(*dev, *dtm);
  llvm::raw_string_ostream os(device_ir);
  dev->print(os, nullptr);
  os.flush();
  // Host side: the module the caller keeps (O3, object, JIT as for a CPU target).
  host_tm = make_target_machine(host_stub_target());
  host.setTargetTriple(host_tm->getTargetTriple().str());
  host.setDataLayout(host_tm->createDataLayout());
  HostStubs stubs(host, ptx);
  for (size_t i = 0; i < funcs.size(); ++i) stubs.emit(funcs[i], *planned[i].plan, planned[i].names, planned[i].params);
}

}  // namespace kcc
