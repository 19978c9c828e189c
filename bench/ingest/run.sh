#!/usr/bin/env bash
# Ingestion cost: Vidmill's full and light ingestion of a 60 s 1080p25 H.264 +
# AAC clip (a camera pan over a photograph) against the equivalent ffmpeg /
# ffprobe command lines, in the same run on the same machine:
#   * light   vs  ffprobe -show_format -show_streams            (headers only),
#               also on the same clip remuxed to MPEG-TS (no index: packets counted)
#   * full    vs  ffprobe -count_packets (exact frame count)
#               + ffmpeg -vf idet -f null -     (interlace detection)
#               + ffmpeg 720p H.264/AAC preview, same x264 settings as Vidmill
#                 (preset veryfast, crf 23, High, AAC 128k, +faststart)
# Vidmill's full ingestion also does what the command lines do not (quality
# assessment, 5 JPEG thumbnails).
#
#   bash bench/ingest/run.sh [build-dir]     INGEST_RUNS=3 by default
# The clip is made once and kept in $INGEST_CACHE (default /tmp/vidmill-bench-ingest).
set -euo pipefail
build=${1:-build}
repo=$(cd "$(dirname "$0")/../.." && pwd)
[[ "$build" == /* ]] || build="$PWD/$build"
bench="$build/src/engine/ingest_bench"
if [[ ! -x "$bench" ]]; then
  echo "ingest: $bench is not built (cmake --build $build --target ingest_bench)" >&2
  exit 1
fi
runs=${INGEST_RUNS:-3}
cache=${INGEST_CACHE:-/tmp/vidmill-bench-ingest}
photo=/usr/share/wallpapers/Path/contents/images/1920x1080.jpg
mkdir -p "$cache"
clip="$cache/pan-1080p25-60s.mp4"
if [[ ! -s "$clip" ]]; then
  echo "making $clip (once)…" >&2
  ffmpeg -nostdin -y -loglevel error -framerate 25 -i "$photo" \
    -f lavfi -i "sine=frequency=440:duration=60" \
    -vf "scale=-2:3240,loop=loop=1499:size=1:start=0,setpts=N/(25*TB),crop=1920:1080:x='(iw-ow)/2*(1+sin(t*0.7))':y='(ih-oh)/2*(1+sin(t*0.5))',format=yuv420p" \
    -c:v libx264 -preset veryfast -crf 20 -c:a aac -b:a 128k -shortest "$clip.tmp.mp4"
  mv "$clip.tmp.mp4" "$clip"
fi
clip_ts="$cache/pan-1080p25-60s.ts"  # no frame index: light ingestion counts packets
if [[ ! -s "$clip_ts" ]]; then
  ffmpeg -nostdin -y -loglevel error -i "$clip" -c copy "$clip_ts.tmp.ts"
  mv "$clip_ts.tmp.ts" "$clip_ts"
fi
out=$(mktemp -d /tmp/vidmill-ingest-XXXXXX)
trap 'rm -rf "$out"' EXIT

# measure NAME CMD…: runs CMD (its output kept in $out/NAME.out) and appends "wall cpu" seconds
# (cpu = user + system of the command and its children) to the file $out/NAME.
measure() {
  local name=$1; shift
  local t
  t=$( { TIMEFORMAT='%R %U %S'; time "$@" >"$out/$name.out" 2>"$out/$name.err"; } 2>&1 ) || {
    cat "$out/$name.err" >&2; exit 1; }
  awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' <<<"$t" >>"$out/$name"
}
col() { awk -v c="$2" '{ print $c }' "$out/$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
minimum() { sort -g | head -1; }
sum_files() {  # per-run sums of column $1 over the files after it
  local c=$1; shift
  paste "${@/#/$out/}" | awk -v c="$c" -v n="$#" '{ s = 0; for (i = 0; i < n; i++) s += $(i * 2 + c); print s }'
}

echo "clip: $(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,width,height,avg_frame_rate,nb_frames -of csv=p=0 "$clip"), $(stat -c %s "$clip") bytes"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

for run in $(seq 1 "$runs"); do
  measure light "$bench" light "$clip" "$out"
  measure ffprobe ffprobe -v error -show_format -show_streams "$clip"
  measure light_ts "$bench" light "$clip_ts" "$out"
  measure full "$bench" full "$clip" "$out"
  measure count ffprobe -v error -count_packets -select_streams v:0 \
    -show_entries stream=nb_read_packets -of csv=p=0 "$clip"
  measure idet ffmpeg -nostdin -hide_banner -loglevel error -i "$clip" -vf idet -an -f null -
  measure preview ffmpeg -nostdin -y -hide_banner -loglevel error -i "$clip" -vf "scale=-2:720" \
    -c:v libx264 -preset veryfast -crf 23 -profile:v high -pix_fmt yuv420p \
    -c:a aac -b:a 128k -ar 48000 -ac 2 -movflags +faststart "$out/ffmpeg-web.mp4"
  echo "run $run done, load $(cut -d' ' -f1 /proc/loadavg)" >&2
done
sum_files 1 count idet preview >"$out/combined.wall"
sum_files 2 count idet preview >"$out/combined.cpu"
paste <(col full 1) "$out/combined.wall" | awk '{ printf "%.3f\n", $1 / $2 }' >"$out/ratio.wall"
paste <(col full 2) "$out/combined.cpu" | awk '{ printf "%.3f\n", $1 / $2 }' >"$out/ratio.cpu"

row() {  # label values-of-wall values-of-cpu
  printf "%-46s %8s %8s %8s\n" "$1" "$(median <<<"$2")" "$(minimum <<<"$2")" "$(median <<<"$3")"
}
printf "%-46s %8s %8s %8s\n" "$runs runs; seconds" "wall-med" "wall-min" "cpu-med"
row "vidmill light ingestion (process)" "$(col light 1)" "$(col light 2)"
row "ffprobe -show_format -show_streams" "$(col ffprobe 1)" "$(col ffprobe 2)"
row "vidmill light ingestion, same clip as .ts" "$(col light_ts 1)" "$(col light_ts 2)"
row "vidmill full ingestion (process)" "$(col full 1)" "$(col full 2)"
row "  ffprobe -count_packets" "$(col count 1)" "$(col count 2)"
row "  ffmpeg -vf idet -f null -" "$(col idet 1)" "$(col idet 2)"
row "  ffmpeg 720p preview (veryfast crf 23, aac)" "$(col preview 1)" "$(col preview 2)"
row "ffmpeg/ffprobe combined" "$(cat "$out/combined.wall")" "$(cat "$out/combined.cpu")"
row "full ratio vidmill / combined (goal <= 1.1)" "$(cat "$out/ratio.wall")" "$(cat "$out/ratio.cpu")"
echo "per-run wall ratios: $(tr '\n' ' ' <"$out/ratio.wall")"
echo "vidmill full, last run: $(cat "$out/full.out")"
echo "vidmill light, last run: $(cat "$out/light.out")"
echo "vidmill light .ts, last run: $(cat "$out/light_ts.out")"
