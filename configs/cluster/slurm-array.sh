#!/usr/bin/env bash
# A temper sweep as a Slurm job array: each array task runs one deterministic shard of the grid
# (temper reads SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT and SLURM_ARRAY_TASK_MIN), writing
# into a folder of its own; a dependent job merges the shards once all of them succeeded.
#
#   mkdir -p logs && sbatch configs/cluster/slurm-array.sh configs/quickstart.json
#
# Resubmitting the same array after a node failure reruns only what did not finish.
#SBATCH --job-name=temper
#SBATCH --array=0-3
#SBATCH --cpus-per-task=2
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --output=logs/%x-%A_%a.out
set -euo pipefail
config=${1:?usage: sbatch slurm-array.sh CONFIG}
name=$(basename "$config" | sed 's/\.[^.]*$//')
out=results/$name
cd "${SLURM_SUBMIT_DIR:-.}"

npx temper run "$config" --out "$out/shard-$SLURM_ARRAY_TASK_ID" --quiet

# The last task to start submits the merge, to run after every task of the array succeeded.
if [ "$SLURM_ARRAY_TASK_ID" = "${SLURM_ARRAY_TASK_MAX:-$SLURM_ARRAY_TASK_ID}" ] && command -v sbatch >/dev/null; then
  sbatch --dependency="afterok:$SLURM_ARRAY_JOB_ID" --job-name=temper-merge --output="logs/%x-%j.out" \
    --wrap "npx temper merge $out/shard-* --out $out/merged"
fi
