#!/usr/bin/env bash
# The scaling section of the quality benchmark: pabsr1 and dvres against
# ffmpeg's scalers. Called by run.sh; runs alone too:
#
#   bash bench/quality/run_sr.sh [BUILD_DIR] [--full]
#
# Same ground truth, split and metrics as run.sh (held-out photos only; the
# training photos are read by train_sr.sh alone):
#  * sr2, sr4: 1280×720 ground truth, ffmpeg AREA downscale by 2 (640×360)
#    and by 4 (320×180), back to 1280×720 with ffmpeg's `scale` bicubic and
#    lanczos, and with pabsr1 (clarityBoost none).
#  * sr2-bicubic (a report beside the targets): the same with the ÷2 made by
#    ffmpeg's bicubic instead of AREA.
#  * dv-mpeg2, dv-h264: the 640×360 AREA downscale encoded at a low bitrate
#    (MPEG-2 600 kb/s; H.264 x264 veryfast 150 kb/s), decoded, then back to
#    1280×720 with lanczos, hqdn3d (default and 8:6:12:9) + lanczos, pabsr1,
#    dvres and dvres-single (dvres without its temporal stage).
#  * speed: 1280×720 → 2560×1440 (pabsr1 2×) and the stock lanczos, on the
#    first held-out photo's ground truth.
# Default: 2 held-out photos, 4 pictures per clip (12 for the coded clips), ~4 min;
# --full: all 7, 8 (24), ~8 min.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
build=${1:-build}
full=0
for arg in "$@"; do [[ "$arg" == "--full" ]] && full=1; done
here=$(cd "$(dirname "$0")" && pwd)
quality_tool "$build"
eval "$(grep -m1 '^test=' "$here/run.sh")"   # the held-out photos, from the one split
frames=4 coded=12
if (( full )); then frames=8 coded=24; else test=("${test[@]:0:2}"); fi

work=$(mktemp -d /tmp/vidmill-quality-sr.XXXXXX)
trap 'rm -rf "$work"' EXIT


# stock IN W H OW OH GRAPH OUT: ffmpeg's graph on rawvideo, prints its fps
# (frames / -benchmark rtime, 2 filter threads) and CPU ms per frame (utime).
stock() {
  local log
  log=$(nice -n 10 ffmpeg -nostdin -benchmark -hide_banner -nostats -loglevel info -y -f rawvideo \
    -pix_fmt yuv420p -s "$2x$3" -r 25 -i "$1" -filter_threads 2 -vf "$6" -f rawvideo "$7" 2>&1)
  local n=$(( $(stat -c %s "$7") / ($4 * $5 * 3 / 2) ))
  awk -v n="$n" -v r="$(sed -n 's/.*rtime=\([0-9.]*\)s.*/\1/p' <<<"$log")" \
    -v u="$(sed -n 's/.*utime=\([0-9.]*\)s.*/\1/p' <<<"$log")" \
    'BEGIN { printf "fps %.1f cpu_ms_per_frame %.2f\n", n / r, 1000 * u / n }'
}
ours() {  # ours FILTER IN W H OW OH OUT
  nice -n 10 "$tool" scale "$1" "$2" "$3" "$4" "$5" "$6" "$7"
}

declare -A psnr ssim count speed
add() {  # add KEY "frames N psnr P ssim S" "fps F cpu_ms_per_frame C"
  psnr[$1]=$(awk -v a="${psnr[$1]:-0}" -v b="$(awk '{print $4}' <<<"$2")" 'BEGIN{print a+b}')
  ssim[$1]=$(awk -v a="${ssim[$1]:-0}" -v b="$(awk '{print $6}' <<<"$2")" 'BEGIN{print a+b}')
  count[$1]=$(( ${count[$1]:-0} + 1 ))
  [[ -n "$3" ]] && speed[$1]="${speed[$1]:-}${speed[$1]:+; }$(awk '{printf "%s fps, %s ms", $2, $4}' <<<"$3")"
  printf '  %-22s %s %s\n' "$1" "$2" "$3" >&2
}

W=1280 H=720
# upscale_case CASE W H: $work/low.yuv (W × H) back to ${W}x$H by ffmpeg's
# bicubic and lanczos and by pabsr1, each measured against $work/gt.yuv.
upscale_case() {
  local t flags
  for flags in bicubic lanczos; do
    t=$(stock "$work/low.yuv" "$2" "$3" $W $H "scale=$W:$H:flags=$flags" "$work/out.yuv")
    add "$flags@$1" "$("$tool" metrics "$work/gt.yuv" "$work/out.yuv" $W $H)" "$t"
  done
  t=$(ours pabsr1 "$work/low.yuv" "$2" "$3" $W $H "$work/out.yuv")
  add "pabsr1@$1" "$("$tool" metrics "$work/gt.yuv" "$work/out.yuv" $W $H)" "$t"
}
seed=11
for name in "${test[@]}"; do
  photo_source "$name" "$work/src"
  "$tool" render "$work/src" 1920 1080 "$work/gt.yuv" $W $H $frames $seed
  for s in 2 4; do
    w=$((W / s)) h=$((H / s))
    echo "sr${s}: $name ${w}x$h → ${W}x$H, $frames pictures" >&2
    area_down "$work/gt.yuv" ${W}x$H $w $h "$work/low.yuv"
    upscale_case "sr$s" $w $h
  done
  # Beside the targets (which are on AREA downscales): the ÷2 made by
  # ffmpeg's bicubic instead, sharper and with some aliasing.
  w=$((W / 2)) h=$((H / 2))
  echo "sr2-bicubic: $name ${w}x$h → ${W}x$H, $frames pictures" >&2
  raw $(yuv_in ${W}x$H "$work/gt.yuv") -vf "scale=$w:$h:flags=bicubic" -f rawvideo "$work/low.yuv"
  upscale_case sr2-bicubic $w $h

  # Compressed low resolution: dvres against denoise + scale.
  "$tool" render "$work/src" 1920 1080 "$work/gt.yuv" $W $H $coded $((seed + 50))
  w=$((W / 2)) h=$((H / 2))
  area_down "$work/gt.yuv" ${W}x$H $w $h "$work/low.yuv"
  for codec in mpeg2 h264; do
    code_clip "$codec" "$work/low.yuv" "$w" "$h" "$work/decoded.yuv"
    echo "dv-$codec: $name ${w}x$h coded → ${W}x$H, $coded pictures" >&2
    for graph in "scale=$W:$H:flags=lanczos" "hqdn3d,scale=$W:$H:flags=lanczos" \
                 "hqdn3d=8:6:12:9,scale=$W:$H:flags=lanczos"; do
      t=$(stock "$work/decoded.yuv" $w $h $W $H "$graph" "$work/out.yuv")
      label=${graph%%,scale*}
      [[ $label == scale* ]] && label=lanczos || label="$label+lanczos"
      add "$label@dv-$codec" "$("$tool" metrics "$work/gt.yuv" "$work/out.yuv" $W $H)" "$t"
    done
    for filter in pabsr1 dvres; do
      t=$(ours $filter "$work/decoded.yuv" $w $h $W $H "$work/out.yuv")
      add "$filter@dv-$codec" "$("$tool" metrics "$work/gt.yuv" "$work/out.yuv" $W $H)" "$t"
    done
    # dvres without its temporal stage (the single-picture filter).
    t=$(nice -n 10 "$tool" chain "$work/decoded.yuv" $w $h $W $H "$work/out.yuv" dvres:temporal=0)
    add "dvres-single@dv-$codec" "$("$tool" metrics "$work/gt.yuv" "$work/out.yuv" $W $H)" "$t"
  done
  seed=$((seed + 1))
done

# Speed at 720p → 1440p.
photo_source "${test[0]}" "$work/src"
"$tool" render "$work/src" 1920 1080 "$work/gt.yuv" $W $H 10 99
echo "speed: ${W}x$H → $((2 * W))x$((2 * H)), 10 pictures" >&2
speed_stock=$(stock "$work/gt.yuv" $W $H $((2 * W)) $((2 * H)) "scale=$((2 * W)):$((2 * H)):flags=lanczos" "$work/out.yuv")
speed_ours=$(ours pabsr1 "$work/gt.yuv" $W $H $((2 * W)) $((2 * H)) "$work/out.yuv")
speed_dvres=$(ours dvres "$work/gt.yuv" $W $H $((2 * W)) $((2 * H)) "$work/out.yuv")

echo
echo "Scaling — held-out photos: ${test[*]}; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| %-28s | %8s | %7s | %-40s |\n' "method@case" "Y-PSNR" "SSIM" "fps (wall), CPU ms/frame, per clip"
printf '|%s|%s|%s|%s|\n' "------------------------------" "----------" "---------" "------------------------------------------"
for key in $(printf '%s\n' "${!count[@]}" | sort -t@ -k2,2 -k1,1); do
  awk -v m="$key" -v p="${psnr[$key]}" -v s="${ssim[$key]}" -v c="${count[$key]}" -v f="${speed[$key]:--}" \
    'BEGIN { printf "| %-28s | %8.3f | %7.4f | %-40s |\n", m, p / c, s / c, f }'
done
echo
echo "720p → 1440p: lanczos (ffmpeg) $speed_stock; pabsr1 $speed_ours; dvres $speed_dvres"

# Rows of run.sh's "against the targets" table (when run.sh called this).
if [[ -n "${QUALITY_SUMMARY:-}" ]]; then
  mean() { awk -v p="${psnr[$1]:-0}" -v c="${count[$1]:-0}" 'BEGIN { if (c) printf "%.3f", p / c }'; }
  # margin WHAT OURS GOAL REFERENCE...: Y-PSNR margin over the best reference.
  margin() {
    local what=$1 ours=$2 goal=$3 key best="" best_db=-1 db; shift 3
    for key in "$@"; do
      db=$(mean "$key"); [[ -z "$db" ]] && continue
      if awk -v a="$db" -v b="$best_db" 'BEGIN { exit !(a > b) }'; then best=$key best_db=$db; fi
    done
    awk -v w="$what" -v o="$(mean "$ours")" -v r="$best_db" -v n="${best%@*}" -v g="$goal" 'BEGIN {
      printf "%s|%.2f dB|%.2f dB (%s)|≥ +%.1f dB|%s (%+.2f dB)\n", w, o, r, n, g, (o - r >= g ? "met" : "missed"), o - r }' \
      >>"$QUALITY_SUMMARY"
  }
  margin "pabsr1 vs lanczos, AREA ÷2 → ×2" pabsr1@sr2 1.0 lanczos@sr2 bicubic@sr2
  margin "pabsr1 vs lanczos, AREA ÷4 → ×4" pabsr1@sr4 0.7 lanczos@sr4 bicubic@sr4
  for codec in mpeg2 h264; do
    margin "dvres vs hqdn3d + lanczos, ÷2 $codec → ×2" dvres@dv-$codec 1.0 hqdn3d+lanczos@dv-$codec \
      hqdn3d=8:6:12:9+lanczos@dv-$codec
  done
  awk -v s="$speed_ours" -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
    split(s, a, " "); printf "pabsr1 speed 720p → 1440p|%.1f fps (%s CPU-ms per frame)|load %s|≥ 10 fps|%s\n",
      a[2], a[4], l, (a[2] >= 10 ? "met" : "missed") }' >>"$QUALITY_SUMMARY"
fi
