"""Exports the benchmark U-Net (bench/unet_bench_model.py) to ONNX at a fixed size, BatchNorm
kept as nodes (so segcam runs the same ops PyTorch does).
Usage: /usr/bin/python3 bench/export_unet.py SIZE OUT.onnx"""
import sys
import torch
sys.path.insert(0, __file__.rsplit('/', 1)[0])
from unet_bench_model import make

size, out = int(sys.argv[1]), sys.argv[2]
m = make()
x = torch.rand(1, 3, size, size)
torch.onnx.export(m, x, out, opset_version=13, input_names=["image"], output_names=["logits"],
                  training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
print(out, sum(p.numel() for p in m.parameters()), "parameters")
