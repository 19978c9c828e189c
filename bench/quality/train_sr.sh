#!/usr/bin/env bash
# Trains pabsr1's and dvres's filters on the TRAINING photos (the split is in
# bench/quality/run.sh; the held-out photos are never read here) and writes
# src/filters/sr_weights.cc.
#
#   bash bench/quality/train_sr.sh [BUILD_DIR]      # ~7 minutes on 2 loaded cores
#
# Data: the benchmark's own ground truth (quality_bench render: a camera
# moving over the photo, 1280×720), seeded, so the run is reproducible:
#  * pabsr1: 4 pictures per photo (2 clips, seeds 101… and 201…, frames 0
#    and 5); low resolution = ffmpeg's AREA downscale by 2 and by 4, the
#    benchmark's degradation.
#  * dvres: 12-picture clips (seed 301…) AREA-downscaled by 2 to 640×360,
#    then encoded at low bitrates — MPEG-2 at 400 and 800 kb/s, H.264 (x264
#    veryfast) at 100 and 250 kb/s — and decoded; every 3rd picture is used.
#    2× model: decoded 640×360 → clean 1280×720; 1× model: decoded → clean
#    640×360 (restoration at the same size).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
quality_tool "$build"
trainer="$build/bench/quality/sr_train"
[[ -x "$trainer" ]] || { echo "build sr_train first ($trainer missing)" >&2; exit 1; }
eval "$(grep -m1 '^train=' "$here/run.sh")"   # the training photos, from the one split
# quality_bench chain steps run on dvres's decoded clips before pictures are
# picked. Empty: the filters are trained on the decoded pictures themselves.
# (Training on the output of dvres's temporal stage, denoise:strength=1.5,
# was tried and not adopted: −0.03 dB on the training photos' benchmark, see
# docs/filters.md.)
dvres_pre=()
# Experiments (choices on a split of the training photos): SR_TRAIN_PHOTOS
# limits the photos, SR_DVRES_PRE replaces dvres_pre ("none": no stage),
# SR_TRAIN_PREP_ONLY=1 stops after preparing the data, SR_TRAIN_DVRES_ONLY=1
# trains dvres alone and writes no weights file.
[[ -n "${SR_TRAIN_PHOTOS:-}" ]] && read -r -a train <<<"$SR_TRAIN_PHOTOS"
if [[ -n "${SR_DVRES_PRE:-}" ]]; then
  dvres_pre=()
  [[ $SR_DVRES_PRE != none ]] && read -r -a dvres_pre <<<"$SR_DVRES_PRE"
fi
dvres_only=${SR_TRAIN_DVRES_ONLY:-0}

# SR_TRAIN_WORK=DIR keeps the prepared data there (for experiments).
training_work_dir "${SR_TRAIN_WORK:-}" srtrain

W=1280 H=720
: >"$work/sr2.list"; : >"$work/sr4.list"; : >"$work/dv2.list"; : >"$work/dv1.list"
index=0
for photo in "${train[@]}"; do
  name=$(file_name "$photo")
  photo_source "$photo" "$work/$name.src"
  # pabsr1: two short clips, pictures 0 and 5 of each.
  for clip in 1 2; do
    (( dvres_only || ${SR_TRAIN_PREP_ONLY:-0} )) && break
    gt="$work/$name.$clip.gt.yuv"
    "$tool" render "$work/$name.src" 1920 1080 "$gt.all" $W $H 6 $((clip * 100 + 1 + index))
    raw $(yuv_in ${W}x$H "$gt.all") -vf "select='not(mod(n\,5))'" -fps_mode passthrough -f rawvideo "$gt"
    rm "$gt.all"
    area_down "$gt" ${W}x$H $((W / 2)) $((H / 2)) "$gt.2"
    area_down "$gt" ${W}x$H $((W / 4)) $((H / 4)) "$gt.4"
    echo "$gt.2 $gt $W $H" >>"$work/sr2.list"
    echo "$gt.4 $gt $W $H" >>"$work/sr4.list"
  done
  # dvres: a 12-picture clip, compressed at four settings.
  clip="$work/$name.dv.yuv"
  "$tool" render "$work/$name.src" 1920 1080 "$clip" $W $H 12 $((301 + index))
  area_down "$clip" ${W}x$H $((W / 2)) $((H / 2)) "$clip.low"
  raw $(yuv_in ${W}x$H "$clip") -vf "select='not(mod(n\,3))'" -fps_mode passthrough -f rawvideo "$clip.gt"
  raw $(yuv_in $((W / 2))x$((H / 2)) "$clip.low") -vf "select='not(mod(n\,3))'" -fps_mode passthrough \
    -f rawvideo "$clip.lowgt"
  for codec in "mpeg2video -b:v 400k" "mpeg2video -b:v 800k" \
               "libx264 -preset veryfast -b:v 100k" "libx264 -preset veryfast -b:v 250k"; do
    tag=$(tr -c 'a-z0-9' _ <<<"$codec")
    ext=$([[ $codec == mpeg2* ]] && echo m2v || echo mkv)
    raw $(yuv_in $((W / 2))x$((H / 2)) "$clip.low") -c:v $codec "$work/enc.$ext"
    raw -i "$work/enc.$ext" -pix_fmt yuv420p -f rawvideo "$work/dec.yuv"
    if (( ${#dvres_pre[@]} )); then
      "$tool" chain "$work/dec.yuv" $((W / 2)) $((H / 2)) $((W / 2)) $((H / 2)) "$work/pre.yuv" \
        "${dvres_pre[@]}" >/dev/null
      mv "$work/pre.yuv" "$work/dec.yuv"
    fi
    raw $(yuv_in $((W / 2))x$((H / 2)) "$work/dec.yuv") -vf "select='not(mod(n\,3))'" -fps_mode passthrough \
      -f rawvideo "$clip.$tag"
    echo "$clip.$tag $clip.gt $W $H" >>"$work/dv2.list"
    echo "$clip.$tag $clip.lowgt $((W / 2)) $((H / 2))" >>"$work/dv1.list"
  done
  rm "$work/$name.src" "$clip" "$clip.low"
  index=$((index + 1))
done

# Hash: 24 angles × 3 strengths × 3 coherences (RAISR's); dvres adds a 4th
# strength bin (coding artefacts are mostly weak gradients).
[[ ${SR_TRAIN_PREP_ONLY:-0} == 1 ]] && exit 0
if (( dvres_only )); then
  "$trainer" train dvres 2 24 4 3 "$work/dvres_2.model" "$work/dv2.list" 4
  "$trainer" train dvres 1 24 4 3 "$work/dvres_1.model" "$work/dv1.list" 4
  exit 0
fi
"$trainer" train pabsr1 2 24 3 3 "$work/pabsr1_2.model" "$work/sr2.list"
"$trainer" train pabsr1 4 24 3 3 "$work/pabsr1_4.model" "$work/sr4.list"
"$trainer" train dvres 2 24 4 3 "$work/dvres_2.model" "$work/dv2.list" 4
"$trainer" train dvres 1 24 4 3 "$work/dvres_1.model" "$work/dv1.list" 4
for model in pabsr1_2 pabsr1_4; do "$trainer" eval "$work/$model.model" "$work/sr${model#pabsr1_}.list"; done
"$trainer" eval "$work/dvres_2.model" "$work/dv2.list"
"$trainer" emit "$repo/src/filters/sr_weights.cc" "$work"/{pabsr1_2,pabsr1_4,dvres_1,dvres_2}.model
echo "wrote $repo/src/filters/sr_weights.cc" >&2
