#!/usr/bin/env python3
"""PyTorch fp32 eager reference for `temper bench`: the same models, steps and timing rule, one JSON on stdout.

The models are src/bench/models.ts's, in PyTorch's NCHW layout:
  cnn-small  conv3x3(32, same)-relu-maxpool2-conv3x3(64, same)-relu-maxpool2-flatten-dense(128, relu)-dense(10),
             convs and dense layers with bias, on 28x28x1
  vgg6-bn    2x[conv3x3(same, no bias)-BN(eps 1e-5, momentum 0.1)-relu] at 64, 128 and 256 filters, each pair then
             maxpool2, then flatten-dense(10), on 32x32x3
  resnet18   src/models/resnet18.ts: conv3x3(64, no bias)-BN-relu, BasicBlocks [2, 2, 2, 2] at 64-128-256-512 filters
             (the first of each later stage with stride 2 and a conv1x1(no bias)-BN shortcut), global average pool,
             dense(10); BN as vgg6-bn's; on 32x32x3. A stride-2 conv3x3 here pads one pixel on every side where
             TensorFlow's 'same' pads only the bottom and right: the same shapes and work, windows one pixel apart
  vit-tiny   src/models/vit-tiny.ts: 4x4 patches by a conv(192, kernel = stride = 4, with bias), a class token
             prepended, learned position embeddings (65 x 192), 12 pre-norm blocks of [LayerNorm(eps 1e-6)-3-head
             self-attention (q, k, v, output projections 192x192 with bias; Q scaled by 1/sqrt(64))] and
             [LayerNorm-dense(768, exact GELU)-dense(192)], each added to its input, then LayerNorm, the class token's
             state, dense(10); on 32x32x3
Initialised as there (He-normal convs, Glorot-uniform dense layers and patch embedding, zero biases, class token and
position embeddings truncated-normal(0.02)), though timings do not depend on it. --count-params prints each model's
weight count as tfjs' countParams() gives it (parameters plus BN running mean and variance), to check the two agree.

The steps are src/bench/measure.ts's:
  train  model.train(); Adam (lr 1e-3, betas 0.9/0.999, eps 1e-7 as tf.train.adam) on mean CE(logits / 10, y);
         zero_grad, forward, backward, optimizer step
  pgd    model.eval() (temper's PGD calls the model with training: false); one PGD-Linf step: the gradient of
         sum CE(logits, y) (T = 1) with respect to the input, x + 2/255 * sign(grad), projected onto the 8/255 ball
         around the clean images and onto [0, 1]; started once from a uniform random point of the ball
Images are uniform in [0, 1), labels uniform in 0..9, both seeded.

Timing, as temper's: untimed warm-up steps, then timed steps until at least --min-steps ran and --min-seconds passed,
or --max-seconds passed; each step ends with torch.cuda.synchronize() (temper reads one element back, which also
waits for the GPU); the median step is reported.

Variants (--variant; default both on CUDA, where each costs seconds, and strict on the CPU):
  strict    true fp32: TF32 off for matrix products and cuDNN convolutions, cudnn.benchmark on (autotuned during
            warm-up); the fair comparison with webgpu, which computes in fp32
  defaults  PyTorch as installed: cudnn.benchmark off, TF32 for convolutions on and for matrix products off (the
            library defaults); what a plain script gets

Usage:
  python3 scripts/gpu/torch_reference.py                       # CUDA, cnn-small at 512 and vgg6-bn at 128
  python3 scripts/gpu/torch_reference.py --device cpu --batch cnn-small=8 --batch vgg6-bn=2 --min-steps 3
  python3 scripts/gpu/torch_reference.py --count-params --model resnet18 vit-tiny
`temper bench --peer torch` runs it with --device cpu, one process per measurement (see docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone

import torch
import torch.nn as nn
import torch.nn.functional as F

MODELS = ("cnn-small", "vgg6-bn", "resnet18", "vit-tiny")
# Measured unless --model says otherwise: the two of PERF.md (scripts/gpu/device-check.sh measures these).
DEFAULT_MODELS = ("cnn-small", "vgg6-bn")
KINDS = ("train", "pgd")
# PERF.md's GPU targets: cnn-small at batch 512, vgg6-bn at batch 128; the paper-class nets at 128 too.
DEFAULT_BATCH = {"cnn-small": 512, "vgg6-bn": 128, "resnet18": 128, "vit-tiny": 128}
INPUT_SHAPE = {"cnn-small": (1, 28, 28), "vgg6-bn": (3, 32, 32), "resnet18": (3, 32, 32), "vit-tiny": (3, 32, 32)}  # C, H, W
NUM_CLASSES = 10
TEMPERATURE = 10.0  # measure.ts BENCH_TEMPERATURE: the training loss is CE(softmax(z / 10), y)
EPS = 8 / 255  # measure.ts BENCH_EPS
STEP_SIZE = 2 / 255  # measure.ts BENCH_STEP_SIZE


def init_weights(module: nn.Module) -> None:
    """He-normal convs and Glorot-uniform dense layers with zero biases, as src/models/init.ts seeds them."""
    for layer in module.modules():
        # ViT's patch embedding is a plain tf.layers.conv2d there (Glorot), the BN nets' convs He-normal.
        if isinstance(layer, nn.Conv2d) and not isinstance(module, VitTiny):
            nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)
        if isinstance(layer, (nn.Conv2d, nn.Linear)) and layer.bias is not None:
            nn.init.zeros_(layer.bias)
    if isinstance(module, VitTiny):
        nn.init.trunc_normal_(module.class_token, std=0.02)
        nn.init.trunc_normal_(module.position, std=0.02)


def cnn_small() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, NUM_CLASSES),
    )


def batch_norm(channels: int) -> nn.BatchNorm2d:
    # tfjs momentum 0.9 (share of the old running statistics) is PyTorch's momentum 0.1.
    return nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1)


def vgg6_bn() -> nn.Module:
    layers: list[nn.Module] = []
    channels = 3
    for filters in (64, 128, 256):
        for _ in range(2):
            layers += [nn.Conv2d(channels, filters, 3, padding=1, bias=False), batch_norm(filters), nn.ReLU()]
            channels = filters
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(256 * 4 * 4, NUM_CLASSES))


class BasicBlock(nn.Module):
    """conv3x3-BN-relu-conv3x3-BN plus the input (through conv1x1-BN where the shape changes), then relu."""

    def __init__(self, channels: int, filters: int, stride: int):
        super().__init__()
        self.residual = nn.Sequential(
            nn.Conv2d(channels, filters, 3, stride, padding=1, bias=False), batch_norm(filters), nn.ReLU(),
            nn.Conv2d(filters, filters, 3, padding=1, bias=False), batch_norm(filters),
        )
        projected = stride != 1 or channels != filters
        self.shortcut = nn.Sequential(nn.Conv2d(channels, filters, 1, stride, bias=False), batch_norm(filters)) if projected else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.residual(x) + self.shortcut(x))


def resnet18() -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 3, padding=1, bias=False), batch_norm(64), nn.ReLU()]
    channels = 64
    for stage, filters in enumerate((64, 128, 256, 512)):
        layers += [BasicBlock(channels, filters, 1 if stage == 0 else 2), BasicBlock(filters, filters, 1)]
        channels = filters
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, NUM_CLASSES))


class SelfAttention(nn.Module):
    """temper's MultiHeadSelfAttention: softmax(Q K^T / sqrt(d)) V per head, then the output projection."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value, self.output = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        head_dim = dim // self.heads

        def heads(t: torch.Tensor) -> torch.Tensor:  # [batch, tokens, dim] -> [batch, heads, tokens, head_dim]
            return t.reshape(batch, tokens, self.heads, head_dim).transpose(1, 2)

        # softmax(Q K^T / sqrt(d_k)) V, Vaswani et al. eq. 1; the scale goes on Q, as temper puts it.
        scores = (heads(self.query(x)) * head_dim ** -0.5) @ heads(self.key(x)).transpose(-2, -1)
        context = torch.softmax(scores, dim=-1) @ heads(self.value(x))
        return self.output(context.transpose(1, 2).reshape(batch, tokens, dim))


class VitBlock(nn.Module):
    """Pre-norm: x + attention(LN(x)), then x + MLP(LN(x)) (Dosovitskiy et al. eqs. 2-3)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attention = SelfAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Linear(dim * mlp_ratio, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VitTiny(nn.Module):
    PATCH, DIM, DEPTH, HEADS, MLP_RATIO = 4, 192, 12, 3, 4

    def __init__(self, size: int = 32):
        super().__init__()
        self.patches = nn.Conv2d(3, self.DIM, self.PATCH, self.PATCH)
        self.class_token = nn.Parameter(torch.zeros(1, 1, self.DIM))
        self.position = nn.Parameter(torch.zeros(1, 1 + (size // self.PATCH) ** 2, self.DIM))
        self.blocks = nn.Sequential(*(VitBlock(self.DIM, self.HEADS, self.MLP_RATIO) for _ in range(self.DEPTH)))
        self.norm = nn.LayerNorm(self.DIM, eps=1e-6)
        self.head = nn.Linear(self.DIM, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patches(x).flatten(2).transpose(1, 2)  # row-major patch order, as temper's NHWC reshape
        tokens = torch.cat([self.class_token.expand(x.shape[0], -1, -1), tokens], dim=1) + self.position
        return self.head(self.norm(self.blocks(tokens))[:, 0])


BUILDERS = {"cnn-small": cnn_small, "vgg6-bn": vgg6_bn, "resnet18": resnet18, "vit-tiny": VitTiny}


def count_params(model: nn.Module) -> int:
    """Every weight tfjs' countParams() counts: the parameters and BN's running statistics (not its step counter)."""
    buffers = sum(b.numel() for name, b in model.named_buffers() if not name.endswith("num_batches_tracked"))
    return sum(p.numel() for p in model.parameters()) + buffers


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_stepper(model_name: str, kind: str, batch: int, device: torch.device, seed: int):
    """Builds the model, data and state of one measurement; returns a function that takes one step."""
    torch.manual_seed(seed)
    model = BUILDERS[model_name]()
    init_weights(model)
    model.to(device)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    images = torch.rand((batch, *INPUT_SHAPE[model_name]), generator=generator).to(device)
    labels = torch.randint(0, NUM_CLASSES, (batch,), generator=generator).to(device)

    if kind == "train":
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(images) / TEMPERATURE, labels)
            loss.backward()
            optimizer.step()

        return step

    model.eval()
    start = torch.empty_like(images).uniform_(-EPS, EPS, generator=torch.Generator(device=device).manual_seed(seed + 1))
    state = {"adversarial": torch.clamp(torch.min(torch.max(images + start, images - EPS), images + EPS), 0, 1)}

    def step() -> None:
        adversarial = state["adversarial"].detach().requires_grad_(True)
        loss = F.cross_entropy(model(adversarial), labels, reduction="sum")
        (gradient,) = torch.autograd.grad(loss, adversarial)
        moved = adversarial.detach() + STEP_SIZE * torch.sign(gradient)
        state["adversarial"] = torch.clamp(torch.min(torch.max(moved, images - EPS), images + EPS), 0, 1)

    return step


def set_variant(variant: str, device: torch.device) -> dict:
    """Applies a variant's backend switches; returns them as they are now set (recorded with each measurement)."""
    if device.type == "cuda":
        if variant == "strict":
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cudnn.benchmark = True
        else:
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = True
            torch.backends.cudnn.benchmark = False
    return {
        "matmulTf32": bool(torch.backends.cuda.matmul.allow_tf32),
        "cudnnTf32": bool(torch.backends.cudnn.allow_tf32),
        "cudnnBenchmark": bool(torch.backends.cudnn.benchmark),
    }


def measure(model_name: str, kind: str, batch: int, variant: str, device: torch.device, args) -> dict:
    switches = set_variant(variant, device)
    result = {
        "model": model_name, "what": kind, "batch": batch, "variant": variant, "switches": switches,
        "inputShape": list(INPUT_SHAPE[model_name]), "warmupSteps": args.warmup, "steps": 0, "stepMs": [],
        "msPerStep": None, "imagesPerSecond": None, "capped": False, "error": None,
    }
    try:
        step = make_stepper(model_name, kind, batch, device, args.seed)
        for _ in range(args.warmup):
            step()
        synchronize(device)
        started = time.perf_counter()
        while True:
            step_started = time.perf_counter()
            step()
            synchronize(device)
            now = time.perf_counter()
            result["stepMs"].append((now - step_started) * 1000)
            seconds = now - started
            if len(result["stepMs"]) >= args.min_steps and seconds >= args.min_seconds:
                break
            if seconds >= args.max_seconds:
                result["capped"] = True
                break
        result["steps"] = len(result["stepMs"])
        result["msPerStep"] = statistics.median(result["stepMs"])
        result["imagesPerSecond"] = batch * 1000 / result["msPerStep"]
    except Exception as error:  # a failed measurement is reported, not fatal: the others still run
        result["error"] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return result


def format_rate(images_per_second: float) -> str:
    """Whole images/s from 100 on, three significant digits below (a ViT step on a CPU takes seconds), as temper prints them."""
    return f"{images_per_second:.0f}" if images_per_second >= 100 else f"{images_per_second:.3g}"


def blas_library() -> str | None:
    """The BLAS file this process mapped, on Linux: Debian's torch calls the system libblas.so.3 for matrix products,
    and the reference BLAS (libblas3) there is many times slower than OpenBLAS."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.split()[-1].lower()}
    except OSError:
        return None
    return ", ".join(sorted(paths)) or None


def parse_batches(values: list[str]) -> dict:
    batches = dict(DEFAULT_BATCH)
    for value in values:
        name, _, number = value.partition("=")
        if name not in MODELS or not number.isdigit() or int(number) < 1:
            raise SystemExit(f"torch_reference.py: --batch {value}: expected MODEL=N with MODEL one of {', '.join(MODELS)} and N >= 1")
        batches[name] = int(number)
    return batches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default; fails where CUDA is unavailable) or cpu")
    parser.add_argument("--model", nargs="+", choices=MODELS, default=None, help=f"default {' '.join(DEFAULT_MODELS)} (every model with --count-params)")
    parser.add_argument("--what", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--batch", action="append", default=[], metavar="MODEL=N", help="batch size per model (default cnn-small=512, the others 128)")
    parser.add_argument("--variant", choices=("strict", "defaults", "both"), default=None, help="strict (default on cpu), both (default on cuda), defaults")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first (cudnn.benchmark autotunes in them)")
    parser.add_argument("--min-steps", type=int, default=30)
    parser.add_argument("--min-seconds", type=float, default=1.0)
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count-params", action="store_true", help="print {model: weight count} as JSON and measure nothing")
    args = parser.parse_args()
    if args.count_params:
        json.dump({name: count_params(BUILDERS[name]()) for name in args.model or MODELS}, sys.stdout)
        print()
        return 0
    args.model = args.model or list(DEFAULT_MODELS)
    if args.warmup < 0 or args.min_steps < 1 or args.min_seconds < 0 or args.max_seconds < 0:
        raise SystemExit("torch_reference.py: --warmup >= 0, --min-steps >= 1, --min-seconds and --max-seconds >= 0")
    batches = parse_batches(args.batch)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"torch_reference.py: --device {args.device}: CUDA is not available to this torch {torch.__version__}")
    if args.threads:
        torch.set_num_threads(args.threads)
    variants = {"strict": ["strict"], "defaults": ["defaults"], "both": ["strict", "defaults"]}[args.variant or ("both" if device.type == "cuda" else "strict")]

    report = {
        "tool": "scripts/gpu/torch_reference.py",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {
            "torch": torch.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
            "python": platform.python_version(), "blas": blas_library(),
        },
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads ({platform.processor() or platform.machine()})",
        "settings": {
            "device": str(device), "batch": batches, "warmupSteps": args.warmup, "minSteps": args.min_steps,
            "minSeconds": args.min_seconds, "maxSeconds": args.max_seconds, "seed": args.seed, "temperature": TEMPERATURE,
            "eps": EPS, "stepSize": STEP_SIZE, "optimizer": "adam (torch.optim.Adam defaults: foreach on CUDA)", "dtype": "float32",
        },
        "measurements": [],
        "complete": False,
    }
    for variant in variants:
        for model_name in args.model:
            for kind in args.what:
                print(f"torch {variant}: {model_name} {kind} step, batch {batches[model_name]}...", file=sys.stderr, flush=True)
                m = measure(model_name, kind, batches[model_name], variant, device, args)
                done = f"failed: {m['error']}" if m["error"] else f"{m['msPerStep']:.2f} ms/step, {format_rate(m['imagesPerSecond'])} images/s over {m['steps']} steps{' (capped)' if m['capped'] else ''}"
                print(f"torch {variant}: {model_name} {kind}: {done}", file=sys.stderr, flush=True)
                report["measurements"].append(m)
    report["complete"] = all(m["error"] is None for m in report["measurements"])
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0 if report["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
