#!/usr/bin/env bash
# Every figure of models/MODELS.md for one checkpoint: bash models/evaluate.sh MODEL [OUT]
# Needs ../shared/data beside the checkout (the real clips); writes OUT/*.json and logs.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: models/evaluate.sh MODEL [OUT]}
out=${2:-eval_out/$(basename "$model" .pt)}
data=../shared/data
py=.venv/bin/deblur-ros
mkdir -p "$out"
[ -d "$data" ] || { echo "no $data: the real clips are not here" >&2; exit 2; }
[ -d eval_out/x4k_t11 ] || $py pairs $data/real_highfps/x4k1000 eval_out/x4k_t11 --tau 11
[ -d eval_out/x4k_t25 ] || $py pairs $data/real_highfps/x4k1000 eval_out/x4k_t25 --tau 25 \
    --stride 4 --overlap-ok
run() { name=$1; shift; echo "== $name"; $py eval --model "$model" --device cpu \
    --json "$out/$name.json" "$@" 2>&1 | grep -v "^wrote" | tee "$out/$name.txt"; }
run validation --validation --per-sequence --strips 0
run x4k_t11 --dataset eval_out/x4k_t11 --per-sequence --strips 0
run x4k_t25 --dataset eval_out/x4k_t25 --per-sequence --strips 0
run gopro --dataset $data/gopro_examples --per-sequence --strips 0
run street_night --blur $data/real_blur/street_night --report "$out/street_night_report" --strips 3
run blurcar2 --blur $data/real_blur/blurcar2 --max-frames 60 --report "$out/blurcar2_report" \
    --strips 3
