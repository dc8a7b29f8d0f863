#!/usr/bin/env python3
"""PyTorch fp32 eager reference for `temper bench`: the same two models, steps and timing rule, one JSON on stdout.

The models are src/bench/models.ts's, in PyTorch's NCHW layout:
  cnn-small  conv3x3(32, same)-relu-maxpool2-conv3x3(64, same)-relu-maxpool2-flatten-dense(128, relu)-dense(10),
             convs and dense layers with bias, on 28x28x1
  vgg6-bn    2x[conv3x3(same, no bias)-BN(eps 1e-5, momentum 0.1)-relu] at 64, 128 and 256 filters, each pair then
             maxpool2, then flatten-dense(10), on 32x32x3
Initialised as there (He-normal convs, Glorot-uniform dense layers, zero biases), though timings do not depend on it.

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

MODELS = ("cnn-small", "vgg6-bn")
KINDS = ("train", "pgd")
# PERF.md's GPU targets: cnn-small at batch 512, vgg6-bn at batch 128.
DEFAULT_BATCH = {"cnn-small": 512, "vgg6-bn": 128}
INPUT_SHAPE = {"cnn-small": (1, 28, 28), "vgg6-bn": (3, 32, 32)}  # C, H, W
NUM_CLASSES = 10
TEMPERATURE = 10.0  # measure.ts BENCH_TEMPERATURE: the training loss is CE(softmax(z / 10), y)
EPS = 8 / 255  # measure.ts BENCH_EPS
STEP_SIZE = 2 / 255  # measure.ts BENCH_STEP_SIZE


def init_weights(module: nn.Module) -> None:
    """He-normal convs and Glorot-uniform dense layers with zero biases, as src/models/init.ts seeds them."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
        if isinstance(layer, (nn.Conv2d, nn.Linear)) and layer.bias is not None:
            nn.init.zeros_(layer.bias)


def cnn_small() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, NUM_CLASSES),
    )


def vgg6_bn() -> nn.Module:
    layers: list[nn.Module] = []
    channels = 3
    for filters in (64, 128, 256):
        for _ in range(2):
            # tfjs momentum 0.9 (share of the old running statistics) is PyTorch's momentum 0.1.
            layers += [nn.Conv2d(channels, filters, 3, padding=1, bias=False), nn.BatchNorm2d(filters, eps=1e-5, momentum=0.1), nn.ReLU()]
            channels = filters
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(256 * 4 * 4, NUM_CLASSES))


BUILDERS = {"cnn-small": cnn_small, "vgg6-bn": vgg6_bn}


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
    parser.add_argument("--model", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--what", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--batch", action="append", default=[], metavar="MODEL=N", help="batch size per model (default cnn-small=512, vgg6-bn=128)")
    parser.add_argument("--variant", choices=("strict", "defaults", "both"), default=None, help="strict (default on cpu), both (default on cuda), defaults")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first (cudnn.benchmark autotunes in them)")
    parser.add_argument("--min-steps", type=int, default=30)
    parser.add_argument("--min-seconds", type=float, default=1.0)
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
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
            "python": platform.python_version(),
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
                done = f"failed: {m['error']}" if m["error"] else f"{m['msPerStep']:.2f} ms/step, {m['imagesPerSecond']:.0f} images/s over {m['steps']} steps{' (capped)' if m['capped'] else ''}"
                print(f"torch {variant}: {model_name} {kind}: {done}", file=sys.stderr, flush=True)
                report["measurements"].append(m)
    report["complete"] = all(m["error"] is None for m in report["measurements"])
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0 if report["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
