#!/usr/bin/env python3
"""Exports torchvision's ResNet-18 to ONNX for the resnet example and writes what its app checks:
  resnet18.onnx   the model (random weights, seed 0: no download, so no trained weights)
  input.bin       a 1x3x224x224 float32 picture (a synthetic one), normalized as torchvision's
                  ImageNet models expect
  reference.bin   PyTorch's 1000 logits for it (float32)
  labels.txt      the ImageNet class names, one a line
usage: export.py OUTDIR; exit 77 when torch or torchvision is missing."""
import os
import sys

try:
    import torch
    import torchvision
except ImportError as e:
    print(f"skip: {e} (Debian: apt install python3-torch python3-torchvision)")
    sys.exit(77)


def picture(size=224):
    """A smooth colour gradient with a bright disc: deterministic, so no image file is needed."""
    t = torch.linspace(0, 1, size)
    y, x = torch.meshgrid(t, t, indexing="ij")
    disc = (((x - 0.6) ** 2 + (y - 0.4) ** 2) < 0.05).float()
    rgb = torch.stack([x, y, 1 - x * y]) * 0.7 + 0.3 * disc
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    return ((rgb - mean) / std).unsqueeze(0)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    x = picture()
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, x, os.path.join(out, "resnet18.onnx"), opset_version=13,
                      input_names=["input"], output_names=["output"])
    x.numpy().astype("float32").tofile(os.path.join(out, "input.bin"))
    y.numpy().astype("float32").tofile(os.path.join(out, "reference.bin"))
    labels = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("\n".join(labels) + "\n")
    print(f"resnet18: input {tuple(x.shape)}, output {tuple(y.shape)} in {out}")


if __name__ == "__main__":
    main()
