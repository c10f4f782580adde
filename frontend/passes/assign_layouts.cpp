// frontend/passes/assign_layouts.cpp - see assign_layouts.h.
#include "frontend/passes/assign_layouts.h"

#include <fmt/format.h>

#include <cstring>
#include <map>
#include <tuple>

#include "frontend/lower_graph.h"

namespace kcc::frontend {

namespace {

/// Element-wise operators whose first input is the data and the others per-channel parameters.
bool is_unary_like(OpKind op) { return is_activation(op) || op == OpKind::BatchNormalization; }

bool is_binary(OpKind op) {
  return op == OpKind::Add || op == OpKind::Sub || op == OpKind::Mul || op == OpKind::Div || op == OpKind::Pow;
}

/// `name` with `suffix` before ONNX's "_output_0", if it has one ("/x/Relu_output_0" ->
/// "/x/Relu_16c_output_0"), so that the .ir's names (which drop it) stay short.
std::string suffixed(const std::string &name, const std::string &suffix) {
  static const std::string tail = "_output_0";
  if (name.size() > tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0)
    return name.substr(0, name.size() - tail.size()) + suffix + tail;
  return name + suffix;
}

class Assign {
 public:
  Assign(Graph g, int64_t b) : g_(std::move(g)), b_(b) {}

  Graph run() {
    std::vector<Node> nodes = std::move(g_.nodes);
    g_.nodes.clear();
    for (Node &n : nodes) {
      place(n);
      g_.nodes.push_back(std::move(n));
    }
    for (TensorId t : g_.outputs)
      if (g_.tensor(t).is_blocked()) unblock_output(t);
    return std::move(g_);
  }

 private:
  Tensor &tensor(TensorId t) { return g_.tensors.at(size_t(t)); }
  bool blocked(TensorId t) const { return g_.tensor(t).is_blocked(); }

  /// The block of `channels` channels: b, or half of it when b does not divide them and half
  /// does (24 channels at 16: two 16-lane vectors would be 1.5 blocks, three half ones fit),
  /// as long as half a block is 4 or more; 1 (row-major) otherwise.
  int64_t block_for(int64_t channels) const {
    if (channels % b_ == 0) return b_;
    if (b_ % 2 == 0 && b_ / 2 >= 4 && channels % (b_ / 2) == 0) return b_ / 2;
    return 1;
  }

  /// A row-major f32 activation [N, C, H, W] whose channels have a block.
  bool blockable(TensorId t) const {
    const Tensor &x = g_.tensor(t);
    return x.type == ElemType::F32 && !x.is_constant() && x.shape.size() == 4 && block_for(x.shape[1]) > 1;
  }

  /// The block `t` has when blocked.
  int64_t block_of(TensorId t) const { return block_for(g_.tensor(t).shape.at(1)); }

  /// `t` in the layout asked for: itself, or its copy in the other layout (made once, by a
  /// Relayout node placed before the reader being placed).
  TensorId in_layout(TensorId t, bool want_blocked) {
    if (blocked(t) == want_blocked) return t;
    auto it = other_.find(t);
    if (it != other_.end()) return it->second;
    Tensor copy = g_.tensor(t);
    copy.channel_block = want_blocked ? block_of(t) : 1;
    copy.name = suffixed(copy.name, want_blocked ? fmt::format("_{}c", copy.channel_block) : std::string("_nchw"));
    g_.tensors.push_back(std::move(copy));
    TensorId u = TensorId(g_.tensors.size() - 1);
    Node r;
    r.op = OpKind::Relayout;
    r.name = "relayout_" + g_.tensor(u).name;
    r.inputs = {t};
    r.outputs = {u};
    g_.nodes.push_back(std::move(r));
    other_[t] = u;
    return u;
  }

  void place(Node &n) {
    bool out_blocked = false;
    if (n.op == OpKind::Conv) {
      out_blocked = place_conv(n);
    } else if (n.op == OpKind::MaxPool || n.op == OpKind::AveragePool || n.op == OpKind::GlobalAveragePool) {
      out_blocked = g_.tensor(n.inputs[0]).shape.size() == 4 && blocked(n.inputs[0]);
    } else if (is_unary_like(n.op)) {
      out_blocked = blocked(n.inputs[0]) && g_.tensor(n.outputs[0]).shape == g_.tensor(n.inputs[0]).shape;
      for (size_t i = 1; i < n.inputs.size(); ++i) n.inputs[i] = in_layout(n.inputs[i], false);
    } else if (is_binary(n.op)) {
      Shape os = g_.tensor(n.outputs[0]).shape;  // a copy: in_layout adds tensors
      for (TensorId t : n.inputs) out_blocked = out_blocked || (blocked(t) && g_.tensor(t).shape == os);
      out_blocked = out_blocked && blockable(n.outputs[0]);
      for (TensorId &t : n.inputs) {
        if (!out_blocked)
          t = in_layout(t, false);
        else if (!blocked(t) && !g_.tensor(t).is_constant() && g_.tensor(t).shape == os)
          t = in_layout(t, true);  // a same-shaped operand: converted once rather than gathered
      }
    } else if (n.op == OpKind::Concat) {
      out_blocked = place_concat(n);
    } else {
      for (TensorId &t : n.inputs) t = in_layout(t, false);
    }
    if (out_blocked) tensor(n.outputs[0]).channel_block = block_of(n.outputs[0]);
  }

  /// A Concat along the channels of blockable tensors concatenates whole blocks: blocked when an
  /// input is (its row-major inputs converted), row-major otherwise. Returns whether it is blocked.
  bool place_concat(Node &n) {
    bool any_blocked = false, all_blockable = n.attr_int("axis") == 1 && blockable(n.outputs[0]);
    for (TensorId t : n.inputs) {
      any_blocked = any_blocked || blocked(t);
      // whole blocks of the result's block (8 + 16 channels at 16: the result is 8c, the 16c
      // input is read as two 8c blocks per block of its own)
      all_blockable = all_blockable && (blocked(t) || blockable(t)) && block_of(t) % block_of(n.outputs[0]) == 0;
    }
    bool out_blocked = any_blocked && all_blockable;
    for (TensorId &t : n.inputs) t = in_layout(t, out_blocked);
    return out_blocked;
  }

  /// Chooses the layouts of a Conv's input and output, rewrites its weights to match; returns
  /// whether the output is blocked.
  bool place_conv(Node &n) {
    TensorId x = n.inputs[0], y = n.outputs[0];
    const Shape &xs = g_.tensor(x).shape;
    bool weights_constant = g_.tensor(n.inputs[1]).is_constant();
    if (xs.size() != 4 || !weights_constant) {
      n.inputs[0] = in_layout(x, false);
      return false;
    }
    int64_t groups = n.attr_int("group"), c = xs[1], f = g_.tensor(y).shape[1];
    bool depthwise = groups == c && groups == f;
    bool in_blocked = blocked(x);
    const int64_t bi = block_of(x), bo = block_of(y);
    bool out_blocked = blockable(y) && (groups == 1 || (in_blocked && bi == bo &&
                                                        (depthwise || ((c / groups) % bi == 0 && (f / groups) % bo == 0))));
    in_blocked = in_blocked && (groups == 1 || out_blocked);
    n.inputs[0] = in_layout(x, in_blocked);
    if (in_blocked || out_blocked)
      n.inputs[1] = blocked_weights(n.inputs[1], in_blocked && !depthwise ? bi : 1, out_blocked ? bo : 1, depthwise);
    return out_blocked;
  }

  /// The OIHW weights `w` rewritten as assign_layouts.h says (input channels in blocks of `bi`,
  /// output channels in blocks of `bo`, 1 = not blocked; a depthwise convolution's one input
  /// channel dropped); made once per weights and form.
  TensorId blocked_weights(TensorId w, int64_t bi, int64_t bo, bool depthwise) {
    auto key = std::make_tuple(w, bi, bo, depthwise);
    auto it = weights_.find(key);
    if (it != weights_.end()) return it->second;
    const Tensor &wt = g_.tensor(w);
    const Shape &ws = wt.shape;
    int64_t F = ws[0], C = ws[1], KH = ws[2], KW = ws[3];
    const bool in = bi > 1, out = bo > 1;
    std::vector<double> v = read_doubles(wt);
    std::vector<float> r(v.size());
    for (int64_t f = 0; f < F; ++f)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t k = 0; k < KH * KW; ++k) {
          int64_t to = (((f / bo * (C / bi) + c / bi) * KH * KW + k) * bi + c % bi) * bo + f % bo;
          r[size_t(to)] = static_cast<float>(v[size_t((f * C + c) * KH * KW + k)]);
        }
    Tensor t;
    t.name = wt.name + (in ? fmt::format("_{}i", bi) : "") + (out ? fmt::format("_{}o", bo) : "");
    t.shape = {F / bo};
    if (!depthwise) t.shape.push_back(C / bi);
    t.shape.insert(t.shape.end(), {KH, KW});
    if (in) t.shape.push_back(bi);
    if (out) t.shape.push_back(bo);
    t.data = std::vector<uint8_t>(r.size() * 4);
    std::memcpy(t.data->data(), r.data(), r.size() * 4);
    g_.tensors.push_back(std::move(t));
    return weights_[key] = TensorId(g_.tensors.size() - 1);
  }

  /// A graph output stays row-major under its name: its producer writes a blocked copy, and a
  /// Relayout (the one a reader asked for already, or a new one at the end) writes the output.
  void unblock_output(TensorId t) {
    Tensor copy = g_.tensor(t);
    copy.name = suffixed(copy.name, fmt::format("_{}c", copy.channel_block));
    g_.tensors.push_back(std::move(copy));
    TensorId tb = TensorId(g_.tensors.size() - 1);
    tensor(t).channel_block = 1;
    auto rename = [&](TensorId from, TensorId to) {
      for (Node &n : g_.nodes) {
        for (TensorId &i : n.inputs) i = i == from ? to : i;
        for (TensorId &o : n.outputs) o = o == from ? to : o;
      }
    };
    rename(t, tb);
    auto it = other_.find(t);
    if (it != other_.end()) {
      rename(it->second, t);
      other_.erase(it);
      return;
    }
    Node r;
    r.op = OpKind::Relayout;
    r.name = "relayout_" + g_.tensor(t).name;
    r.inputs = {tb};
    r.outputs = {t};
    g_.nodes.push_back(std::move(r));
  }

  Graph g_;
  int64_t b_;
  std::map<TensorId, TensorId> other_;  ///< a tensor -> its copy in the other layout
  std::map<std::tuple<TensorId, int64_t, int64_t, bool>, TensorId> weights_;
};

}  // namespace

Graph assign_layouts(Graph g, int64_t block) {
  if (block <= 1) return g;
  return Assign(std::move(g), block).run();
}

}  // namespace kcc::frontend
