// frontend/passes/assign_layouts.h - a channel-blocked layout (NCHW[b]c) for conv chains.
#pragma once
#include <cstdint>

#include "frontend/graph.h"

namespace kcc::frontend {

/// Stores the activations of convolution chains channel-blocked, [N, C/b, H, W, b]
/// (Tensor::channel_block = `block`, the target's f32 vector lanes, or half of it for a tensor
/// whose channels only half a block divides: 24 channels at 16 are 8c, three half vectors), so
/// that the kernels vectorize over the b channels of a block whatever the image's width or
/// stride (docs/decisions.md, "Channel-blocked layouts are written in the .ir"; a tensor's b
/// below is its own block). In graph order:
///  - a Conv writes a blocked result when its output channels divide by b, its weights are
///    constant, and it has one group, or reads a blocked input and is depthwise (group = C = F)
///    or has groups whose input and output channels divide by b (input and output of one block);
///    a Conv with one group reads either layout, of any block (the stem reads the 3-channel image row-major and writes blocked);
///  - pools, GlobalAveragePool and the element-wise operators (activations, BatchNormalization,
///    Add/Sub/Mul/Div/Pow) write blocked when their input (for the binary ones: an input of the
///    result's shape) is blocked; a same-shaped row-major operand is converted, smaller ones
///    (a bias, a scale [1, C, 1, 1], a constant) are read in place;
///  - a Concat along the channels writes blocked when an input is blocked and every input's
///    block is a multiple of the result's (it then copies whole blocks; row-major inputs are
///    converted);
///  - every other reader, and every graph output, gets the row-major tensor.
/// Layouts change through Relayout nodes, one per tensor and direction, inserted only where a
/// reader needs the other layout. A Conv that reads or writes a blocked tensor gets its weights
/// rewritten here, once, in the order its kernel reads them (O = output, I = input channels):
///   both blocked [O/b, I/b, KH, KW, b (i), b (o)]; only the output [O/b, I, KH, KW, b (o)];
///   only the input [O, I/b, KH, KW, b (i)]; depthwise [O/b, KH, KW, b (o)]
/// (grouped: I is the group's input channels). `block` <= 1 leaves the graph as it is.
Graph assign_layouts(Graph g, int64_t block);

}  // namespace kcc::frontend
