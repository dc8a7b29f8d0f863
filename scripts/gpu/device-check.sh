#!/usr/bin/env bash
# The one command a GPU session runs: temper's webgpu train and PGD steps against PyTorch fp32 eager on the same card
# (PERF.md's targets: cnn-small at batch 512, vgg6-bn at batch 128), then a one-page summary of the ratios.
# Runs from the root of a copy of the working tree with .gpu/ beside it (made here by `npm run gpu:bundle`); needs
# no Node.js, npm or network there. Every step has a timeout and the whole script a deadline, so it never hangs.
#
#   bash scripts/gpu/device-check.sh             on the GPU machine (the device tool sets OUT)
#   QUICK=1 bash scripts/gpu/device-check.sh     small batches and few steps, a software adapter allowed: a check of
#                                                the plumbing on any machine (here: lavapipe and torch on the CPU)
# Environment (all optional):
#   OUT                    where the results go (default ./gpu-out); the device tool returns at most 8 files, so
#                          this writes 7: device-check.log (everything printed), doctor.txt, torch.json,
#                          webgpu-cnn-small.json, webgpu-vgg6-bn.json (`temper bench --json --profile`: each step's
#                          kernels too), summary.txt, summary.json
#   QUICK=1                see above
#   DEADLINE               seconds the whole script may take (default 420, QUICK 300); each step's timeout is cut
#                          to what is left, less 30 s kept for the summary
#   TEMPER_GPU_DIR         the folder prepare.sh made (default .gpu)
#   TEMPER_GPU_ALLOW_SOFTWARE=1   measure webgpu even when its adapter is a software one (lavapipe, SwiftShader)
#   TEMPER_GPU_LIBS        passed to run.sh (auto by default); unset and on a software adapter or none, the script
#                          retries `doctor` once with TEMPER_GPU_LIBS=root (the loaders unpacked into /, as PERF.md did)
#   TEMPER_PYTHON          the Python with torch (default python3); the PyTorch reference is skipped without torch
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${OUT:-./gpu-out}
mkdir -p "$out" && out=$(cd "$out" && pwd)
cd "$root" || exit 2
gpu=${TEMPER_GPU_DIR:-.gpu}
# run.sh goes through bash everywhere below: a carried copy may have lost its executable bit.
python=${TEMPER_PYTHON:-python3}
quick=${QUICK:-0}
deadline=${DEADLINE:-$([ "$quick" = 1 ] && echo 300 || echo 420)}
allow_software=${TEMPER_GPU_ALLOW_SOFTWARE:-$quick}

if [ "$quick" = 1 ]; then
  batch_cnn=8 batch_vgg=2
  webgpu_flags=(--warmup 1 --min-steps 2 --min-seconds 0 --max-seconds 5)
  torch_flags=(--warmup 1 --min-steps 3 --min-seconds 0 --max-seconds 5 --threads 1)
else
  batch_cnn=512 batch_vgg=128
  # 3 warm-up steps (shader compilation, Adam's slots), then >= 20 timed steps and >= 2 s, at most 20 s per
  # measurement: vgg6-bn's 762 ms steps of PERF.md would give 20 in 15 s.
  webgpu_flags=(--warmup 3 --min-steps 20 --min-seconds 2 --max-seconds 20)
  torch_flags=(--warmup 10 --min-steps 30 --min-seconds 1 --max-seconds 20)
fi

status=0
say() { printf '\n== [%3ds] %s\n' "$SECONDS" "$*"; }
# Runs a step under `timeout`, cut to the time left before the deadline (less 30 s for the summary); skips it when
# under 15 s are left. Usage: step SECONDS COMMAND...
step() {
  local limit=$1; shift
  local left=$((deadline - SECONDS - 30))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 15 ]; then echo "skipped: only $left s left before the ${deadline} s deadline"; status=1; return 124; fi
  timeout -k 5 "$limit" "$@"
  local rc=$?
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && echo "stopped by its ${limit} s timeout"
  [ "$rc" = 0 ] || { echo "exit status $rc"; status=1; }
  return "$rc"
}
# "hardware", "software" or "none": the first adapter doctor.txt lists is the one webgpu uses.
adapter_kind() {
  local first
  first=$(sed -n '/^GPU adapters (/{n;p;q}' "$out/doctor.txt" 2>/dev/null)
  if [ -z "$first" ]; then echo none; elif grep -q 'software adapter' <<<"$first"; then echo software; else echo hardware; fi
}

main() {
  say "temper device check ($([ "$quick" = 1 ] && echo QUICK || echo full)), deadline ${deadline} s, results in $out"
  date -u +%Y-%m-%dT%H:%M:%SZ
  uname -a
  if [ ! -f "$gpu/run.sh" ]; then
    echo "no $gpu/run.sh: on the development machine run \`npm run gpu:bundle\`, then carry .gpu with the device tool"
    return 2
  fi
  head -6 "$gpu/MANIFEST"
  timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.max.sm --format=csv 2>&1 || echo "(no nvidia-smi answer)"
  echo "Vulkan ICD files:"; ls /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null || true
  echo "ldconfig: $(ldconfig -p 2>/dev/null | grep -o -E 'lib(vulkan|GLX_nvidia|GLdispatch|nvidia-glvkspirv)\.so[.0-9]*' | sort -u | tr '\n' ' ')"

  say "set-up (.gpu/run.sh: unpacks Node.js and dawn.node, finds the Vulkan loader)"
  step 60 bash "$gpu/run.sh" --setup

  say "temper doctor"
  step 60 bash "$gpu/run.sh" doctor > "$out/doctor.txt"
  cat "$out/doctor.txt"
  local kind; kind=$(adapter_kind)
  echo "first webgpu adapter: $kind"
  if [ "$kind" != hardware ] && [ -z "${TEMPER_GPU_LIBS:-}" ] && [ "$(id -u)" = 0 ] && [ "$quick" != 1 ]; then
    say "no hardware adapter with the loaders on LD_LIBRARY_PATH: again with TEMPER_GPU_LIBS=root (unpacked into /)"
    export TEMPER_GPU_LIBS=root
    step 60 bash "$gpu/run.sh" doctor > "$out/doctor.txt"
    cat "$out/doctor.txt"
    kind=$(adapter_kind)
    echo "first webgpu adapter: $kind"
  fi

  say "PyTorch fp32 eager reference (scripts/gpu/torch_reference.py)"
  # One import answers both questions (a cold `import torch` with CUDA can take tens of seconds).
  local device
  device=$(timeout 90 "$python" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")' 2>/dev/null)
  if [ -z "$device" ]; then
    echo "$python has no torch (or its import took over 90 s): no PyTorch reference"
  elif [ "$device" = cpu ] && [ "$quick" != 1 ]; then
    echo "CUDA is not available to $python's torch: the reference would measure the CPU, skipped"
    status=1
  else
    PYTHONUNBUFFERED=1 step 150 "$python" scripts/gpu/torch_reference.py --device "$device" \
      --batch "cnn-small=$batch_cnn" --batch "vgg6-bn=$batch_vgg" "${torch_flags[@]}" > "$out/torch.json"
  fi

  if [ "$kind" = hardware ] || { [ "$kind" = software ] && [ "$allow_software" = 1 ]; }; then
    for model in cnn-small vgg6-bn; do
      local batch=$batch_cnn; [ "$model" = vgg6-bn ] && batch=$batch_vgg
      say "temper bench --backend webgpu --model $model --batch $batch (train and pgd)"
      step 150 bash "$gpu/run.sh" bench --backend webgpu --json --model "$model" --what train pgd --batch "$batch" "${webgpu_flags[@]}" --profile \
        > "$out/webgpu-$model.json"
    done
  else
    say "temper bench: skipped, the first webgpu adapter is $kind (TEMPER_GPU_ALLOW_SOFTWARE=1 measures a software one)"
    status=1
  fi

  say "summary"
  timeout 20 bash "$gpu/run.sh" --node scripts/gpu/summary.mjs "$out" | tee "$out/summary.txt"
  say "done in ${SECONDS} s, $([ "$status" = 0 ] && echo 'every step ran' || echo 'some steps failed or were skipped (see above)')"
  return "$status"
}

main 2>&1 | tee "$out/device-check.log"
exit "${PIPESTATUS[0]}"
