#!/usr/bin/env bash
# Trains the refinement networks of pabsr1 2× on the TRAINING photos —
# run.sh's train and train_more; the held-out photos are never read here —
# and writes src/filters/refine_weights.cc.
#
#   bash bench/quality/train_cnn.sh [BUILD_DIR]    # ~45 minutes on 2 cores
#
# Two networks are trained, 24 channels wide (used where the CPU has AMX) and
# 16 (elsewhere; src/filters/refine_net.h). Each sees the low-resolution
# picture and the learned filters' (RAISR) output, and predicts a correction
# of that output (docs/filters.md, "The refinement network"). Data, all
# seeded: per photo 3 clips of 8 pictures (1280×720 camera moves,
# quality_bench render, seeds 1001…), every 2nd picture; low resolution =
# ffmpeg AREA ÷2, the benchmark's degradation; base = pabsr1 without its
# network (property refine=0). PyTorch on the CPU (python3-torch, installed
# here if missing), seed 1.
# Environment: CNN_TRAIN_PHOTOS limits the photos (validation experiments),
# CNN_TRAIN_WORK=DIR keeps the prepared data, CNN_PREP_ONLY=1 stops after it,
# CNN_ARGS passes options to train_cnn.py.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
quality_tool "$build"
/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch python3-numpy >/dev/null
eval "$(grep -m1 '^train=' "$here/run.sh")"   # the training photos, from the one split
eval "$(sed -n '/^train_more=(/,/)$/p' "$here/run.sh")"
train+=("${train_more[@]}")
for photo in "${train_more[@]}"; do
  [[ -f "$(pick "$photo")" ]] || { echo "missing $(pick "$photo"): scripts/install-deps.sh --bench" >&2; exit 1; }
done
[[ -n "${CNN_TRAIN_PHOTOS:-}" ]] && read -r -a train <<<"$CNN_TRAIN_PHOTOS"

training_work_dir "${CNN_TRAIN_WORK:-}" cnntrain
every() {  # every N IN SIZE OUT: pictures 0, N, 2N… of a rawvideo clip
  raw $(yuv_in "$3" "$2") -vf "select='not(mod(n\,$1))'" -fps_mode passthrough -f rawvideo "$4"
}

W=1280 H=720 w=640 h=360
if [[ ! -s "$work/sr2.list" ]]; then
  : >"$work/sr2.list"
  index=0
  for photo in "${train[@]}"; do
    name=${photo%.jpg}
    name=${name//\//_}
    echo "prepare: $name" >&2
    photo_source "$photo" "$work/src"
    for clip in 1 2 3; do
      p="$work/$name.sr$clip"
      "$tool" render "$work/src" 1920 1080 "$p.all" $W $H 8 $((1000 + 10 * index + clip))
      every 2 "$p.all" ${W}x$H "$p.gt"
      area_down "$p.gt" ${W}x$H $w $h "$p.low"
      "$tool" chain "$p.low" $w $h $W $H "$p.base" pabsr1:refine=0 >/dev/null
      rm "$p.all"
      echo "$p.low $p.base $p.gt $W $H" >>"$work/sr2.list"
    done
    rm "$work/src"
    index=$((index + 1))
  done
fi
[[ ${CNN_PREP_ONLY:-0} == 1 ]] && exit 0

read -r -a extra <<<"${CNN_ARGS:-}"
# Two widths: 24 channels (where the CPU has AMX) and 16 (elsewhere), the
# narrow one trained twice as long (24000 steps: +0.04 dB on the validation
# split Autumn + OneStandsOut over 12000, docs/filters.md).
/usr/bin/python3 "$here/train_cnn.py" --list "$work/sr2.list" --out "$work/pabsr1_2.net" --seed 1 "${extra[@]}"
/usr/bin/python3 "$here/train_cnn.py" --list "$work/sr2.list" --out "$work/pabsr1_2_c16.net" --seed 1 \
  --steps 24000 "${extra[@]}" --channels 16
/usr/bin/python3 "$here/train_cnn.py" --emit "$repo/src/filters/refine_weights.cc" "$work/pabsr1_2.net" \
  "$work/pabsr1_2_c16.net"
echo "wrote $repo/src/filters/refine_weights.cc" >&2
