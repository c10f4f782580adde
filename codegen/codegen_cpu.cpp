// codegen/codegen_cpu.cpp - loop IR -> LLVM IR for CPUs (x86-64; AArch64 through the hooks of
// cpu_aarch64.cpp: vscale_range attributes and scalable-loop hints).
//
// Every kernel becomes `i32 NAME(ptr arg0, ..., ptr argN)`:
//  * it first returns KCC_ERR_NULL_ARGUMENT if any argument is NULL, before any work;
//  * arguments are noalias (distinct tensors), aligned to their element size (the alignment C
//    gives any pointer to the element type; nothing larger is assumed: vector loads and stores
//    are aligned to the element only), dereferenceable_or_null for the whole tensor (so that
//    the NULL check is kept and the pointer is dereferenceable after it), and readonly when
//    never stored to;
//  * loads and stores inside loops carry alias-scope metadata: one scope per buffer, and a
//    noalias list of the other buffers of the same region, where a region is an outlined
//    parallel body (its pointers come out of the closure, so the distinctness must survive
//    outlining) or a root loop nest of the kernel's own function (gathers and scatters are
//    opaque to LLVM's basic alias analysis). Lists per region rather than per function keep
//    the metadata linear in the number of stages: one list of all N buffers per buffer would
//    be N * N operands;
//  * float arithmetic carries the `contract` fast-math flag (FMA formation), index arithmetic
//    `nsw`;
//  * a parallel loop is outlined into `i32 NAME.par.K(ptr closure, i64 begin, i64 end)` and
//    handed to kcc_parallel_for; a non-zero status returns from the kernel at once, after
//    freeing the heap scratch buffers live at that point. The frees form one chain of cleanup
//    blocks per function (block K frees buffer K and jumps to block K-1), so a kernel with N
//    live buffers and N failure points has N frees, not N * N;
//  * Local allocations of at most 64 KiB with a constant size are allocas in the entry block
//    (SROA promotes small unrolled accumulator tiles to registers); other allocations come from
//    kcc_alloc / kcc_free, with KCC_ERR_OUT_OF_MEMORY returned when it fails;
//  * the heap buffers allocated at the top of the kernel (root intermediates, after
//    hoist-allocations) share one kcc_alloc'd arena: each is live from the first to the last
//    root statement that touches it, and buffers whose live ranges do not overlap share
//    memory (first fit, 64-byte aligned offsets). Its pointer is made where it becomes live,
//    so a chain of N stages keeps a few pointers in registers, not N, and needs the memory of
//    the buffers live at once, not of all N. Alias-scope regions (above) lie inside one root
//    statement, so two buffers of one region are live together and never share memory;
//  * more than kRootsPerPart root statements are emitted in parts, internal noinline functions
//    `i32 NAME.part.K(args..., arena)` of kRootsPerPart statements each, called in order:
//    LLVM's function passes are superlinear in the size of a function (a chain of thousands of
//    blocks, a return block with thousands of predecessors), so functions of bounded size keep
//    O3 and the backend linear in the number of stages. A part costs one call per 64 stages.
//
// Expressions, stores, ifs and counted loops come from the shared emitter (llvm_emitter.h);
// this file holds the CPU's functions, loops, allocations, alias scopes and math.
#include <algorithm>
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
/// Root statements of one function; more go into parts (`NAME.part.K`), see the banner.
constexpr size_t kRootsPerPart = 64;

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

int64_t buffer_bytes(const BufferNode *buf) {
  return std::max<int64_t>(1, buf->size) * std::max(1, buf->elem.bytes());
}

bool on_stack(const BufferNode *buf) {
  return buf->scope == MemScope::Local && buffer_bytes(buf) <= kMaxStackAllocBytes;
}

/// Offsets in one arena for buffers with live ranges [first, last] (inclusive, in root
/// statements): first fit in a list of free blocks, 64-byte aligned; returns the arena size.
struct LiveBuffer {
  const BufferNode *buf;
  size_t first, last;
  int64_t offset = 0;
};
int64_t place_in_arena(std::vector<LiveBuffer> &live) {
  constexpr int64_t kAlign = 64;
  std::vector<LiveBuffer *> by_first, by_last;
  for (auto &l : live) by_first.push_back(&l), by_last.push_back(&l);
  std::stable_sort(by_first.begin(), by_first.end(), [](auto *a, auto *b) { return a->first < b->first; });
  std::stable_sort(by_last.begin(), by_last.end(), [](auto *a, auto *b) { return a->last < b->last; });
  std::map<int64_t, int64_t> free_blocks;  // offset -> size, coalesced
  int64_t top = 0;
  size_t released = 0;
  for (LiveBuffer *l : by_first) {
    // Buffers whose last use is before this one's first give their memory back.
    for (; released < by_last.size() && by_last[released]->last < l->first; ++released) {
      LiveBuffer *d = by_last[released];
      int64_t off = d->offset, size = (buffer_bytes(d->buf) + kAlign - 1) / kAlign * kAlign;
      auto next = free_blocks.lower_bound(off);
      if (next != free_blocks.end() && off + size == next->first) {
        size += next->second;
        next = free_blocks.erase(next);
      }
      if (next != free_blocks.begin()) {
        auto prev = std::prev(next);
        if (prev->first + prev->second == off) {
          prev->second += size;
          continue;
        }
      }
      free_blocks[off] = size;
    }
    int64_t size = (buffer_bytes(l->buf) + kAlign - 1) / kAlign * kAlign;
    auto fit = std::find_if(free_blocks.begin(), free_blocks.end(), [&](auto &b) { return b.second >= size; });
    if (fit == free_blocks.end()) {
      l->offset = top;
      top += size;
      continue;
    }
    l->offset = fit->first;
    if (fit->second > size) free_blocks[fit->first + size] = fit->second - size;
    free_blocks.erase(fit);
  }
  return top;
}

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
  llvm::BasicBlock *cleanup_block(size_t live);
  void set_alias_region(const std::vector<const BufferNode *> &bufs);

  // ---- hooks of the shared emitter
  void emit_for(const For *op) override;
  void emit_loop_of_kind(const For *op);
  void emit_allocate(const Allocate *op) override;
  void emit_kernel_body(const Stmt &body);
  /// The kernel function's top level: root statements and where their buffers come from.
  struct TopLevel {
    std::vector<Stmt> roots;
    std::vector<const BufferNode *> passed;  ///< kernel arguments, then top-level stack buffers
    std::vector<LiveBuffer> live;            ///< heap buffers, placed in the arena
    int64_t arena_bytes = 0;
    std::vector<std::vector<const LiveBuffer *>> starts, ends;  ///< per root: live ranges starting/ending
  };
  void emit_roots(const TopLevel &top, size_t begin, size_t end, llvm::Value *arena);
  void emit_part(const TopLevel &top, size_t part, size_t begin, size_t end, llvm::Value *arena);
  void bind_arena_buffer(const LiveBuffer *l, llvm::Value *arena);
  void set_buffer_attributes(llvm::Argument *a, const BufferNode *buf, bool maybe_null);
  llvm::Value *stack_buffer(const BufferNode *buf);
  void emit_barrier() override {}  // a no-op on CPUs
  bool prefetches() const override { return true; }
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

  /// A live kcc_alloc result of st_.fn and the block that frees it on failure (made on demand).
  struct HeapBuffer {
    llvm::Value *ptr;
    llvm::BasicBlock *cleanup = nullptr;
  };
  /// What failure paths of st_.fn share: the live heap buffers, outermost first, the status
  /// being returned and the block that returns it.
  struct FailState {
    std::vector<HeapBuffer> heap;
    llvm::AllocaInst *status = nullptr;
    llvm::BasicBlock *ret = nullptr;
  };
  /// The alias region being emitted: each buffer's noalias list (others of the region).
  struct AliasRegion {
    std::map<const BufferNode *, llvm::MDNode *> noalias_list;
    bool whole_function = false;  ///< an outlined body; else root loop nests of the kernel
  };

  FailState fail_;
  AliasRegion alias_;
  int loop_depth_ = 0;  ///< loops open in st_.fn
  std::set<const BufferNode *> stored_;  ///< buffers the current LoweredFunc stores to
  // the current LoweredFunc's alias domain and, per buffer, the list of its one scope
  llvm::MDNode *alias_domain_ = nullptr;
  std::map<const BufferNode *, llvm::MDNode *> scope_list_;
  std::vector<llvm::Function *> made_;  ///< functions created for the current LoweredFunc
  int parallel_count_ = 0;
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
  fail_ = FailState{};
  alias_ = AliasRegion{};
  loop_depth_ = 0;
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
  if (!fail_.status) {
    llvm::IRBuilder<> eb(st_.entry);
    fail_.status = eb.CreateAlloca(i32_, nullptr, "status.slot");
  }
  auto *fail = llvm::BasicBlock::Create(ctx_, "fail", st_.fn);
  auto *ok = llvm::BasicBlock::Create(ctx_, "ok", st_.fn);
  llvm::MDBuilder mdb(ctx_);
  b_.CreateCondBr(failed, fail, ok, mdb.createBranchWeights(1, 1 << 20));
  b_.SetInsertPoint(fail);
  b_.CreateStore(status, fail_.status);
  b_.CreateBr(cleanup_block(fail_.heap.size()));
  b_.SetInsertPoint(ok);
}

/// The block that frees the first `live` heap buffers, innermost first, and returns the status:
/// block `live` frees buffer `live - 1` and jumps to block `live - 1`; block 0 returns.
llvm::BasicBlock *CodeGenCPU::cleanup_block(size_t live) {
  llvm::BasicBlock *&bb = live == 0 ? fail_.ret : fail_.heap[live - 1].cleanup;
  if (bb) return bb;
  bb = llvm::BasicBlock::Create(ctx_, live == 0 ? "fail.return" : "fail.free", st_.fn);
  llvm::IRBuilder<> cb(bb);
  if (live == 0) {
    cb.CreateRet(cb.CreateLoad(i32_, fail_.status, "status"));
    return bb;
  }
  auto *free_fn = runtime_function(mod_, "kcc_free", llvm::FunctionType::get(cb.getVoidTy(), {ptr_}, false));
  cb.CreateCall(free_fn, {fail_.heap[live - 1].ptr});
  cb.CreateBr(cleanup_block(live - 1));
  return bb;
}

/// Makes `bufs` the current alias region: each buffer's accesses are noalias with the scopes of
/// the others. Quadratic in bufs.size(), so only for what one region touches.
void CodeGenCPU::set_alias_region(const std::vector<const BufferNode *> &bufs) {
  llvm::MDBuilder mdb(ctx_);
  std::vector<llvm::Metadata *> scope;
  for (auto *b : bufs) {
    llvm::MDNode *&list = scope_list_[b];
    if (!list) list = llvm::MDNode::get(ctx_, {mdb.createAnonymousAliasScope(alias_domain_, b->name)});
    scope.push_back(list->getOperand(0));
  }
  alias_.noalias_list.clear();
  for (size_t i = 0; i < bufs.size(); ++i) {
    std::vector<llvm::Metadata *> others;
    for (size_t j = 0; j < bufs.size(); ++j)
      if (j != i) others.push_back(scope[j]);
    alias_.noalias_list[bufs[i]] = llvm::MDNode::get(ctx_, others);
  }
}

void CodeGenCPU::emit_function(const LoweredFunc &f) {
  func_ = &f;
  made_.clear();
  parallel_count_ = 0;

  BufferCollector bc;
  for (auto &a : f.args) bc.add(a.get());
  bc.visit(f.body);
  alias_domain_ = llvm::MDBuilder(ctx_).createAnonymousAliasScopeDomain(f.name);
  scope_list_.clear();

  stored_ = std::move(bc.stored);
  std::vector<llvm::Type *> params(f.args.size(), ptr_);
  auto *fn = begin_function(f.name, llvm::FunctionType::get(i32_, params, false));
  // Every argument is checked for NULL before any work (dereferenceable_or_null, so that LLVM
  // keeps the check and still knows the pointer dereferenceable after it).
  llvm::Value *any_null = nullptr;
  for (size_t i = 0; i < f.args.size(); ++i) {
    const BufferNode *buf = f.args[i].get();
    llvm::Argument *a = fn->getArg(static_cast<unsigned>(i));
    set_buffer_attributes(a, buf, /*maybe_null=*/true);
    st_.buffers[buf] = a;
    llvm::Value *is_null = b_.CreateIsNull(a, buf->name + ".null");
    any_null = any_null ? b_.CreateOr(any_null, is_null) : is_null;
  }
  if (any_null) return_if_failed(any_null, b_.getInt32(KCC_ERR_NULL_ARGUMENT));
  emit_kernel_body(f.body);
  finish_function();

  for (llvm::Function *g : made_)
    verify_or_throw(*g, "function '" + g->getName().str() + "' generated for kernel '" + f.name + "'");
  func_ = nullptr;
}

// ------------------------------------------------------------------ loops

void CodeGenCPU::emit_for(const For *op) {
  // A root loop nest of the kernel's function is an alias region (a parallel one is outlined
  // and becomes a region of its own).
  if (loop_depth_ == 0 && !alias_.whole_function && op->kind != ForKind::Parallel) {
    UseCollector uses;
    uses.visit(op->body);
    set_alias_region(uses.buffers);
    ++loop_depth_;
    emit_loop_of_kind(op);
    --loop_depth_;
    alias_.noalias_list.clear();
    return;
  }
  ++loop_depth_;
  emit_loop_of_kind(op);
  --loop_depth_;
}

void CodeGenCPU::emit_loop_of_kind(const For *op) {
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
  FailState outer_fail = std::move(fail_);
  AliasRegion outer_alias = std::move(alias_);
  int outer_depth = loop_depth_;
  llvm::BasicBlock *outer_block = b_.GetInsertBlock();
  auto *bft = llvm::FunctionType::get(i32_, {ptr_, i64_, i64_}, false);
  std::string name = func_->name + ".par." + std::to_string(parallel_count_++);
  llvm::Function *body_fn = begin_function(name, bft);
  alias_.whole_function = true;
  set_alias_region(uses.buffers);
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
  fail_ = std::move(outer_fail);
  alias_ = std::move(outer_alias);
  loop_depth_ = outer_depth;
  b_.SetInsertPoint(outer_block);
  auto *pf = runtime_function(mod_, "kcc_parallel_for", llvm::FunctionType::get(i32_, {i64_, ptr_, ptr_}, false));
  llvm::Value *status = b_.CreateCall(pf, {b_.CreateSExt(ext, i64_), body_fn, closure}, "status");
  return_if_failed(b_.CreateICmpNE(status, b_.getInt32(0)), status);
}

/// The kernel's body: the Allocates that hoist-allocations put at the top, then its statements.
/// Heap buffers among them live in one arena (see the banner); the rest goes through emit().
/// More than kRootsPerPart root statements are emitted in parts (see the banner).
void CodeGenCPU::emit_kernel_body(const Stmt &body) {
  Stmt s = body;
  std::vector<const BufferNode *> heap_bufs;
  TopLevel top;
  for (auto &a : func_->args) top.passed.push_back(a.get());
  for (; s.defined() && s.kind() == StmtKind::Allocate; s = s.as<Allocate>()->body) {
    const BufferNode *buf = s.as<Allocate>()->buffer.get();
    KCC_INTERNAL(buf->scope != MemScope::Shared, "shared-memory buffer '" + buf->name + "' on a CPU target");
    if (on_stack(buf)) {
      st_.buffers[buf] = stack_buffer(buf);
      top.passed.push_back(buf);
    } else {
      heap_bufs.push_back(buf);
    }
  }
  if (s.defined() && s.kind() == StmtKind::Seq) top.roots = s.as<Seq>()->stmts;
  else if (s.defined()) top.roots.push_back(s);

  // Live ranges in root statements.
  std::map<const BufferNode *, size_t> index;
  for (auto *b : heap_bufs) index[b] = index.size();
  std::vector<int> slot(heap_bufs.size(), -1);
  for (size_t i = 0; i < top.roots.size(); ++i) {
    UseCollector uses;
    uses.visit(top.roots[i]);
    for (const BufferNode *b : uses.buffers) {
      auto it = index.find(b);
      if (it == index.end()) continue;
      int &k = slot[it->second];
      if (k < 0) {
        k = static_cast<int>(top.live.size());
        top.live.push_back({b, i, i});
      }
      top.live[static_cast<size_t>(k)].last = i;
    }
  }
  top.arena_bytes = place_in_arena(top.live);
  llvm::Value *arena = nullptr;
  if (top.arena_bytes > 0) {
    auto *alloc_fn = runtime_function(mod_, "kcc_alloc", llvm::FunctionType::get(ptr_, {i64_}, false));
    alloc_fn->addRetAttr(llvm::Attribute::NoAlias);
    llvm::CallInst *p = b_.CreateCall(alloc_fn, {b_.getInt64(top.arena_bytes)}, "arena");
    p->addRetAttr(llvm::Attribute::getWithAlignment(ctx_, llvm::Align(64)));
    return_if_failed(b_.CreateIsNull(p), b_.getInt32(KCC_ERR_OUT_OF_MEMORY));
    fail_.heap.push_back({p});
    arena = p;
  }
  top.starts.resize(top.roots.size());
  top.ends.resize(top.roots.size());
  for (auto &l : top.live) {
    top.starts[l.first].push_back(&l);
    top.ends[l.last].push_back(&l);
  }
  if (top.roots.size() <= kRootsPerPart) {
    emit_roots(top, 0, top.roots.size(), arena);
  } else {
    for (size_t b = 0, part = 0; b < top.roots.size(); b += kRootsPerPart, ++part)
      emit_part(top, part, b, std::min(top.roots.size(), b + kRootsPerPart), arena);
  }
  if (arena) {
    fail_.heap.pop_back();
    auto *free_fn = runtime_function(mod_, "kcc_free", llvm::FunctionType::get(b_.getVoidTy(), {ptr_}, false));
    b_.CreateCall(free_fn, {arena});
  }
}

/// Root statements [begin, end), each arena buffer bound from its first to its last one.
void CodeGenCPU::emit_roots(const TopLevel &top, size_t begin, size_t end, llvm::Value *arena) {
  // Buffers live across `begin` (the start of a part) are bound there.
  for (auto &l : top.live)
    if (l.first < begin && l.last >= begin) bind_arena_buffer(&l, arena);
  for (size_t i = begin; i < end; ++i) {
    for (const LiveBuffer *l : top.starts[i]) bind_arena_buffer(l, arena);
    emit(top.roots[i]);
    for (const LiveBuffer *l : top.ends[i]) st_.buffers.erase(l->buf);
  }
  for (auto &l : top.live)
    if (l.first < end && l.last >= end) st_.buffers.erase(l.buf);
}

void CodeGenCPU::bind_arena_buffer(const LiveBuffer *l, llvm::Value *arena) {
  st_.buffers[l->buf] =
      b_.CreateConstInBoundsGEP1_64(b_.getInt8Ty(), arena, static_cast<uint64_t>(l->offset), l->buf->name);
}

/// Root statements [begin, end) as `i32 NAME.part.K(args..., top-level stack buffers..., arena)`,
/// internal and noinline, called here; a non-zero status returns at once.
void CodeGenCPU::emit_part(const TopLevel &top, size_t part, size_t begin, size_t end, llvm::Value *arena) {
  std::vector<llvm::Value *> values;
  for (const BufferNode *b : top.passed) values.push_back(st_.buffers.at(b));
  if (arena) values.push_back(arena);

  FnState outer = std::move(st_);
  FailState outer_fail = std::move(fail_);
  AliasRegion outer_alias = std::move(alias_);
  int outer_depth = loop_depth_;
  llvm::BasicBlock *outer_block = b_.GetInsertBlock();
  std::vector<llvm::Type *> params(values.size(), ptr_);
  llvm::Function *fn =
      begin_function(func_->name + ".part." + std::to_string(part), llvm::FunctionType::get(i32_, params, false));
  fn->setLinkage(llvm::Function::InternalLinkage);
  fn->addFnAttr(llvm::Attribute::NoInline);  // else the inliner puts every part back
  for (size_t i = 0; i < top.passed.size(); ++i) {
    llvm::Argument *a = fn->getArg(static_cast<unsigned>(i));
    set_buffer_attributes(a, top.passed[i], /*maybe_null=*/false);
    st_.buffers[top.passed[i]] = a;
  }
  llvm::Value *inner_arena = nullptr;
  if (arena) {
    llvm::Argument *a = fn->getArg(static_cast<unsigned>(top.passed.size()));
    a->setName("arena");
    a->addAttr(llvm::Attribute::NoAlias);
    a->addAttr(llvm::Attribute::getWithAlignment(ctx_, llvm::Align(64)));
    a->addAttr(llvm::Attribute::getWithDereferenceableBytes(ctx_, static_cast<uint64_t>(top.arena_bytes)));
    inner_arena = a;
  }
  emit_roots(top, begin, end, inner_arena);
  finish_function();

  st_ = std::move(outer);
  fail_ = std::move(outer_fail);
  alias_ = std::move(outer_alias);
  loop_depth_ = outer_depth;
  b_.SetInsertPoint(outer_block);
  llvm::Value *status = b_.CreateCall(fn, values, "status");
  return_if_failed(b_.CreateICmpNE(status, b_.getInt32(0)), status);
}

/// What the kernel states about a buffer it receives: distinct (noalias), aligned to its
/// element, dereferenceable for the whole buffer (or null, for the kernel's own arguments,
/// which it checks), readonly when never stored to.
void CodeGenCPU::set_buffer_attributes(llvm::Argument *a, const BufferNode *buf, bool maybe_null) {
  a->setName(buf->name);
  a->addAttr(llvm::Attribute::NoAlias);
  a->addAttr(llvm::Attribute::getWithAlignment(ctx_, llvm::Align(std::max(1, buf->elem.bytes()))));
  uint64_t bytes = static_cast<uint64_t>(buf->size) * static_cast<uint64_t>(std::max(1, buf->elem.bytes()));
  if (bytes > 0)
    a->addAttr(maybe_null ? llvm::Attribute::getWithDereferenceableOrNullBytes(ctx_, bytes)
                          : llvm::Attribute::getWithDereferenceableBytes(ctx_, bytes));
  if (!stored_.count(buf)) a->addAttr(llvm::Attribute::ReadOnly);
}

/// A 64-byte aligned alloca in the entry block.
llvm::Value *CodeGenCPU::stack_buffer(const BufferNode *buf) {
  llvm::IRBuilder<> eb(st_.entry);
  llvm::Type *at = llvm::ArrayType::get(mem_type(buf->elem), static_cast<uint64_t>(std::max<int64_t>(1, buf->size)));
  llvm::AllocaInst *a = eb.CreateAlloca(at, nullptr, buf->name);
  a->setAlignment(llvm::Align(kStackAlign));
  return a;
}

void CodeGenCPU::emit_allocate(const Allocate *op) {
  const BufferNode *buf = op->buffer.get();
  KCC_INTERNAL(buf->scope != MemScope::Shared, "shared-memory buffer '" + buf->name + "' on a CPU target");
  int64_t bytes = buffer_bytes(buf);
  if (on_stack(buf)) {
    st_.buffers[buf] = stack_buffer(buf);
    emit(op->body);
    st_.buffers.erase(buf);
    return;
  }
  auto *alloc_fn = runtime_function(mod_, "kcc_alloc", llvm::FunctionType::get(ptr_, {i64_}, false));
  alloc_fn->addRetAttr(llvm::Attribute::NoAlias);
  llvm::CallInst *p = b_.CreateCall(alloc_fn, {b_.getInt64(bytes)}, buf->name);
  p->addRetAttr(llvm::Attribute::getWithAlignment(ctx_, llvm::Align(64)));
  return_if_failed(b_.CreateIsNull(p), b_.getInt32(KCC_ERR_OUT_OF_MEMORY));
  fail_.heap.push_back({p});
  st_.buffers[buf] = p;
  emit(op->body);
  st_.buffers.erase(buf);
  fail_.heap.pop_back();
  auto *free_fn = runtime_function(mod_, "kcc_free", llvm::FunctionType::get(b_.getVoidTy(), {ptr_}, false));
  b_.CreateCall(free_fn, {p});
}

// ------------------------------------------------------------------ memory and math

void CodeGenCPU::annotate(llvm::Instruction *inst, const BufferNode *b) {
  auto n = alias_.noalias_list.find(b);
  if (n == alias_.noalias_list.end()) return;
  inst->setMetadata(llvm::LLVMContext::MD_alias_scope, scope_list_.at(b));
  inst->setMetadata(llvm::LLVMContext::MD_noalias, n->second);
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
