#!/usr/bin/env python3
"""Exports the models of the whole-model test to ONNX with PyTorch (random weights, fixed seed)
and writes, per model, NAME.onnx, NAME.in (the input, float32 raw) and NAME.out (PyTorch's
output for it). usage: export_models.py OUTDIR NAME [NAME ...]; exit 77 when torch is missing."""
import os
import sys

try:
    import torch
    import torchvision
except ImportError as e:  # the test skips: Debian's python3-torch / python3-torchvision missing
    print(f"skip: {e}")
    sys.exit(77)


class HfLayer(torch.nn.Module):
    """A BERT-base encoder layer written with plain torch ops, as Hugging Face writes it."""

    def __init__(self, hidden=768, heads=12, inter=3072):
        super().__init__()
        self.heads, self.d = heads, hidden // heads
        self.q, self.k, self.v = (torch.nn.Linear(hidden, hidden) for _ in range(3))
        self.o = torch.nn.Linear(hidden, hidden)
        self.ln1, self.ln2 = torch.nn.LayerNorm(hidden), torch.nn.LayerNorm(hidden)
        self.up, self.down = torch.nn.Linear(hidden, inter), torch.nn.Linear(inter, hidden)

    def split(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.d).transpose(1, 2)

    def forward(self, h):
        q, k, v = self.split(self.q(h)), self.split(self.k(h)), self.split(self.v(h))
        a = torch.softmax(q @ k.transpose(-1, -2) / self.d ** 0.5, dim=-1) @ v
        a = a.transpose(1, 2).reshape(h.shape)
        h = self.ln1(h + self.o(a))
        return self.ln2(h + self.down(torch.nn.functional.gelu(self.up(h))))


def model(name):
    """(module, input shape) of a model name; NAME@S for an image model at SxS input."""
    base, _, size = name.partition("@")
    size = int(size) if size else 224
    if base == "bert_layer":
        return HfLayer(), (1, 128, 768)
    if base == "encoder_layer":
        return torch.nn.TransformerEncoderLayer(768, 12, 3072, batch_first=True), (1, 128, 768)
    return getattr(torchvision.models, base)(), (1, 3, size, size)


def build(name):
    """(module in eval mode, input) of a model name: the same weights on every call (seed 0)."""
    torch.manual_seed(0)
    m, shape = model(name)
    m.eval()
    with torch.no_grad():
        # Batch-norm statistics are zero mean, unit variance at construction: make them
        # random so that folding them into the convolutions is tested.
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.1, 0.1)
        x = torch.randn(*shape)
    return m, x


def main():
    out, names = sys.argv[1], sys.argv[2:]
    os.makedirs(out, exist_ok=True)
    for name in names:
        m, x = build(name)
        with torch.no_grad():
            y = m(x)
        stem = os.path.join(out, name.replace("@", "_"))
        torch.onnx.export(m, x, stem + ".onnx", opset_version=13 if "encoder" not in name else 17,
                          input_names=["input"], output_names=["output"])
        x.numpy().astype("float32").tofile(stem + ".in")
        y.numpy().astype("float32").tofile(stem + ".out")
        print(f"{name}: input {tuple(x.shape)}, output {tuple(y.shape)}")


if __name__ == "__main__":
    main()
