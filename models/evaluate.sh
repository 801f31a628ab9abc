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
# Streaks twice as long (the hidden benchmark's large end): the same clips at 1280 px.
[ -d eval_out/x4k_t25_w1280 ] || $py pairs $data/real_highfps/x4k1000 eval_out/x4k_t25_w1280 \
    --tau 25 --width 1280
# The real-motion fine-tunes trained on TEST01/03/05/07/09: their unseen clips, and the
# three settings together for `train live --real-val eval_out/x4k_val_ho`.
for s in t11 t25 t25_w1280; do
    mkdir -p eval_out/x4k_${s}_ho eval_out/x4k_val_ho
    for c in TEST02 TEST04 TEST06 TEST08 TEST10; do
        ln -sfn "$PWD"/eval_out/x4k_$s/${c}_* eval_out/x4k_${s}_ho/
        ln -sfn "$PWD"/eval_out/x4k_$s/${c}_* eval_out/x4k_val_ho/${s#t25_}_$c
    done
done
# The GoPro pairs at the hidden benchmark's 640x360 (area-resized).
[ -d eval_out/gopro_360 ] || .venv/bin/python - <<'PY'
import pathlib, cv2
for f in pathlib.Path("../shared/data/gopro_examples").glob("*/*/*.png"):
    out = pathlib.Path("eval_out/gopro_360") / f.relative_to("../shared/data/gopro_examples")
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.resize(cv2.imread(str(f)), (640, 360), interpolation=cv2.INTER_AREA))
PY
run() { name=$1; shift; echo "== $name"; $py eval --model "$model" --device cpu \
    --json "$out/$name.json" "$@" 2>&1 | grep -v "^wrote" | tee "$out/$name.txt"; }
run validation --validation --per-sequence --strips 0
run x4k_t11 --dataset eval_out/x4k_t11 --per-sequence --strips 0
run x4k_t25 --dataset eval_out/x4k_t25 --per-sequence --strips 0
run x4k_t11_ho --dataset eval_out/x4k_t11_ho --per-sequence --strips 0
run x4k_t25_ho --dataset eval_out/x4k_t25_ho --per-sequence --strips 0
run x4k_t25_w1280_ho --dataset eval_out/x4k_t25_w1280_ho --per-sequence --strips 0
run gopro --dataset $data/gopro_examples --per-sequence --strips 0
run gopro_360 --dataset eval_out/gopro_360 --per-sequence --strips 0
run street_night --blur $data/real_blur/street_night --report "$out/street_night_report" --strips 3
run blurcar2 --blur $data/real_blur/blurcar2 --max-frames 60 --report "$out/blurcar2_report" \
    --strips 3
