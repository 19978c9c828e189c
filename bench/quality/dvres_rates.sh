#!/usr/bin/env bash
# dvres against hqdn3d + lanczos on H.264 at several bitrates: a report beside
# run_sr.sh, whose H.264 row (x264 veryfast at 150 kb/s) is the one the issue's
# target is judged on. Same held-out photos, clips (24 pictures, run_sr.sh
# --full's seeds) and 640×360 AREA downscale; only x264's rate changes.
#
#   bash bench/quality/dvres_rates.sh [BUILD_DIR] [RATE...]   # default 150k 300k 600k, ~4 min
#
# Prints Y-PSNR per photo and rate (hqdn3d + lanczos, lanczos alone, dvres),
# then per rate the mean and median of dvres's margin over hqdn3d + lanczos.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
build=${1:-build}
shift || true
rates=("$@")
(( ${#rates[@]} )) || rates=(150k 300k 600k)
here=$(cd "$(dirname "$0")" && pwd)
quality_tool "$build"
eval "$(grep -m1 '^test=' "$here/run.sh")"   # the held-out photos, from the one split
W=1280 H=720 w=640 h=360 coded=24 seed=11    # as run_sr.sh --full
work=$(mktemp -d /tmp/vidmill-quality-rates.XXXXXX)
trap 'rm -rf "$work"' EXIT
psnr() { "$tool" metrics "$work/gt.yuv" "$1" $W $H | awk '{print $4}'; }
up() { raw $(yuv_in ${w}x$h "$work/decoded.yuv") -vf "$1" -f rawvideo "$2"; }

printf '%-22s %6s %15s %8s %8s %7s\n' photo rate hqdn3d+lanczos lanczos dvres margin
for name in "${test[@]}"; do
  photo_source "$name" "$work/src"
  "$tool" render "$work/src" 1920 1080 "$work/gt.yuv" $W $H $coded $((seed + 50)) >/dev/null
  area_down "$work/gt.yuv" ${W}x$H $w $h "$work/low.yuv"
  for rate in "${rates[@]}"; do
    code_clip h264 "$work/low.yuv" $w $h "$work/decoded.yuv" "$work" "$rate"
    up "hqdn3d,scale=$W:$H:flags=lanczos" "$work/stock.yuv"
    up "scale=$W:$H:flags=lanczos" "$work/lanczos.yuv"
    nice -n 10 "$tool" scale dvres "$work/decoded.yuv" $w $h $W $H "$work/dvres.yuv" >/dev/null
    s=$(psnr "$work/stock.yuv") l=$(psnr "$work/lanczos.yuv") d=$(psnr "$work/dvres.yuv")
    printf '%-22s %6s %15s %8s %8s %+7.2f\n' "${name##*/}" "$rate" "$s" "$l" "$d" \
      "$(awk -v d="$d" -v s="$s" 'BEGIN{print d - s}')" | tee -a "$work/rows"
  done
  seed=$((seed + 1))
done
for rate in "${rates[@]}"; do
  awk -v r="$rate" '$2 == r {print $6}' "$work/rows" | sort -g |
    awk -v r="$rate" '{m[NR] = $1; s += $1} END {
      printf "H.264 %s: dvres over hqdn3d + lanczos, mean %+.2f dB, median %+.2f (%d photos)\n",
             r, s / NR, (NR % 2 ? m[(NR + 1) / 2] : (m[NR / 2] + m[NR / 2 + 1]) / 2), NR }'
done
