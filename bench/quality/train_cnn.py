#!/usr/bin/python3
"""Trains a refinement network for a 2x learned-filter upscale (pabsr1; tried on dvres).

The network sees, on the low-resolution grid, the input picture and the four
output pixels the learned filters (RAISR) made for each input pixel, and
predicts a correction of those four pixels. Luma only, 8-bit code units.

  train_cnn.py --list LIST --out NET [--seed S] [--channels C] [--layers L]
               [--steps N] [--validate NAME ...]
  train_cnn.py --eval NET --list LIST --validate NAME ...
  train_cnn.py --emit OUT.cc NET...

LIST lines: "LOW BASE TRUTH W H": yuv420p clips of the same pictures, LOW at
W/2 x H/2 (the filter's input), BASE and TRUTH at W x H (the learned filters'
output and the ground truth). Pictures whose path names a --validate photo are
left out of training and scored at the end (the choices in docs/filters.md
were made that way, on training photos only). --eval scores a trained NET on
the --validate photos' pictures with 1 (as pabsr1 runs it), 2 (the picture
and its transpose), 4 and 8 orientations averaged: a self-ensemble, tried
and not adopted (docs/filters.md).
"""
import argparse
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SCALE = 2


def read_luma(path, width, height):
    """The Y planes of a yuv420p clip, as uint8 [frames, height, width]."""
    data = np.fromfile(path, dtype=np.uint8)
    frame = width * height * 3 // 2
    count = data.size // frame
    return np.stack([data[i * frame:i * frame + width * height].reshape(height, width) for i in range(count)])


def load(list_path):
    pictures = []  # (name, low, base, truth)
    with open(list_path) as f:
        for line in f:
            low_path, base_path, truth_path, w, h = line.split()
            w, h = int(w), int(h)
            low = read_luma(low_path, w // SCALE, h // SCALE)
            base = read_luma(base_path, w, h)
            truth = read_luma(truth_path, w, h)
            for i in range(min(len(low), len(base), len(truth))):
                pictures.append((low_path, low[i], base[i], truth[i]))
    return pictures


class RefineNet(nn.Module):
    """LOW (1 channel) + BASE unshuffled (4) -> 4 corrections, 3x3 convs, PReLU."""

    def __init__(self, channels, layers, bias=False):
        super().__init__()
        widths = [1 + SCALE * SCALE] + [channels] * (layers - 1) + [SCALE * SCALE]
        self.convs = nn.ModuleList(
            nn.Conv2d(widths[i], widths[i + 1], 3, padding=1, padding_mode="replicate", bias=bias)
            for i in range(layers))
        self.acts = nn.ModuleList(nn.PReLU(channels, init=0.1) for _ in range(layers - 1))
        # Start from "no correction": the learned filters' output.
        nn.init.zeros_(self.convs[-1].weight)
        if bias:
            nn.init.zeros_(self.convs[-1].bias)

    def forward(self, low, base):
        # Every input is taken relative to the 3 x 3 mean of the input picture,
        # and the network has no biases: PReLU layers without bias are
        # positively homogeneous, so a flat area gets no correction and the
        # correction scales with contrast, whatever the brightness (a network
        # that saw absolute levels corrected flat areas at levels it had not
        # been trained on). The 1/16 keeps activations near 1.
        mean = F.avg_pool2d(F.pad(low, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        x = torch.cat([low - mean, F.pixel_unshuffle(base, SCALE) - mean], 1) / 16.0
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < len(self.acts):
                x = self.acts[i](x)
        return base + 16.0 * F.pixel_shuffle(x, SCALE)


def orient(t, k):
    """One of the 8 orientations of the square (k in 0..7) of [N,C,H,W]."""
    if k & 4:
        t = t.transpose(2, 3)
    if k & 1:
        t = t.flip(3)
    if k & 2:
        t = t.flip(2)
    return t


def unorient(t, k):
    """The inverse of orient(t, k)."""
    if k & 2:
        t = t.flip(2)
    if k & 1:
        t = t.flip(3)
    if k & 4:
        t = t.transpose(2, 3)
    return t


def psnr(a, b):
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * math.log10(255.0 ** 2 / max(mse, 1e-10))


def run_full(net, low, base, orientations=(0,)):
    """The refined picture: the mean of the network's outputs on the given
    orientations of the picture, each turned back (pabsr1: only 0)."""
    low_t = torch.from_numpy(low).float()[None, None]
    base_t = torch.from_numpy(base).float()[None, None]
    with torch.no_grad():
        out = sum(unorient(net(orient(low_t, k), orient(base_t, k)), k) for k in orientations)
    out = out / len(orientations)
    return np.clip(np.round(out[0, 0].numpy()), 0, 255).astype(np.uint8)


def photo_of(picture):
    return os.path.basename(picture[0]).split(".")[0]


def evaluate(args):
    torch.set_num_threads(args.threads or os.cpu_count() or 2)
    saved = torch.load(args.eval)
    net = RefineNet(saved["channels"], saved["layers"])
    net.load_state_dict(saved["state"])
    held = [p for p in load(args.list) if photo_of(p) in args.validate]
    for label, orientations in (("1", (0,)), ("2", (0, 4)), ("4", (0, 3, 4, 7)), ("8", range(8))):
        gains = {}
        for picture in held:
            _, low, base, truth = picture
            gain = psnr(run_full(net, low, base, tuple(orientations)), truth) - psnr(base, truth)
            gains.setdefault(photo_of(picture), []).append(gain)
        mean = sum(sum(g) for g in gains.values()) / len(held)
        print(f"{label} orientation(s): {len(held)} pictures, {mean:+.3f} dB over the base; " +
              ", ".join(f"{name} {sum(g) / len(g):+.3f}" for name, g in gains.items()), file=sys.stderr)


def train(args):
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads or os.cpu_count() or 2)
    pictures = load(args.list)
    held = [p for p in pictures if photo_of(p) in args.validate]
    used = [p for p in pictures if photo_of(p) not in args.validate]
    print(f"{len(used)} training pictures, {len(held)} validation", file=sys.stderr)
    # Each picture weighted by 1 / the base's MSE: the benchmark averages dB.
    weights = [1.0 / max(np.mean((b.astype(np.float64) - t) ** 2), 1.0) ** args.weight_power
               for _, _, b, t in used]
    net = RefineNet(args.channels, args.layers)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    patch = args.patch
    start = time.time()
    running = 1.0  # smoothed loss / the base's loss on the same patches
    for step in range(args.steps):
        lr = args.lr * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for group in opt.param_groups:
            group["lr"] = lr
        lows, bases, truths, ws = [], [], [], []
        for _ in range(args.batch):
            i = random.randrange(len(used))
            _, low, base, truth = used[i]
            y = random.randrange(low.shape[0] - patch + 1)
            x = random.randrange(low.shape[1] - patch + 1)
            lows.append(low[y:y + patch, x:x + patch])
            s = slice(SCALE * y, SCALE * (y + patch)), slice(SCALE * x, SCALE * (x + patch))
            bases.append(base[s])
            truths.append(truth[s])
            ws.append(weights[i])
        k = random.randrange(8)
        low_t = orient(torch.from_numpy(np.stack(lows)).float()[:, None], k)
        base_t = orient(torch.from_numpy(np.stack(bases)).float()[:, None], k)
        truth_t = orient(torch.from_numpy(np.stack(truths)).float()[:, None], k)
        w_t = torch.tensor(ws, dtype=torch.float32)
        err = ((net(low_t, base_t) - truth_t) ** 2).mean(dim=(1, 2, 3))
        loss = (err * w_t).sum() / w_t.sum()
        with torch.no_grad():
            base_err = ((base_t - truth_t) ** 2).mean(dim=(1, 2, 3))
            running = 0.99 * running + 0.01 * (loss.item() / max(((base_err * w_t).sum() / w_t.sum()).item(), 1e-6))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 500 == 0 or step == args.steps - 1:
            print(f"step {step} loss {loss.item():.4f} (x{running:.4f} of the base) lr {lr:.2e} {time.time() - start:.0f}s", file=sys.stderr)
    torch.save({"channels": args.channels, "layers": args.layers, "state": net.state_dict()}, args.out)
    for label, group in (("validation", held), ("training", used[:: max(1, len(used) // 24)])):
        if not group:
            continue
        before = after = 0.0
        for _, low, base, truth in group:
            before += psnr(base, truth)
            after += psnr(run_full(net, low, base), truth)
        n = len(group)
        print(f"{label}: {n} pictures, base {before / n:.3f} dB, refined {after / n:.3f} dB "
              f"({(after - before) / n:+.3f})", file=sys.stderr)


def emit(out_path, nets):
    """Writes the networks as C++ arrays, normalisation folded in: the C++
    network takes code units and returns the correction in code units."""
    lines = ["// Generated by bench/quality/train_cnn.py (bench/quality/train_cnn.sh); do not edit.",
             "// The refinement networks of pabsr1 2x (refine_net.h picks one): docs/filters.md.",
             '#include "filters/refine_net.h"', "", "namespace vidmill::filters {", "namespace {", ""]
    tables = []
    for index, path in enumerate(nets):
        family = os.path.basename(path).split("_")[0]
        name = f"{family}_{index}"
        saved = torch.load(path)
        net = RefineNet(saved["channels"], saved["layers"], bias=False)
        net.load_state_dict(saved["state"])
        layers = []
        for i, conv in enumerate(net.convs):
            w = conv.weight.detach().double().clone()
            b = (conv.bias.detach().double().clone() if conv.bias is not None
                 else torch.zeros(conv.out_channels, dtype=torch.float64))
            if i == 0:  # the /16 of the inputs
                w /= 16.0
            if i == len(net.convs) - 1:  # the x16 of the correction
                w *= 16.0
                b *= 16.0
            slope = net.acts[i].weight.detach().double() if i < len(net.acts) else None
            layers.append((conv.in_channels, conv.out_channels, w.flatten(), b, slope))
        for i, (_, _, w, b, slope) in enumerate(layers):
            for tag, values in (("w", w), ("b", b), ("a", slope)):
                if values is None:
                    continue
                body = ", ".join(f"{v:.9e}f" for v in values.tolist())
                lines.append(f"constexpr float k_{name}_{tag}{i}[] = {{{body}}};")
        lines.append(f"constexpr RefineLayer k_{name}_layers[] = {{")
        for i, (cin, cout, _, _, slope) in enumerate(layers):
            a = f"k_{name}_a{i}" if slope is not None else "nullptr"
            lines.append(f"    {{{cin}, {cout}, 3, k_{name}_w{i}, k_{name}_b{i}, {a}}},")
        lines.append("};")
        lines.append("")
        tables.append(f'    {{"{family}", {SCALE}, k_{name}_layers, {len(layers)}}},')
    lines += ["}  // namespace", "", "const RefineNetTable kRefineNets[] = {"] + tables + ["};",
              "const int kRefineNetCount = sizeof(kRefineNets) / sizeof(kRefineNets[0]);", "",
              "}  // namespace vidmill::filters", ""]
    with open(out_path, "w") as f:
        f.write("\n".join(lines))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--list")
    parser.add_argument("--out")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--channels", type=int, default=24)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--steps", type=int, default=12000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--patch", type=int, default=40)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-power", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--validate", nargs="*", default=[])
    parser.add_argument("--emit", nargs="+")
    parser.add_argument("--eval")
    args = parser.parse_args()
    if args.eval:
        evaluate(args)
    elif args.emit:
        emit(args.emit[0], args.emit[1:])
    else:
        train(args)


if __name__ == "__main__":
    main()
