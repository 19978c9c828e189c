#!/usr/bin/env bash
# Experiments for dvres on the TRAINING photos only (the split is in
# bench/quality/run.sh): the coded cases of run_sr.sh (640×360 AREA
# downscale, MPEG-2 600 kb/s and x264 veryfast 150 kb/s, decoded, → 1280×720)
# for any chains of Vidmill's filters, next to ffmpeg's lanczos and
# hqdn3d + lanczos. For choosing things without looking at held-out photos.
#
#   bash bench/quality/sr_train_split.sh BUILD_DIR CHAIN...
#
# CHAIN: quality_bench chain steps joined by '+', e.g. dvres,
# denoise+dvres, "denoise:strength=1.5+pabsr1". Clips: 24 pictures per photo,
# seeds 701… (the training script's clips use 101…, 201…, 301…).
# SR_SPLIT_PHOTOS="Autumn Grey" limits the photos.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
build=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
tool="$build/bench/quality/quality_bench"
eval "$(grep -m1 '^train=' "$here/run.sh")"
[[ -n "${SR_SPLIT_PHOTOS:-}" ]] && read -r -a train <<<"$SR_SPLIT_PHOTOS"
work=$(mktemp -d /tmp/vidmill-srsplit.XXXXXX)
trap 'rm -rf "$work"' EXIT
W=1280 H=720 w=640 h=360 coded=24
declare -A psnr count
add() {
  psnr[$1]=$(awk -v a="${psnr[$1]:-0}" -v b="$(awk '{print $4}' <<<"$2")" 'BEGIN{print a+b}')
  count[$1]=$(( ${count[$1]:-0} + 1 ))
  printf '  %-40s %s %s\n' "$1" "$2" "${3:-}" >&2
}
seed=701
for name in "${train[@]}"; do
  photo_source "$name" "$work/src"
  "$tool" render "$work/src" 1920 1080 "$work/gt.yuv" $W $H $coded $seed
  area_down "$work/gt.yuv" ${W}x$H $w $h "$work/low.yuv"
  for codec in mpeg2 h264; do
    code_clip "$codec" "$work/low.yuv" "$w" "$h" "$work/decoded.yuv"
    echo "$codec: $name" >&2
    for graph in "scale=$W:$H:flags=lanczos" "hqdn3d,scale=$W:$H:flags=lanczos"; do
      raw -f rawvideo -pix_fmt yuv420p -s ${w}x$h -i "$work/decoded.yuv" -vf "$graph" -f rawvideo "$work/out.yuv"
      label=$([[ $graph == hqdn3d* ]] && echo hqdn3d+lanczos || echo lanczos)
      add "$label@$codec" "$("$tool" metrics "$work/gt.yuv" "$work/out.yuv" $W $H)"
    done
    for chain in "$@"; do
      steps=()
      IFS=+ read -r -a steps <<<"$chain"
      if [[ ${steps[-1]} == lanczos ]]; then   # Vidmill steps, then ffmpeg's lanczos
        unset 'steps[-1]'
        "$tool" chain "$work/decoded.yuv" $w $h $w $h "$work/mid.yuv" "${steps[@]}" >/dev/null
        raw -f rawvideo -pix_fmt yuv420p -s ${w}x$h -i "$work/mid.yuv" -vf "scale=$W:$H:flags=lanczos" \
          -f rawvideo "$work/out.yuv"
        t=""
      else
        t=$(nice -n 10 "$tool" chain "$work/decoded.yuv" $w $h $W $H "$work/out.yuv" "${steps[@]}")
      fi
      add "$chain@$codec" "$("$tool" metrics "$work/gt.yuv" "$work/out.yuv" $W $H)" "$t"
    done
  done
  seed=$((seed + 1))
done
echo
echo "Training photos: ${train[*]}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for codec in mpeg2 h264; do
  base=$(awk -v p="${psnr[hqdn3d+lanczos@$codec]}" -v c="${count[hqdn3d+lanczos@$codec]}" 'BEGIN{print p/c}')
  for key in "lanczos@$codec" "hqdn3d+lanczos@$codec" $(for c in "$@"; do echo "$c@$codec"; done); do
    awk -v m="$key" -v p="${psnr[$key]}" -v c="${count[$key]}" -v b="$base" \
      'BEGIN { printf "| %-40s | %8.3f | %+6.2f |\n", m, p / c, p / c - b }'
  done
done
