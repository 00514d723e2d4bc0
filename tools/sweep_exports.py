#!/usr/bin/python3
"""ONNX export sweep: does segcam run what torch.onnx.export writes, in general?

Builds segmentation networks with RANDOM weights (torchvision's FCN / DeepLabV3 / LR-ASPP with
weights=None and weights_backbone=None, and small hand-written nets that each isolate one
export pattern), exports every one with torch.onnx.export at several opsets, with static and
dynamic H/W axes, with and without do_constant_folding, into --out (default /tmp/sweep; the
files are large and are never committed), and checks each file four ways:

  1. forward: segcam's output vs onnxruntime-node's (tools/node_modules) on the same
     deterministic input: max |segcam - ort| / max |ort|  (expect <= 1e-4);
  2. gradient: segcam_session_gradient of S = sum of class-0 logits over ALL pixels (segcam's
     REGION_ALL, so no argmax rounding) at segcam's default Grad-CAM layer, vs PyTorch autograd
     in float64 on the original torch module.  The torch tensor is found by value: every module
     output is recorded by a forward hook and the one equal to segcam's activation of that
     layer is taken (so ONNX node names need not be mapped back to module paths, and BatchNorm
     fused into a Conv by the exporter still matches the BatchNorm's output);
  3. CAM: segcam's raw low-resolution Grad-CAM map (segcam_explain, REGION_ALL, class 0) vs
     ReLU(sum_k mean_ij(g_k) A_k) from the torch tensors: max |diff| / max |ref|;
  4. the gradient and CAM again at the first conv block segcam lists as a candidate, so that
     the reverse pass crosses every op of the network (the default layer is often the
     classifier conv right before the final resize).
When onnxruntime's output differs from torch's (an export that is not faithful to the module,
e.g. bilinear upsampling at opsets < 11, which ONNX defines with asymmetric coordinates), or
no module output matches the layer (the layer is a functional op inside a forward()), the
gradient/CAM reference falls back to tools/onnx_torch_ref.py's float64 interpreter of the ONNX
graph when it knows every op, and the table says so ("interp").

A dynamic-axes file is run at a different size (--dyn-size) than it was traced at, so
that shape arithmetic is exercised rather than folded.

Usage:
  cmake -S . -B /tmp/sweep-build -DCMAKE_BUILD_TYPE=Release && cmake --build /tmp/sweep-build
  /usr/bin/python3 tools/sweep_exports.py [--build /tmp/sweep-build] [--out /tmp/sweep]
        [--only NAME,...] [--opsets 9,10,11,12,13] [--quick] [--full]
        [--doc docs/ONNX_COVERAGE.md] [--no-doc] [--doc-only]
The default run takes 2.5 minutes on an idle 2-core machine and up to ~12 while other heavy
jobs share it; --quick about half as long.  Only a default run over every model (no --only,
no --quick) rewrites docs/ONNX_COVERAGE.md; every run saves <out>/results.json, from which
--doc-only rewrites the doc (after editing NOTES / OBSERVATIONS / FIXED) without re-running.
Needs: /usr/bin/python3 with torch (1.13) and torchvision (Debian python3-torchvision), node
with onnxruntime-node in tools/node_modules, gcc, and a segcam build (libsegcam.a).
Prints one line per file and a summary; exit status 1 if a file that loads disagrees.
"""

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
TOL_OUT = 1e-4      # segcam vs onnxruntime, relative to max |ort|
TOL_GRAD = 1e-3     # segcam (float32) vs torch float64 gradient / CAM, relative to max |ref|
TOL_DEEP = 1e-2     # the same at the first conv block (ReLU kinks: see write_doc)
MATCH_TOL = 1e-3    # a module output "is" the layer when its relative difference is below this


# ------------------------------------------------------------------------------------------------
# Hand-written nets: each isolates one pattern; `body` gives the logits, `final` the optional
# trailing activation (so the torch reference can score the logits, as segcam does).
# ------------------------------------------------------------------------------------------------

def cbr(cin, cout, k=3, s=1, d=1, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, padding=d * (k // 2), dilation=d,
                                   groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU())


class Net(nn.Module):
    """forward = final(body(x)); body returns the logits."""

    def __init__(self, final=None):
        super().__init__()
        self.final = final

    def forward(self, x):
        y = self.body(x)
        return self.final(y) if self.final is not None else y


class Interp(Net):
    """Encoder (stride 2) -> bilinear/nearest F.interpolate back to the input size -> head."""

    def __init__(self, mode, align_corners, by_size):
        super().__init__()
        self.mode, self.ac, self.by_size = mode, align_corners, by_size
        self.enc = nn.Sequential(cbr(3, 8, s=2), cbr(8, 8))
        self.head = nn.Conv2d(8, 4, 1)

    def body(self, x):
        f = self.enc(x)
        kw = {} if self.mode == "nearest" else {"align_corners": self.ac}
        if self.by_size:
            f = F.interpolate(f, size=x.shape[-2:], mode=self.mode, **kw)
        else:
            f = F.interpolate(f, scale_factor=2, mode=self.mode, **kw)
        return self.head(f)


class NearestUp(Net):
    """nn.Upsample(scale_factor=2, nearest) and F.interpolate(size=, nearest)."""

    def __init__(self):
        super().__init__()
        self.enc1 = cbr(3, 8, s=2)
        self.enc2 = cbr(8, 8, s=2)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.dec = cbr(16, 8)
        self.head = nn.Conv2d(8, 3, 1)

    def body(self, x):
        a = self.enc1(x)
        b = self.up(self.enc2(a))
        f = self.dec(torch.cat([a, b], 1))
        return self.head(F.interpolate(f, size=x.shape[-2:], mode="nearest"))


class Shuffle(Net):
    """Sub-pixel upsampling: PixelShuffle(2) (DepthToSpace at opset >= 11)."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(cbr(3, 8, s=2), cbr(8, 16))
        self.ps = nn.PixelShuffle(2)
        self.head = nn.Conv2d(4, 3, 3, padding=1)

    def body(self, x):
        return self.head(self.ps(self.enc(x)))


class Deconv(Net):
    """ConvTranspose2d with output_padding (k3 s2 p1 op1) and the k4 s2 p1 form."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(cbr(3, 8, s=2), cbr(8, 16, s=2))
        self.up1 = nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)
        self.act1 = nn.ReLU()
        self.up2 = nn.ConvTranspose2d(8, 8, 4, stride=2, padding=1)
        self.act2 = nn.ReLU()
        self.head = nn.Conv2d(8, 3, 1)

    def body(self, x):
        return self.head(self.act2(self.up2(self.act1(self.up1(self.enc(x))))))


class Grouped(Net):
    """Grouped (groups=2), depthwise (groups=C) and pointwise convolutions."""

    def __init__(self):
        super().__init__()
        self.stem = cbr(3, 8, s=2)
        self.g2 = cbr(8, 16, groups=2)
        self.dw = cbr(16, 16, groups=16)
        self.dw5 = cbr(16, 16, k=5, s=2, groups=16)
        self.pw = cbr(16, 8, k=1)
        self.head = nn.Conv2d(8, 3, 1)

    def body(self, x):
        f = self.pw(self.dw5(self.dw(self.g2(self.stem(x)))))
        return F.interpolate(self.head(f), size=x.shape[-2:], mode="bilinear",
                             align_corners=False)


class ASPP(Net):
    """DeepLab-style ASPP: 1x1, dilated 3x3 (rates 2, 4, 6), image pooling branch, concat."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(cbr(3, 8, s=2), cbr(8, 16, s=2))
        self.b0 = cbr(16, 8, k=1)
        self.b1 = cbr(16, 8, d=2)
        self.b2 = cbr(16, 8, d=4)
        self.b3 = cbr(16, 8, d=6)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(16, 8, 1), nn.ReLU())
        self.proj = cbr(40, 8, k=1)
        self.head = nn.Conv2d(8, 5, 1)

    def body(self, x):
        f = self.enc(x)
        p = F.interpolate(self.pool(f), size=f.shape[-2:], mode="bilinear", align_corners=False)
        f = self.proj(torch.cat([self.b0(f), self.b1(f), self.b2(f), self.b3(f), p], 1))
        return F.interpolate(self.head(f), size=x.shape[-2:], mode="bilinear",
                             align_corners=False)


class SE(Net):
    """Squeeze-and-excitation: AdaptiveAvgPool2d(1) -> 1x1 convs -> Hardsigmoid -> x * s."""

    def __init__(self):
        super().__init__()
        self.enc = cbr(3, 16, s=2)
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(16, 4, 1)
        self.r = nn.ReLU()
        self.fc2 = nn.Conv2d(4, 16, 1)
        self.gate = nn.Hardsigmoid()
        self.dec = cbr(16, 8)
        self.head = nn.Conv2d(8, 3, 1)

    def body(self, x):
        f = self.enc(x)
        f = f * self.gate(self.fc2(self.r(self.fc1(self.squeeze(f)))))
        return F.interpolate(self.head(self.dec(f)), scale_factor=2, mode="bilinear",
                             align_corners=False)


class Means(Net):
    """x.mean(dim=(2, 3), keepdim=True) channel gate and x.mean(dim=1) / x.amax(dim=1) spatial
    attention (CBAM style): ReduceMean / ReduceMax in ONNX."""

    def __init__(self):
        super().__init__()
        self.enc = cbr(3, 8, s=2)
        self.sig = nn.Sigmoid()
        self.att = nn.Conv2d(2, 1, 3, padding=1)
        self.dec = cbr(8, 8)
        self.head = nn.Conv2d(8, 3, 1)

    def body(self, x):
        f = self.enc(x)
        f = f * self.sig(f.mean(dim=(2, 3), keepdim=True))
        s = torch.cat([f.mean(dim=1, keepdim=True), f.amax(dim=1, keepdim=True)], 1)
        f = f * self.sig(self.att(s))
        return F.interpolate(self.head(self.dec(f)), scale_factor=2, mode="bilinear",
                             align_corners=False)


class Acts(Net):
    """Activation modules: Hardswish, Hardsigmoid, SiLU, LeakyReLU, ELU, PReLU (per channel and
    shared), ReLU6, Tanh.  GELU is its own net (it needs Erf before opset 20)."""

    def __init__(self):
        super().__init__()
        acts = [nn.Hardswish(), nn.Hardsigmoid(), nn.SiLU(), nn.LeakyReLU(0.1), nn.ELU(0.7),
                nn.PReLU(8), nn.PReLU(), nn.ReLU6(), nn.Tanh()]
        layers = [nn.Conv2d(3, 8, 3, 2, 1)]
        for a in acts:
            layers += [a, nn.Conv2d(8, 8, 3, padding=1)]
        self.enc = nn.Sequential(*layers[:-1])
        self.dec = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Hardswish())
        self.head = nn.Conv2d(8, 3, 1)
        with torch.no_grad():  # PReLU's default 0.25 everywhere would hide a channel mix-up
            next(a for a in self.enc if isinstance(a, nn.PReLU)).weight.copy_(
                torch.linspace(-0.5, 0.8, 8))

    def body(self, x):
        f = self.dec(self.enc(x))
        return F.interpolate(self.head(f), scale_factor=2, mode="bilinear", align_corners=False)


class Gelu(Net):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.GELU(), nn.Conv2d(8, 8, 3, padding=1),
                                 nn.GELU())
        self.head = nn.Conv2d(8, 3, 1)

    def body(self, x):
        return F.interpolate(self.head(self.enc(x)), scale_factor=2, mode="bilinear",
                             align_corners=False)


class Small(Net):
    """A small encoder-decoder ending in `final` (Softmax(dim=1) or Sigmoid)."""

    def __init__(self, classes, final):
        super().__init__(final)
        self.enc = nn.Sequential(cbr(3, 8, s=2), cbr(8, 8))
        self.up = nn.ConvTranspose2d(8, 8, 2, stride=2)
        self.dec = cbr(8, 8)
        self.head = nn.Conv2d(8, classes, 1)

    def body(self, x):
        return self.head(self.dec(self.up(self.enc(x))))


class ChannelsLast(Net):
    """x.permute(0, 2, 3, 1) -> nn.Linear over channels (MatMul) -> permute back."""

    def __init__(self, layernorm=False):
        super().__init__()
        self.enc = cbr(3, 8, s=2)
        self.ln = nn.LayerNorm(8) if layernorm else nn.Identity()
        self.fc = nn.Linear(8, 16)
        self.act = nn.ReLU()
        self.dec = cbr(16, 8)
        self.head = nn.Conv2d(8, 3, 1)

    def body(self, x):
        f = self.enc(x).permute(0, 2, 3, 1)
        f = self.act(self.fc(self.ln(f))).permute(0, 3, 1, 2)
        return F.interpolate(self.head(self.dec(f)), scale_factor=2, mode="bilinear",
                             align_corners=False)


class Views(Net):
    """x.view / flatten reshapes: (b, c, h*w) token mixing via Linear, and a (b, c/2, 2h, w)
    view that a conv runs on before it is viewed back."""

    def __init__(self):
        super().__init__()
        self.enc = cbr(3, 8, s=2)
        self.mix = nn.Linear(8, 8)
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.dec = cbr(8, 8)
        self.head = nn.Conv2d(8, 3, 1)

    def body(self, x):
        f = self.enc(x)
        b, c, h, w = f.shape
        t = self.mix(f.flatten(2).transpose(1, 2))          # (b, hw, c)
        f = f + t.transpose(1, 2).reshape(b, c, h, w)
        g = self.conv(f.view(b, c // 2, 2 * h, w)).view(b, c, h, w)
        return F.interpolate(self.head(self.dec(g)), scale_factor=2, mode="bilinear",
                             align_corners=False)


class Pads(Net):
    """F.pad reflect / replicate / constant, each before an unpadded conv."""

    def __init__(self):
        super().__init__()
        self.stem = cbr(3, 8, s=2)
        self.c1 = nn.Conv2d(8, 8, 3)
        self.c2 = nn.Conv2d(8, 8, 3)
        self.c3 = nn.Conv2d(8, 8, 3)
        self.r = nn.ReLU()
        self.head = nn.Conv2d(8, 3, 1)

    def body(self, x):
        f = self.stem(x)
        f = self.c1(F.pad(f, (1, 1, 1, 1), mode="reflect"))
        f = self.c2(F.pad(f, (2, 0, 1, 1), mode="replicate"))
        f = self.r(self.c3(F.pad(f, (0, 2, 1, 1), mode="constant", value=0.5)))
        return F.interpolate(self.head(f), size=x.shape[-2:], mode="bilinear",
                             align_corners=False)


class PoolCeil(Net):
    """AvgPool2d with ceil_mode (with and without padding / count_include_pad), MaxPool ceil."""

    def __init__(self):
        super().__init__()
        self.stem = cbr(3, 8)
        self.p1 = nn.AvgPool2d(3, stride=2, ceil_mode=True)
        self.c1 = cbr(8, 8)
        self.p2 = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
        self.c2 = cbr(8, 8)
        self.p3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.c3 = cbr(8, 8)
        self.head = nn.Conv2d(8, 3, 1)

    def body(self, x):
        f = self.c3(self.p3(self.c2(self.p2(self.c1(self.p1(self.stem(x)))))))
        return F.interpolate(self.head(f), size=x.shape[-2:], mode="bilinear",
                             align_corners=False)


class Block(nn.Module):
    def __init__(self, cin, cout, s):
        super().__init__()
        self.c1 = cbr(cin, cout, s=s)
        self.c2 = nn.Sequential(nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                                nn.BatchNorm2d(cout))
        self.short = (nn.Identity() if s == 1 and cin == cout else
                      nn.Sequential(nn.Conv2d(cin, cout, 1, s, bias=False), nn.BatchNorm2d(cout)))
        self.out = nn.ReLU()

    def forward(self, x):
        return self.out(self.c2(self.c1(x)) + self.short(x))


class Residual(Net):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(Block(3, 8, 2), Block(8, 8, 1), Block(8, 16, 2), Block(16, 16, 1))
        self.head = nn.Conv2d(16, 4, 1)

    def body(self, x):
        return F.interpolate(self.head(self.enc(x)), size=x.shape[-2:], mode="bilinear",
                             align_corners=False)


class Concat6(Net):
    """torch.cat of six branches (1x1, 3x3, dilated, maxpool, avgpool, identity)."""

    def __init__(self):
        super().__init__()
        self.stem = cbr(3, 8, s=2)
        self.b1 = cbr(8, 4, k=1)
        self.b2 = cbr(8, 4)
        self.b3 = cbr(8, 4, d=2)
        self.b4 = nn.MaxPool2d(3, 1, 1)
        self.b5 = nn.AvgPool2d(3, 1, 1)
        self.fuse = cbr(36, 8, k=1)
        self.head = nn.Conv2d(8, 3, 1)

    def body(self, x):
        f = self.stem(x)
        f = self.fuse(torch.cat([self.b1(f), self.b2(f), self.b3(f), self.b4(f), self.b5(f), f], 1))
        return F.interpolate(self.head(f), scale_factor=2, mode="bilinear", align_corners=False)


class UNetPad(Net):
    """The classic PyTorch U-Net "Up" block: ConvTranspose, then F.pad by the size difference
    computed from x.size() (shape arithmetic feeding Pad), then concat with the skip."""

    def __init__(self):
        super().__init__()
        self.d1 = cbr(3, 8)
        self.d2 = nn.Sequential(nn.MaxPool2d(2), cbr(8, 16))
        self.d3 = nn.Sequential(nn.MaxPool2d(2), cbr(16, 16))
        self.up1 = nn.ConvTranspose2d(16, 16, 2, stride=2)
        self.c1 = cbr(32, 8)
        self.up2 = nn.ConvTranspose2d(8, 8, 2, stride=2)
        self.c2 = cbr(16, 8)
        self.head = nn.Conv2d(8, 2, 1)

    @staticmethod
    def pad_to(x1, x2):
        dy = x2.size()[2] - x1.size()[2]
        dx = x2.size()[3] - x1.size()[3]
        return F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])

    def body(self, x):
        a = self.d1(x)
        b = self.d2(a)
        c = self.d3(b)
        f = self.c1(torch.cat([b, self.pad_to(self.up1(c), b)], dim=1))
        f = self.c2(torch.cat([a, self.pad_to(self.up2(f), a)], dim=1))
        return self.head(f)


class CropSlice(Net):
    """Slicing: x[:, :, :h, :w] crops after an oversized upsampling, a channel slice
    x[:, 2:6], and torch.chunk / torch.split (Split in ONNX)."""

    def __init__(self, split):
        super().__init__()
        self.split = split
        self.enc = cbr(3, 8, s=2)
        self.up = nn.ConvTranspose2d(8, 8, 4, stride=2)  # (n-1)*2 + 4: two rows/cols too many
        self.a = cbr(4, 4)
        self.b = cbr(4, 4)
        self.head = nn.Conv2d(12, 3, 1)

    def body(self, x):
        f = self.up(self.enc(x))[:, :, :x.shape[2], :x.shape[3]]
        if self.split:
            p, q = torch.chunk(f, 2, dim=1)
        else:
            p, q = f[:, :4], f[:, 4:]
        return self.head(torch.cat([self.a(p), self.b(q), f[:, 2:6]], dim=-3))


class Norms(Net):
    """nn.InstanceNorm2d(affine) and nn.GroupNorm (nnU-Net and friends)."""

    def __init__(self, kind):
        super().__init__()
        norm = (lambda c: nn.InstanceNorm2d(c, affine=True)) if kind == "instance" else \
            (lambda c: nn.GroupNorm(4, c))
        self.enc = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), norm(8), nn.LeakyReLU(0.01),
                                 nn.Conv2d(8, 8, 3, 1, 1), norm(8), nn.LeakyReLU(0.01))
        self.head = nn.Conv2d(8, 3, 1)
        with torch.no_grad():
            for m in self.enc:
                if hasattr(m, "weight") and m.weight is not None and m.weight.dim() == 1:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)

    def body(self, x):
        return F.interpolate(self.head(self.enc(x)), scale_factor=2, mode="bilinear",
                             align_corners=False)


class OddScale(Net):
    """Non-integer and bicubic upsampling: scale_factor=1.5 bilinear, then bicubic to the input
    size."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(cbr(3, 8, s=2), cbr(8, 8, s=2))
        self.mid = cbr(8, 8)
        self.head = nn.Conv2d(8, 3, 1)

    def body(self, x):
        f = F.interpolate(self.enc(x), scale_factor=1.5, mode="bilinear", align_corners=False)
        f = self.mid(f)
        return F.interpolate(self.head(f), size=x.shape[-2:], mode="bicubic",
                             align_corners=False)


class ShuffleExpand(Net):
    """ShuffleNet channel shuffle (5-D view/transpose) and expand_as broadcasting (Expand)."""

    def __init__(self):
        super().__init__()
        self.enc = cbr(3, 8, s=2)
        self.g = nn.Conv2d(8, 8, 3, padding=1, groups=2)
        self.att = nn.Conv2d(8, 1, 1)
        self.dec = cbr(8, 8)
        self.head = nn.Conv2d(8, 3, 1)

    def body(self, x):
        f = self.g(self.enc(x))
        b, c, h, w = f.shape
        f = f.view(b, 2, c // 2, h, w).transpose(1, 2).contiguous().view(b, c, h, w)
        f = f * torch.sigmoid(self.att(f)).expand_as(f)
        return F.interpolate(self.head(self.dec(f)), scale_factor=2, mode="bilinear",
                             align_corners=False)


class SegNetUnpool(Net):
    """SegNet: MaxPool2d(return_indices=True) and MaxUnpool2d; with `size`, 3x3/3 windows and
    MaxUnpool2d(output_size=the pooled tensor's size), as SegNet decoders do for odd sizes."""

    def __init__(self, size=False):
        super().__init__()
        k = 3 if size else 2
        self.size = size
        self.enc = cbr(3, 8)
        self.pool = nn.MaxPool2d(k, k, return_indices=True)
        self.mid = cbr(8, 8)
        self.unpool = nn.MaxUnpool2d(k, k)
        self.dec = cbr(8, 8)
        self.head = nn.Conv2d(8, 3, 1)

    def body(self, x):
        e = self.enc(x)
        f, idx = self.pool(e)
        return self.head(self.dec(self.unpool(self.mid(f), idx,
                                              output_size=e.shape[-2:] if self.size else None)))


class TV(Net):
    """A torchvision segmentation model: forward(x)['out']."""

    def __init__(self, builder):
        super().__init__()
        self.m = builder()

    def body(self, x):
        return self.m(x)["out"]


def tv(name):
    def build():
        import torchvision.models.segmentation as S
        kw = dict(weights=None, weights_backbone=None)  # random weights: nothing is downloaded
        if name == "fcn_resnet50" or name == "deeplabv3_resnet50":
            kw["aux_loss"] = False
        return TV(lambda: getattr(S, name)(**kw))
    return build


# name -> (builder, traced size (H, W), note).  Hand nets are small; the torchvision ones are run
# at 96x128 to keep the sweep fast.
MODELS = {
    "fcn_resnet50": (tv("fcn_resnet50"), "torchvision, aux_loss=False"),
    "deeplabv3_resnet50": (tv("deeplabv3_resnet50"), "torchvision, aux_loss=False"),
    "deeplabv3_mobilenet_v3_large": (tv("deeplabv3_mobilenet_v3_large"), "torchvision"),
    "lraspp_mobilenet_v3_large": (tv("lraspp_mobilenet_v3_large"), "torchvision"),
    "bilinear_scale_ac0": (lambda: Interp("bilinear", False, False),
                           "F.interpolate(scale_factor=2, bilinear, align_corners=False)"),
    "bilinear_scale_ac1": (lambda: Interp("bilinear", True, False),
                           "F.interpolate(scale_factor=2, bilinear, align_corners=True)"),
    "bilinear_size_ac0": (lambda: Interp("bilinear", False, True),
                          "F.interpolate(size=input size, bilinear, align_corners=False)"),
    "bilinear_size_ac1": (lambda: Interp("bilinear", True, True),
                          "F.interpolate(size=input size, bilinear, align_corners=True)"),
    "nearest_up": (NearestUp, "nn.Upsample(scale 2, nearest) + F.interpolate(size=, nearest)"),
    "pixelshuffle": (Shuffle, "nn.PixelShuffle(2)"),
    "convtranspose": (Deconv, "ConvTranspose2d k3 s2 p1 output_padding=1, and k4 s2 p1"),
    "grouped_depthwise": (Grouped, "groups=2, depthwise 3x3 and 5x5/s2, pointwise"),
    "aspp_dilated": (ASPP, "dilated 3x3 (2, 4, 6) + AdaptiveAvgPool2d(1) branch, concat"),
    "se_block": (SE, "AdaptiveAvgPool2d(1) -> 1x1 convs -> Hardsigmoid, broadcast multiply"),
    "reduce_means": (Means, "x.mean((2,3)) gate, x.mean(1)/x.amax(1) spatial attention"),
    "activations": (Acts, "Hardswish Hardsigmoid SiLU LeakyReLU ELU PReLU ReLU6 Tanh"),
    "gelu": (Gelu, "nn.GELU() (exact, erf form)"),
    "softmax_final": (lambda: Small(5, nn.Softmax(dim=1)), "nn.Softmax(dim=1) as the last layer"),
    "sigmoid_final": (lambda: Small(1, nn.Sigmoid()), "1 channel + nn.Sigmoid() (binary)"),
    "channels_last": (ChannelsLast, "permute(0,2,3,1) -> nn.Linear -> permute back"),
    "channels_last_ln": (lambda: ChannelsLast(True), "as channels_last, with nn.LayerNorm(C)"),
    "views": (Views, "flatten(2)/transpose/Linear/reshape and x.view(b, c/2, 2h, w)"),
    "pads": (Pads, "F.pad reflect, replicate, constant 0.5"),
    "pool_ceil": (PoolCeil, "AvgPool2d ceil_mode (pad/count_include_pad), MaxPool2d ceil_mode"),
    "residual": (Residual, "ResNet basic blocks: residual adds, strided 1x1 shortcut"),
    "concat6": (Concat6, "torch.cat of 6 branches"),
    "unet_pad": (UNetPad, "U-Net Up block: F.pad by x.size() differences (shape arithmetic)"),
    "crop_slice": (lambda: CropSlice(False), "x[:, :, :H, :W] crop, channel slices, cat dim=-3"),
    "chunk_split": (lambda: CropSlice(True), "as crop_slice with torch.chunk (Split)"),
    "instance_norm": (lambda: Norms("instance"), "nn.InstanceNorm2d(affine=True)"),
    "group_norm": (lambda: Norms("group"), "nn.GroupNorm(4, C)"),
    "odd_scale_bicubic": (OddScale, "scale_factor=1.5 bilinear, bicubic to size="),
    "shuffle_expand": (ShuffleExpand, "channel shuffle (5-D view/transpose), expand_as"),
    "segnet_unpool": (SegNetUnpool, "MaxPool2d(2, return_indices) + MaxUnpool2d (symbolic: see "
                      "max_unpool2d_symbolic)"),
    "segnet_unpool_size": (lambda: SegNetUnpool(True),
                           "MaxPool2d(3, return_indices) + MaxUnpool2d(output_size=) (odd sizes)"),
}


BIG = {n for n in MODELS if n.startswith(("fcn_", "deeplabv3_", "lraspp_"))}
# PyTorch's float64 dilated depthwise convolution is ~50x slower than float32 (a minute per pass
# for this model): its reference is float32 PyTorch, and the float64 interpreter is not run.
FLOAT32_REF = {"deeplabv3_mobilenet_v3_large"}


def build_model(name):
    torch.manual_seed(1234)
    m = MODELS[name][0]()
    # Random BatchNorm statistics: the default (mean 0, var 1, gamma 1, beta 0) is an identity,
    # which would hide mistakes in BatchNorm handling or Conv+BN folding.
    g = torch.Generator().manual_seed(99)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                c = mod.num_features
                mod.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                mod.running_var.copy_(torch.rand(c, generator=g) + 0.5)
                mod.weight.copy_(torch.rand(c, generator=g) + 0.5)
                mod.bias.copy_(torch.randn(c, generator=g) * 0.1)
            if hasattr(mod, "inplace"):
                mod.inplace = False  # so forward hooks see each module's own output
    return m.eval()


# ------------------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------------------

def max_unpool2d_symbolic(g, self, indices, output_size):
    """aten::max_unpool2d -> ONNX MaxUnpool, which torch.onnx 1.13 lacks at every opset.
    PyTorch's indices count within each (n, c) plane of the output (and torch.onnx's export of
    max_pool2d_with_indices converts ONNX's whole-tensor Indices to those: MaxPool with Indices,
    a 1x1 MaxPool with Indices, Slice, Sub); MaxUnpool wants whole-tensor offsets, so this adds
    (n*C + c) * H_out * W_out back: the plane number comes from a 1x1 MaxPool's Indices on the
    input (the offset of each plane's first cell) divided by its plane size.  The output size
    goes in as MaxUnpool's output_shape input, so kernel_shape/strides (required attributes that
    only set the default size) are 1."""
    from torch.onnx import symbolic_helper as sh

    def dim(t, i):
        return g.op("Gather", t, g.op("Constant", value_t=torch.tensor([i])), axis_i=0)
    _, flat = g.op("MaxPool", self, outputs=2, kernel_shape_i=[1, 1], strides_i=[1, 1])
    first = sh._slice_helper(g, flat, axes=[2, 3], starts=[0, 0], ends=[1, 1])
    shape = g.op("Shape", self)
    plane = g.op("Div", first, g.op("Mul", dim(shape, 2), dim(shape, 3)))
    hw = sh._maybe_get_const(output_size, "is")
    if isinstance(hw, (list, tuple)):
        hw = g.op("Constant", value_t=torch.tensor(list(hw), dtype=torch.int64))
    idx = g.op("Add", indices, g.op("Mul", plane, g.op("Mul", dim(hw, 0), dim(hw, 1))))
    out_shape = g.op("Concat", sh._slice_helper(g, shape, axes=[0], starts=[0], ends=[2]), hw,
                     axis_i=0)
    return g.op("MaxUnpool", self, idx, out_shape, kernel_shape_i=[1, 1], strides_i=[1, 1])


_SYMBOLICS = []


def export(model, path, opset, dynamic, fold, size):
    if opset not in _SYMBOLICS:
        torch.onnx.register_custom_op_symbolic("aten::max_unpool2d", max_unpool2d_symbolic, opset)
        _SYMBOLICS.append(opset)
    x = torch.rand(1, 3, *size)
    kw = {}
    if dynamic:
        kw["dynamic_axes"] = {"input": {2: "height", 3: "width"},
                              "output": {2: "height", 3: "width"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"],
                          output_names=["output"], do_constant_folding=fold, **kw)


# ------------------------------------------------------------------------------------------------
# The segcam driver (C, compiled once against the build) and the onnxruntime runner (node)
# ------------------------------------------------------------------------------------------------

DRIVER_C = r"""
/* sweep driver: model + raw float32 input -> raw output, default-layer activation, gradient of
 * S = sum of class-0 logits over all pixels at that layer, and the raw Grad-CAM low map. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "segcam.h"

static int fail(const char *stage, segcam_status st) {
  printf("error\t%s\t%s\t%s\n", stage, segcam_status_str(st), segcam_last_error());
  return 1;
}
static int dump(const char *prefix, const char *what, const float *p, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s.%s.bin", prefix, what);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(p, sizeof(float), n, f) != n) { printf("error\tdump\t%s\n", path); return 1; }
  fclose(f);
  return 0;
}
static void dims(const char *tag, int nd, const int64_t *d) {
  printf("%s", tag);
  for (int i = 0; i < nd; i++) printf("\t%lld", (long long)d[i]);
  printf("\n");
}
int main(int argc, char **argv) {
  if (argc != 6) { fprintf(stderr, "usage: driver model input.bin H W prefix\n"); return 2; }
  segcam_model *m; segcam_session *s; segcam_status st;
  if ((st = segcam_model_load(argv[1], &m))) return fail("load", st);
  printf("loaded\n");
  st = segcam_session_create(m, atoll(argv[3]), atoll(argv[4]), &s);
  if (st) return fail("session", st);
  int nd; int64_t d[SEGCAM_MAX_DIMS];
  segcam_session_input_shape(s, &nd, d);
  size_t n = 1;
  for (int i = 0; i < nd; i++) n *= (size_t)d[i];
  float *x = malloc(n * sizeof *x);
  FILE *f = fopen(argv[2], "rb");
  if (!x || !f || fread(x, sizeof *x, n, f) != n) {
    printf("error\tinput\tsize mismatch\n");
    return 1;
  }
  fclose(f);
  if ((st = segcam_session_run(s, x, n))) return fail("run", st);
  segcam_output o;
  if ((st = segcam_session_output(s, &o))) return fail("output", st);
  size_t no = 1;
  for (int i = 0; i < o.ndim; i++) no *= (size_t)o.shape[i];
  dims("out", o.ndim, o.shape);
  printf("kind\t%d\t%lld\t%d\n", (int)o.kind, (long long)o.classes, o.final_activation);
  if (dump(argv[5], "out", o.data, no)) return 1;
  float *seed = calloc(no, sizeof *seed);
  size_t hw = (size_t)(o.height * o.width);
  if (o.kind == SEGCAM_OUTPUT_CLASSIFIER) seed[0] = 1;
  else
    for (size_t i = 0; i < hw; i++)
      seed[o.layout == SEGCAM_LAYOUT_NCHW ? i : i * (size_t)o.classes] = 1;
  /* the default target, and the first conv block (the gradient crosses the whole network) */
  static const char *const roles[2] = {"default", "first"};
  size_t first = 0, nl = segcam_session_num_layers(s);
  for (segcam_layer li; first < nl; first++)
    if (!segcam_session_layer(s, first, &li) && (li.roles & SEGCAM_ROLE_CANDIDATE)) break;
  for (int r = 0; r < 2; r++) {
    char pre[4096];
    snprintf(pre, sizeof pre, "%s.%s", argv[5], roles[r]);
    size_t layer = first;
    if (r == 0 && (st = segcam_session_find_layer(s, roles[r], &layer))) return fail("layer", st);
    if (layer >= nl) { printf("error\tlayer\tno conv block\n"); return 1; }
    segcam_layer li;
    if ((st = segcam_session_layer(s, layer, &li))) return fail("layer", st);
    printf("layer\t%s\t%s\t%s\n", roles[r], li.name, li.type);
    const float *a; int and_; int64_t ad[SEGCAM_MAX_DIMS];
    if ((st = segcam_session_activation(s, layer, &a, &and_, ad))) {
      /* not kept by the memory plan: explain() keeps it and re-runs; ask again after it */
      segcam_cam_options opt;
      segcam_cam_options_init(&opt);
      int64_t cls = 0;
      segcam_cam cam;
      if ((st = segcam_explain(s, layer, &cls, 1, &opt, &cam))) return fail("explain", st);
      segcam_cam_release(&cam);
      if ((st = segcam_session_activation(s, layer, &a, &and_, ad))) return fail("activation", st);
    }
    printf("act\t%s", roles[r]);
    dims("", and_, ad);
    size_t na = 1;
    for (int i = 0; i < and_; i++) na *= (size_t)ad[i];
    if (dump(pre, "act", a, na)) return 1;
    float *g = calloc(na, sizeof *g);
    if ((st = segcam_session_gradient(s, seed, no, 1, layer, g, na))) return fail("gradient", st);
    if (dump(pre, "grad", g, na)) return 1;
    free(g);
    segcam_cam_options opt;
    segcam_cam_options_init(&opt);
    opt.region = SEGCAM_REGION_ALL;
    opt.normalize = SEGCAM_NORM_NONE;
    int64_t cls = 0;
    segcam_cam cam;
    if ((st = segcam_explain(s, layer, &cls, 1, &opt, &cam))) return fail("explain", st);
    printf("low\t%s\t%lld\t%lld\n", roles[r], (long long)cam.low_h, (long long)cam.low_w);
    if (dump(pre, "low", cam.low_map, (size_t)(cam.low_h * cam.low_w))) return 1;
    segcam_cam_release(&cam);
  }
  printf("ok\n");
  free(x); free(seed);
  segcam_session_free(s);
  segcam_model_free(m);
  return 0;
}
"""

ORT_JS = r"""
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');
(async () => {
  const jobs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const results = {};
  for (const j of jobs) {
    try {
      const s = await ort.InferenceSession.create(j.model, { logSeverityLevel: 3 });
      const b = fs.readFileSync(j.input);
      const x = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
      const r = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, j.shape) });
      const y = r[s.outputNames[0]];
      fs.writeFileSync(j.out, Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
      results[j.model] = { dims: y.dims };
    } catch (e) {
      results[j.model] = { error: String(e.message || e).split('\n')[0] };
    }
  }
  fs.writeFileSync(process.argv[3], JSON.stringify(results));
})();
"""


def sh(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def build_driver(build, out):
    lib = os.path.join(build, "libsegcam.a")
    if not os.path.exists(lib):
        sys.exit(f"{lib} not found: build segcam first (see --help)")
    src = os.path.join(out, "driver.c")
    exe = os.path.join(out, "driver")
    with open(src, "w") as f:
        f.write(DRIVER_C)
    libs = []
    for pkg in ("libprotobuf-c", "openblas", "libpng", "libjpeg", "hdf5-serial", "libzip",
                "libcjson"):  # what CMakeLists.txt links segcam with (missing ones are skipped)
        libs += sh(["pkg-config", "--libs", pkg]).stdout.split()
    libs.append("-ldnnl")  # oneDNN ships no pkg-config file
    r = sh(["gcc", "-std=c11", "-O1", "-fopenmp", "-I" + os.path.join(ROOT, "include"), src, lib,
            *libs, "-lm", "-o", exe])
    if r.returncode:
        sys.exit("driver build failed:\n" + r.stderr)
    return exe


def run_ort(jobs, out):
    jf, rf, js = (os.path.join(out, n) for n in ("ort_jobs.json", "ort_results.json", "ort.js"))
    with open(jf, "w") as f:
        json.dump(jobs, f)
    with open(js, "w") as f:
        f.write(ORT_JS)
    env = dict(os.environ, NODE_PATH=os.path.join(ROOT, "tools", "node_modules"))
    r = sh(["node", js, jf, rf], env=env)
    if r.returncode or not os.path.exists(rf):
        sys.exit("onnxruntime runner failed:\n" + r.stderr)
    with open(rf) as f:
        return json.load(f)


def run_segcam(exe, model, xin_path, hw, prefix):
    r = sh([exe, model, xin_path, str(hw[0]), str(hw[1]), prefix],
           env=dict(os.environ, OMP_NUM_THREADS="2"), timeout=600)
    info = {"loaded": False, "layers": {}}
    for line in r.stdout.splitlines():
        p = line.split("\t")
        if p[0] == "loaded":
            info["loaded"] = True
        elif p[0] == "out":
            info["out"] = [int(v) for v in p[1:]]
        elif p[0] == "kind":
            info["kind"], info["classes"], info["final"] = int(p[1]), int(p[2]), int(p[3])
        elif p[0] == "layer":
            info["layers"][p[1]] = dict(name=p[2], type=p[3])
        elif p[0] == "act":
            info["layers"][p[1]]["act"] = [int(v) for v in p[2:]]
        elif p[0] == "low":
            info["layers"][p[1]]["low"] = [int(p[2]), int(p[3])]
        elif p[0] == "error":
            info["error"] = f"{p[1]}: " + " ".join(p[2:]) if len(p) > 2 else p[1]
        elif p[0] == "ok":
            info["ok"] = True
    if r.returncode and "error" not in info:
        info["error"] = f"driver exit {r.returncode}: {r.stderr.strip()[-300:]}"
    return info


def load_bin(path, shape):
    return np.fromfile(path, dtype=np.float32).reshape(shape)


def rel(a, b):
    """max |a - b| / max |b| (b the reference); 0/0 -> 0."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    m = np.abs(b).max() if b.size else 0.0
    d = np.abs(a - b).max() if b.size else 0.0
    return float(d / m) if m > 0 else float(d)


# ------------------------------------------------------------------------------------------------
# References: torch float64 with every module output recorded
# ------------------------------------------------------------------------------------------------

def torch_reference(model, x32, dtype=torch.float64):
    """Runs model.body in float64; returns (output, logits, [(module name, call, A, dS/dA)])
    for every 4-D module output, where S = sum of the class-0 logits over all pixels."""
    m = copy.deepcopy(model).to(dtype)
    rec = []
    counts = {}

    def hook_for(name):
        def hook(_mod, _inp, out):
            if isinstance(out, torch.Tensor) and out.dim() == 4 and out.requires_grad:
                out.retain_grad()
                k = counts.get(name, 0)
                counts[name] = k + 1
                rec.append((name, k, out))
        return hook

    hooks = [mod.register_forward_hook(hook_for(n)) for n, mod in m.named_modules() if n]
    x = torch.from_numpy(x32.astype(np.float64)).to(dtype)
    try:
        for p in m.parameters():
            p.requires_grad_(True)
        logits = m.body(x)
        out = m.final(logits) if m.final is not None else logits
        logits[:, 0].sum().backward()
    finally:
        for h in hooks:
            h.remove()
    recs = [(n, k, t.detach().numpy(), (t.grad if t.grad is not None else torch.zeros_like(t))
             .detach().numpy()) for n, k, t in rec]
    return out.detach().numpy(), logits.detach().numpy(), recs


def interp_reference(path, x32, layer_names):
    """{layer: (A, dS/dA)} from tools/onnx_torch_ref.py's float64 interpreter (ONNX semantics),
    one forward and one reverse pass for all the layers."""
    sys.path.insert(0, HERE)
    import onnx_torch_ref as R
    # The interpreter treats only ndarrays as integer shape values; Gather of a 0-d index
    # yields a NumPy scalar, which it would then treat as a tensor.
    R._is_int = lambda v: isinstance(v, (np.ndarray, np.generic)) and np.asarray(v).dtype.kind \
        in "iub"
    if not getattr(R, "_sweep_ops", False):
        base = R.eval_node

        def eval_node(op, a, at, opset):
            # float ops the interpreter lacks but the exported nets use (ONNX Operators.md)
            x = a[0] if a else None
            if op == "HardSigmoid":
                return torch.clamp(at.get("alpha", 0.2) * x + at.get("beta", 0.5), 0, 1)
            if op == "HardSwish":
                return x * torch.clamp(x / 6 + 0.5, 0, 1)
            if op == "InstanceNormalization":
                return F.instance_norm(x, weight=a[1], bias=a[2], eps=at.get("epsilon", 1e-5))
            if op in ("Erf", "Sqrt", "Exp", "Neg", "Abs") and isinstance(x, torch.Tensor):
                return dict(Erf=torch.erf, Sqrt=torch.sqrt, Exp=torch.exp, Neg=torch.neg,
                            Abs=torch.abs)[op](x)
            return base(op, a, at, opset)
        R.eval_node = eval_node
        R._sweep_ops = True
    g = R.Graph(path)
    tensors = []
    for name in layer_names:
        node = next((n for n in g.nodes if n.name == name), None)
        if node is None:
            node = next(n for n in g.nodes if n.output and n.output[0] == name)
        tensors.append(node.output[0])
    x = torch.from_numpy(x32.astype(np.float64)).requires_grad_(True)
    env = g.run({g.inputs[0]: x})
    lname, _ = g.logits_name()
    S = env[lname][:, 0].sum()
    uniq = list(dict.fromkeys(tensors))
    grads = torch.autograd.grad(S, [env[t] for t in uniq])
    by = {t: (env[t].detach().numpy(), gr.numpy()) for t, gr in zip(uniq, grads)}
    out = {name: by[t] for name, t in zip(layer_names, tensors)}
    out[None] = env[g.outputs[0]].detach().numpy()  # the model output
    return out


def cam_low(A, g):
    w = g.mean(axis=(2, 3), keepdims=True)
    return np.maximum((w * A).sum(axis=1), 0)[0]


def cam_rel(low, A, g):
    """(max |low - ref| / scale, cancels), ref = ReLU(P), P = sum_k mean(g_k) A_k.  The scale is
    max |ref|; where the ReLU leaves (almost) nothing, max |P|; and where P itself cancels to
    (nearly) zero -- every w_k = mean(g_k) vanishes, e.g. right before an InstanceNorm, whose
    output ignores per-channel shifts -- the size of the terms that cancel,
    max over pixels of sum_k mean(|g_k|) |A_k|, with cancels = True."""
    P = (g.mean(axis=(2, 3), keepdims=True) * A).sum(axis=1)[0]
    ref = np.maximum(P, 0)
    terms = (np.abs(g).mean(axis=(2, 3), keepdims=True) * np.abs(A)).sum(axis=1).max()
    d = float(np.abs(np.asarray(low, np.float64) - ref).max())
    for scale, cancels in ((np.abs(ref).max(), False), (np.abs(P).max(), False)):
        if scale >= 1e-3 * terms and scale > 0:
            return d / scale, cancels
    return (d / terms if terms > 0 else d), True


def run_interp(r, x32):
    """The interpreter's references for every layer of the file, once (r["interp"]: a dict, or
    the reason it failed)."""
    if "interp" not in r:
        try:
            names = [v["name"] for v in r["info"]["layers"].values()]
            r["interp"] = interp_reference(r["path"], x32, names)
        except Exception as e:  # noqa: BLE001
            r["interp"] = short(f"{type(e).__name__}: {e}", 80)


def compare_layer(r, role, li, prefix, ref, faithful, x32):
    """Compares segcam's activation, gradient and low map at one layer with the reference;
    stores grad_diff/cam_diff (default layer) or fgrad_diff (first conv block) in the row, with
    the tolerance each must meet in r["checks"]."""
    pre = f"{prefix}.{role}"
    a = load_bin(pre + ".act.bin", li["act"])
    g = load_bin(pre + ".grad.bin", li["act"])
    low = load_bin(pre + ".low.bin", li["low"])
    A = gA = None
    if not isinstance(ref, Exception) and faithful:
        best = None
        for mod, call, At, gt in ref[2]:
            if At.shape == a.shape:
                d = rel(a, At)
                if d < MATCH_TOL and (best is None or d < best[0]):
                    best = (d, mod, call, At, gt)
        if best:
            A, gA = best[3], best[4]
            li["ref"] = "torch32" if r["model"] in FLOAT32_REF else "torch"
            li["module"] = best[1] + (f" (call {best[2]})" if best[2] else "")
    if A is None and r["model"] in FLOAT32_REF:
        li["ref_error"] = "no float64 interpreter run for this model (too slow)"
        if role == "default":
            r["ref_error"] = li["ref_error"]
        return
    if A is None:
        run_interp(r, x32)
        if isinstance(r["interp"], dict):
            A, gA = r["interp"][li["name"]]
            li["ref"] = "interp"
        else:
            li["ref_error"] = r["interp"]
            if role == "default":
                r["ref_error"] = li["ref_error"]
    if A is None:
        return
    cd, cancels = cam_rel(low, A, gA)
    if cancels:
        r["cancels"] = True
    gd = rel(g, gA)
    tol = TOL_GRAD if role == "default" else TOL_DEEP
    r.setdefault("checks", []).extend([(gd, tol), (cd, tol)])
    if role == "default":
        r["ref"] = li["ref"]
        r["act_diff"] = rel(a, A)
        r["grad_diff"] = gd
        r["cam_diff"] = cd
    else:
        r["fgrad_diff"] = max(gd, cd)


def fmt(v):
    if v is None:
        return "-"
    if v == 0:
        return "0"
    return f"{v:.1e}"


def short(msg, n=160):
    msg = " ".join(msg.split())
    return msg if len(msg) <= n else msg[:n - 3] + "..."


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="/tmp/sweep-build")
    ap.add_argument("--out", default="/tmp/sweep")
    ap.add_argument("--only", default="", help="comma-separated model names")
    ap.add_argument("--opsets", default="9,10,11,12,13")
    ap.add_argument("--size", default="96x128", help="traced (and static) input size HxW")
    ap.add_argument("--dyn-size", default="88x120", help="size a dynamic-axes file is run at")
    ap.add_argument("--doc", default=None,
                    help="where to write the table (default docs/ONNX_COVERAGE.md, and only for "
                    "a run over every model)")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite the coverage doc")
    ap.add_argument("--full", action="store_true",
                    help="the whole grid for the torchvision models too (about twice as long)")
    ap.add_argument("--quick", action="store_true",
                    help="opsets 11 and 13 with constant folding only (about half the time)")
    ap.add_argument("--doc-only", action="store_true",
                    help="rewrite the doc from the last run's results (<out>/results.json)")
    ap.add_argument("--reuse", action="store_true", help="keep existing .onnx files")
    args = ap.parse_args()
    torch.set_num_threads(2)
    t_start = time.time()
    os.makedirs(args.out, exist_ok=True)
    if args.doc_only:
        with open(os.path.join(args.out, "results.json")) as f:
            saved = json.load(f)
        args.doc = args.doc or os.path.join(ROOT, "docs", "ONNX_COVERAGE.md")
        write_doc(args, saved["rows"], saved["opsets"], tuple(saved["size"]),
                  tuple(saved["dyn_size"]), saved["seconds"])
        print(f"wrote {os.path.relpath(args.doc, ROOT)}")
        return 0
    size = tuple(int(v) for v in args.size.split("x"))
    dyn_size = tuple(int(v) for v in args.dyn_size.split("x"))
    opsets = [int(v) for v in ("11,13" if args.quick else args.opsets).split(",")]
    names = [n for n in MODELS if not args.only or n in args.only.split(",")]
    exe = build_driver(args.build, args.out)

    # 1. export
    t_phase = {}
    t0 = time.time()
    rows = []
    models = {}
    for name in names:
        t_model = time.time()
        models[name] = build_model(name)
        for opset in opsets:
            for dynamic in (False, True):
                for fold in (True, False):
                    # the big models: without folding only at the newest opset, and no opset 12
                    # (the same graphs as 11 for them) unless --full
                    if args.quick and not fold:
                        continue
                    if name in BIG and not args.full and (
                            (not fold and opset != max(opsets)) or opset == 12):
                        continue
                    tag = f"{name}_op{opset}_{'dyn' if dynamic else 'static'}_" \
                          f"{'fold' if fold else 'nofold'}"
                    path = os.path.join(args.out, tag + ".onnx")
                    row = dict(model=name, opset=opset, dynamic=dynamic, fold=fold, path=path,
                               tag=tag, hw=dyn_size if dynamic else size)
                    rows.append(row)
                    if args.reuse and os.path.exists(path):
                        continue
                    if os.path.exists(path):
                        os.remove(path)
                    try:
                        export(models[name], path, opset, dynamic, fold, size)
                    except Exception as e:  # noqa: BLE001  (report whatever the exporter says)
                        row["export_error"] = short(f"{type(e).__name__}: {e}")
        print(f"exported {name} ({time.time() - t_model:.1f} s)", flush=True)

    t_phase["export"] = time.time() - t0
    # 2. inputs and onnxruntime
    inputs = {}
    for hw in {size, dyn_size}:
        x = np.random.default_rng(2024).uniform(0, 1, (1, 3, *hw)).astype(np.float32)
        p = os.path.join(args.out, f"input_{hw[0]}x{hw[1]}.bin")
        x.tofile(p)
        inputs[hw] = (x, p)
    jobs = [dict(model=r["path"], input=inputs[r["hw"]][1], shape=[1, 3, *r["hw"]],
                 out=os.path.join(args.out, r["tag"] + ".ort.bin"))
            for r in rows if "export_error" not in r]
    t0 = time.time()
    ort_res = run_ort(jobs, args.out)
    t_phase["onnxruntime"] = time.time() - t0
    print(f"onnxruntime: {len(jobs)} files ({time.time() - t0:.1f} s)", flush=True)

    # 3. torch references, per (model, size)
    t0 = time.time()
    refs = {}
    for name in names:
        for hw in (size, dyn_size):
            try:
                refs[(name, hw)] = torch_reference(
                    models[name], inputs[hw][0],
                    torch.float32 if name in FLOAT32_REF else torch.float64)
            except Exception as e:  # noqa: BLE001
                refs[(name, hw)] = e

    t_phase["torch"] = time.time() - t0
    # 4. segcam, and the comparisons
    t0 = time.time()
    bad = 0
    for r in rows:
        if "export_error" in r:
            print(f"{r['tag']:<58} export fails: {r['export_error']}")
            continue
        o = ort_res.get(r["path"], {})
        if "error" in o:
            # drop the C++ signature of onnxruntime's assertion messages
            r["ort_error"] = short(re.sub(r"^.*?\[with [^\]]*\] ", "", o["error"]))
        prefix = os.path.join(args.out, r["tag"])
        hw = r["hw"] if r["dynamic"] else (-1, -1)
        info = run_segcam(exe, r["path"], inputs[r["hw"]][1], hw, prefix)
        r["info"] = info
        if "out" in info:
            y = load_bin(prefix + ".out.bin", info["out"])
            if "dims" in o:
                yo = load_bin(prefix + ".ort.bin", o["dims"])
                r["out_diff"] = rel(y, yo)
            ref = refs[(r["model"], r["hw"])]
            if not isinstance(ref, Exception):
                r["ort_vs_torch"] = rel(load_bin(prefix + ".ort.bin", o["dims"]), ref[0]) \
                    if "dims" in o else None
        if info.get("ok"):
            faithful = r.get("ort_vs_torch") is not None and r["ort_vs_torch"] < 1e-3
            for role, li in info["layers"].items():
                compare_layer(r, role, li, prefix, refs[(r["model"], r["hw"])], faithful,
                              inputs[r["hw"]][0])
        grad_ok = all(v <= t for v, t in r.get("checks", []))
        if "ort_error" in r and info.get("ok"):
            # onnxruntime refuses the file: compare with the ONNX interpreter and the torch module
            y = load_bin(prefix + ".out.bin", info["out"])
            ref = refs[(r["model"], r["hw"])]
            if not isinstance(ref, Exception):
                r["out_vs_torch"] = rel(y, ref[0])
            run_interp(r, inputs[r["hw"]][0])
            if isinstance(r["interp"], dict):
                r["out_vs_interp"] = rel(y, r["interp"][None])
        r.pop("interp", None)
        if not info.get("loaded"):
            r["status"] = "unsupported"
        elif not info.get("ok"):
            r["status"] = "FAIL"
        elif "ort_error" in r:
            r["status"] = "ort fails"
            if r.get("out_vs_interp", 0) > TOL_OUT or not grad_ok:
                r["status"] = "DIFF"
        else:
            r["status"] = "ok" if r.get("out_diff", 1) <= TOL_OUT and grad_ok else "DIFF"
        bad += r["status"] in ("FAIL", "DIFF")
        out = fmt(r.get("out_diff")) if "ort_error" not in r else \
            f"{fmt(r.get('out_vs_interp'))} (vs interp; torch {fmt(r.get('out_vs_torch'))})"
        print(f"{r['tag']:<58} {r['status']:<11} out {out} "
              f"grad {fmt(r.get('grad_diff'))} cam {fmt(r.get('cam_diff'))} "
              f"first block {fmt(r.get('fgrad_diff'))} [{r.get('ref', '-')}] "
              f"{info['layers'].get('default', {}).get('name', '')} "
              f"{info.get('error', '')}{r.get('ref_error', '')}", flush=True)

    t_phase["segcam + compare"] = time.time() - t0
    # summary
    by = {}
    for r in rows:
        s = "export fails" if "export_error" in r else r["status"]
        by[s] = by.get(s, 0) + 1
    print("\nsummary: " + ", ".join(f"{v} {k}" for k, v in sorted(by.items())) +
          f"  ({len(rows)} files, {time.time() - t_start:.0f} s: " +
          ", ".join(f"{k} {v:.0f} s" for k, v in t_phase.items()) + ")")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(dict(rows=rows, opsets=opsets, size=size, dyn_size=dyn_size,
                       seconds=time.time() - t_start), f)
    if not args.no_doc and (args.doc or not (args.only or args.quick)):
        args.doc = args.doc or os.path.join(ROOT, "docs", "ONNX_COVERAGE.md")
        write_doc(args, rows, opsets, size, dyn_size, time.time() - t_start)
        print(f"wrote {os.path.relpath(args.doc, ROOT)}")
    # skipped: files the exporter or onnxruntime refuses, and ops segcam reports as unsupported
    print(f"{by.get('ok', 0)} passed, {bad} failed, {len(rows) - by.get('ok', 0) - bad} skipped")
    return 1 if bad else 0


# Why a file fails, per model (and opsets): written into the doc next to the table.  Keep in step
# with what the sweep prints.
NOTES = [
    ("bilinear_scale_ac1, bilinear_size_ac1", "opsets 9, 10",
     "torch.onnx refuses (align_corners=True needs Resize-11's coordinate modes); nothing to run."),
    ("odd_scale_bicubic", "opsets 9, 10",
     "torch.onnx refuses (bicubic needs Resize-11)."),
    ("segnet_unpool, segnet_unpool_size", "all",
     "not a failure: torch.onnx 1.13 cannot export MaxUnpool2d at any opset, so the sweep "
     "registers a symbolic for it (`max_unpool2d_symbolic` in tools/sweep_exports.py) that "
     "writes ONNX MaxUnpool with whole-tensor indices and output_shape; MaxPool2d's indices are "
     "torch.onnx's own export (MaxPool with Indices, a 1x1 MaxPool with Indices, Slice, Sub)."),
    ("unet_pad, crop_slice, chunk_split", "opsets 9/10, dynamic",
     "torch.onnx refuses (padding sizes / slices computed from the input size need Pad-11 / "
     "Slice-10 inputs, or chunk needs a static size)."),
    ("pool_ceil", "opset 9, dynamic",
     "torch.onnx refuses (ceil_mode padding needs the static input size)."),
    ("pool_ceil", "opset 9, static",
     "onnxruntime refuses the file (the exporter turns ceil_mode into end pads of 3 >= kernel 3; "
     "ORT requires pads < kernel).  segcam runs it; its output is compared with the float64 "
     "ONNX interpreter instead (column out: `vs interp`), which agrees with segcam; both differ "
     "from the torch module by a few per cent, so the file itself is not faithful to torch."),
    ("pixelshuffle", "all",
     "not a failure: nn.PixelShuffle exports as DepthToSpace (mode CRD) at opsets >= 11 and as "
     "Reshape(6-D)/Transpose/Reshape at opsets 9/10.  DepthToSpace counts as an upsampling step "
     "when segcam picks the default layer and the 6-D Reshape/Transpose does not (in this net "
     "both pick the same layer)."),
    ("deeplabv3_mobilenet_v3_large", "all",
     "not a failure: the gradient/CAM reference is float32 PyTorch, marked (f32 ref), because "
     "PyTorch's float64 dilated depthwise convolution takes about a minute per pass; at opsets "
     "9/10 (not faithful to the module, see below) there is no reference."),
    ("every net with bilinear upsampling", "opsets 9, 10",
     "not a failure: ONNX Upsample-9 / Resize-10 only have asymmetric coordinates, so the file "
     "computes something other than the torch module (onnxruntime and segcam agree with each "
     "other).  The gradient/CAM reference is then the float64 ONNX interpreter "
     "(tools/onnx_torch_ref.py, with HardSigmoid, HardSwish, Erf, Sqrt, Exp, Neg, Abs and "
     "InstanceNormalization added by the sweep), marked (interp); where it lacks an op the cell "
     "says no ref."),
]

# What the sweep shows about choosing the Grad-CAM layer (src/cam/layers.c), for the doc.
OBSERVATIONS = [
    "Default layer of the torchvision models (and of the hand nets whose 1x1 classifier comes "
    "before the final F.interpolate): the classifier conv itself (`/m/classifier/classifier.4/"
    "Conv`, 21 channels = the classes, at 1/8 resolution), because the head is only recognised "
    "after the final upsampling.  Its Grad-CAM for class c is ReLU(const * logit_c), the "
    "prediction itself (CAM_METHODS.md section 4 warns about exactly this); the block before "
    "it (`classifier.2/Relu` for FCN, the ASPP projection for DeepLabV3) is the useful target.",
    "Grad-CAM at a layer that feeds an InstanceNorm (or any per-channel normalisation over the "
    "spatial axes) is identically zero: the norm removes per-channel shifts, so every "
    "w_k = mean(dS/dA_k) is 0 and the map is float32 noise (min-max normalisation then shows "
    "noise as a heat map).  The InstanceNormalization translation is LayerNorm + BatchNorm, and "
    "layers.c does not count LayerNorm as finishing a conv block, so for conv -> InstanceNorm "
    "-> activation a candidate/default layer is the conv output before the norm.",
    "segcam's results depend (deterministically) on OMP_NUM_THREADS through the summation order "
    "of the convolutions: differences at float32 rounding level, which only show where a ReLU "
    "input sits within rounding of 0 (see the tolerances above).",
]

# What the sweep found and what fixed it (tests: tests/test_onnx_load.c test_sweep_regressions,
# tests/test_elementwise.c).
FIXED = [
    ("reduce_means, channels_last_ln", "ReduceMean/ReduceMax were not supported (x.mean(dim), "
     "x.amax, and nn.LayerNorm before opset 17, which torch 1.13 exports as "
     "ReduceMean/Sub/Pow/Sqrt/Div)", "new op `reduce` (src/ops/reduce.c, ops.def, ops.h) and the "
     "ReduceMean/Max/Min/Sum entries in src/load/onnx.c; tests/test_reduce.c"),
    ("gelu", "Erf was not supported (torch 1.13 exports nn.GELU as x*0.5*(1+Erf(x/sqrt 2)) at "
     "every opset < 20)", "new activation kind SC_ACT_ERF (src/ops/activation.c, ops.h) and the "
     "Erf entry in src/load/onnx.c"),
    ("instance_norm, group_norm", "InstanceNormalization was not supported (nn.InstanceNorm2d; "
     "nn.GroupNorm exports through it)", "src/load/onnx.c: LayerNormalization(axis 2) + "
     "BatchNormalization(mean 0, var 1, eps 0)"),
    ("shuffle_expand", "Expand was not supported (expand_as / expand)",
     "src/load/onnx.c: Mul(x, ConstantOfShape(shape, 1))"),
    ("chunk_split (opsets 9, 10)", "Split was not supported (torch.chunk / torch.split)",
     "src/load/onnx.c: one Slice per output (sizes from the attribute or the constant input)"),
    ("pixelshuffle (opsets >= 11)", "DepthToSpace was not supported (nn.PixelShuffle)",
     "new op `depth_space` (src/ops/depth_space.c: DepthToSpace DCR/CRD and SpaceToDepth) and "
     "its entries in src/load/onnx.c; tests/test_depth_space.c"),
    ("segnet_unpool, segnet_unpool_size", "MaxPool's Indices output and MaxUnpool were not "
     "supported (MaxPool2d(return_indices=True) + MaxUnpool2d)", "pool.c: MaxPool writes "
     "Indices when they are read, new op `maxunpool`; src/load/onnx.c; tests/test_maxunpool.c"),
]


def cell_text(rs):
    """The result columns for a group of files with the same outcome."""
    r = rs[0]
    if "export_error" in r:
        return ["export fails", "", "", "", "torch.onnx: " + md(r["export_error"])]
    info = r.get("info", {})
    if not info.get("loaded"):
        return ["**no**", "", "", "", md(clean(info.get("error", "?")))]
    if not info.get("ok"):
        return ["yes", "", "", "", "**segcam fails**: " + md(clean(info.get("error", "?")))]

    def worst(k):
        v = [x.get(k) for x in rs if x.get(k) is not None]
        return max(v) if v else None
    if "ort_error" in r:
        out = f"{fmt(worst('out_vs_interp'))} vs interp (vs torch {fmt(worst('out_vs_torch'))})"
        note = "onnxruntime refuses: " + md(clean(r["ort_error"]))[:200]
    else:
        out = fmt(worst("out_diff"))
        note = ""
    ref = r.get("ref")
    if worst("grad_diff") is None:
        g = c = "no ref"
    else:
        tag = {"interp": " (interp)", "torch32": " (f32 ref)"}.get(ref, "")
        g, c = fmt(worst("grad_diff")) + tag, fmt(worst("cam_diff")) + tag
    b = fmt(worst("fgrad_diff")) if worst("fgrad_diff") is not None else "no ref"
    if any(x.get("cancels") for x in rs):
        note = (note + " (a CAM cancels to ~0: diff relative to its terms)").strip()
    if r["status"] in ("DIFF", "FAIL"):
        note = ("**" + r["status"] + "** " + note).strip()
    layer = info["layers"].get("default", {}).get("name", "")
    return [out, g, c, b, note or f"`{layer}`"]


def md(t):
    return t.replace("|", "\\|")


def clean(msg):
    """Drops the sweep directory from messages (the file is named by the row anyway)."""
    return re.sub(r"/\S*/[A-Za-z0-9_.]+\.onnx:? ?", "", msg)


def loader_ops():
    """The ONNX op types segcam's loader maps (the op_table of src/load/onnx.c), plus Constant."""
    with open(os.path.join(ROOT, "src", "load", "onnx.c")) as f:
        src = f.read()
    table = src[src.index("static const op_entry op_table[]"):]
    table = table[:table.index("};")]
    return sorted(set(re.findall(r'\{"(\w+)", xl_', table)) | {"Constant"})


def write_doc(args, rows, opsets, size, dyn_size, seconds):
    try:
        import torchvision
        tvv = torchvision.__version__
    except ImportError:
        tvv = "?"
    try:
        with open(os.path.join(HERE, "node_modules", "onnxruntime-node", "package.json")) as f:
            ortv = json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        ortv = "?"
    by = {}
    for r in rows:
        s = "export fails" if "export_error" in r else r["status"]
        by[s] = by.get(s, 0) + 1
    L = []
    L.append("# ONNX export coverage")
    L.append("")
    L.append("Generated by `/usr/bin/python3 tools/sweep_exports.py` (do not edit by hand: edit "
             "the "
             "script's NOTES and re-run it).  The exported files live in /tmp/sweep and are not "
             "committed.")
    L.append("")
    L.append(f"PyTorch {torch.__version__}, torchvision {tvv}, onnxruntime-node {ortv}; opsets "
             f"{', '.join(map(str, opsets))}; every net has random weights (torchvision: "
             "`weights=None, weights_backbone=None`), random BatchNorm statistics, eval mode.  "
             f"Static files are traced and run at {size[0]}x{size[1]}; dynamic-axes files "
             f"(H and W dynamic) are traced at {size[0]}x{size[1]} and run at "
             f"{dyn_size[0]}x{dyn_size[1]}.  The torchvision models are exported without constant "
             "folding only at the newest opset, and not at opset 12 (`--full` does the whole "
             "grid).  The input is "
             "numpy `default_rng(2024).uniform(0, 1)`.")
    L.append("")
    L.append("Columns (each a maximum over the files of the row, e.g. with and without constant "
             "folding):")
    L.append("")
    L.append("- **out**: max |segcam - onnxruntime| / max |onnxruntime| over the model output "
             f"(pass: <= {TOL_OUT:g}).")
    L.append("- **grad**: segcam_session_gradient at segcam's default Grad-CAM layer of "
             "S = sum of the class-0 logits over all pixels (REGION_ALL), vs PyTorch float64 "
             "autograd on the torch module (the module output equal to segcam's activation), "
             "max |diff| / max |ref|; (interp) = vs the float64 ONNX interpreter "
             "tools/onnx_torch_ref.py instead (when the exported file is not faithful to the "
             "module).")
    L.append("- **CAM**: segcam's raw low-resolution Grad-CAM map (segcam_explain, REGION_ALL, "
             "class 0) vs ReLU(sum_k mean(g_k) A_k) from the reference tensors, "
             "max |diff| / max |ref|; where the map cancels to ~0 (every mean(g_k) ~ 0, as right "
             "before an InstanceNorm) relative to max_ij sum_k mean(|g_k|) |A_k| instead.")
    L.append("- **first block**: the same gradient and CAM checks at the first conv block (the "
             "first layer segcam lists as a Grad-CAM candidate), the larger of the two: the "
             "gradient there crosses the whole network, so every op's backward is checked "
             "(the default layer is often the classifier conv just before the final resize).")
    L.append(f"- pass: grad and CAM <= {TOL_GRAD:g} (float32 vs float64); first block <= "
             f"{TOL_DEEP:g}, because the gradient is only piecewise smooth: a ReLU input within "
             "float32 rounding of 0 can fall on the other side of the kink than in float64.  In "
             "ResNet-50 at 88x120 one such input (-4e-5, in layer4.0; segcam with 2 threads sums "
             "in another order than with 1) moves the whole stem gradient by 1e-3; with "
             "OMP_NUM_THREADS=1 segcam matches float64 PyTorch there to 1.3e-6.")
    L.append("")
    L.append(f"Summary: {len(rows)} files; " +
             ", ".join(f"{v} {k}" for k, v in sorted(by.items())) +
             f" ({seconds:.0f} s on 2 cores).")
    L.append("")
    ops = loader_ops()
    L.append(f"## ONNX operators segcam reads ({len(ops)})")
    L.append("")
    L.append("From the loader's table (src/load/onnx.c), default domain, opsets 7 to 20; "
             "Conv, ConvTranspose, MaxPool and AveragePool take 1-D ([N,C,L]) and 2-D windows, "
             "MaxUnpool 2-D ones; attribute and input limits are in the loader's messages:")
    L.append("")
    L.append(", ".join(f"`{o}`" for o in ops) + ".")
    L.append("")
    L.append("## Fixed after this sweep found them")
    L.append("")
    L.append("| model | what failed | fix |")
    L.append("|---|---|---|")
    for m, what, fix in FIXED:
        L.append(f"| {m} | {what} | {fix} |")
    L.append("")
    L.append("## Observations on the layer choice")
    L.append("")
    for o in OBSERVATIONS:
        L.append(f"- {o}")
    L.append("")
    L.append("## Failures and why")
    L.append("")
    L.append("| model | where | reason |")
    L.append("|---|---|---|")
    for m, where, why in NOTES:
        L.append(f"| {m} | {where} | {why} |")
    L.append("")
    L.append("## Models")
    L.append("")
    L.append("| model | what it covers |")
    L.append("|---|---|")
    seen = []
    for r in rows:
        if r["model"] not in seen:
            seen.append(r["model"])
            L.append(f"| {r['model']} | {md(MODELS[r['model']][1])} |")
    L.append("")
    L.append("## Results")
    L.append("")
    L.append("| model | opset | H/W | folding | loads | out | grad | CAM | first block | "
             "default layer / error |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for name in seen:
        for opset in opsets:
            for dyn in (False, True):
                group = [r for r in rows if r["model"] == name and r["opset"] == opset and
                         r["dynamic"] == dyn]
                # files with the same outcome share a row
                keyed = {}
                for r in group:
                    key = clean(r.get("export_error") or r.get("info", {}).get("error") or
                                r.get("status"))
                    keyed.setdefault(key, []).append(r)
                for rs in keyed.values():
                    fold = "/".join("yes" if r["fold"] else "no" for r in rs)
                    c = cell_text(rs)
                    loads = ("-" if "export_error" in rs[0] else
                             "yes" if rs[0].get("info", {}).get("loaded") else "**no**")
                    L.append(f"| {name} | {opset} | {'dynamic' if dyn else 'static'} | {fold} | "
                             f"{loads} | {c[0]} | {c[1]} | {c[2]} | {c[3]} | {c[4]} |")
    L.append("")
    with open(args.doc, "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    sys.exit(main())
