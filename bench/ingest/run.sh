#!/usr/bin/env bash
# Ingestion cost: Vidmill's full and light ingestion of a 60 s 1080p25 H.264 +
# AAC clip (a camera pan over a photograph) against the equivalent ffmpeg /
# ffprobe command lines, in the same run on the same machine:
#   * light   vs  ffprobe -show_format -show_streams            (headers only)
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
out=$(mktemp -d /tmp/vidmill-ingest-XXXXXX)
trap 'rm -rf "$out"' EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "clip: $(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,width,height,avg_frame_rate,nb_frames -of csv=p=0 "$clip"), $(stat -c %s "$clip") bytes"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

light_vidmill=() light_ffprobe=() full_vidmill=() full_ffmpeg=()
count_s=() idet_s=() preview_s=()
for run in $(seq 1 "$runs"); do
  t0=$(now); "$bench" light "$clip" "$out" >"$out/light.json"; t1=$(now)
  light_vidmill+=("$(elapsed "$t0" "$t1")")
  t0=$(now); ffprobe -v error -show_format -show_streams "$clip" >/dev/null; t1=$(now)
  light_ffprobe+=("$(elapsed "$t0" "$t1")")

  t0=$(now); "$bench" full "$clip" "$out" >"$out/full.json"; t1=$(now)
  full_vidmill+=("$(elapsed "$t0" "$t1")")
  t0=$(now)
  ffprobe -v error -count_packets -select_streams v:0 -show_entries stream=nb_read_packets \
    -of csv=p=0 "$clip" >/dev/null
  t1=$(now)
  ffmpeg -nostdin -hide_banner -loglevel error -i "$clip" -vf idet -an -f null - 2>/dev/null
  t2=$(now)
  ffmpeg -nostdin -y -hide_banner -loglevel error -i "$clip" -vf "scale=-2:720" \
    -c:v libx264 -preset veryfast -crf 23 -profile:v high -pix_fmt yuv420p \
    -c:a aac -b:a 128k -ar 48000 -ac 2 -movflags +faststart "$out/ffmpeg-web.mp4"
  t3=$(now)
  count_s+=("$(elapsed "$t0" "$t1")"); idet_s+=("$(elapsed "$t1" "$t2")")
  preview_s+=("$(elapsed "$t2" "$t3")"); full_ffmpeg+=("$(elapsed "$t0" "$t3")")
  echo "run $run: light $(cat "$out/light.json")" >&2
  echo "run $run: full  $(cat "$out/full.json")" >&2
done

m() { printf '%s\n' "$@" | median; }
lv=$(m "${light_vidmill[@]}"); lf=$(m "${light_ffprobe[@]}")
fv=$(m "${full_vidmill[@]}"); ff=$(m "${full_ffmpeg[@]}")
printf "%-44s %9s\n" "median of $runs runs (wall seconds)" seconds
printf "%-44s %9s\n" "vidmill light ingestion (process)" "$lv"
printf "%-44s %9s\n" "ffprobe -show_format -show_streams" "$lf"
printf "%-44s %9s\n" "vidmill full ingestion (process)" "$fv"
printf "%-44s %9s\n" "  ffprobe -count_packets" "$(m "${count_s[@]}")"
printf "%-44s %9s\n" "  ffmpeg -vf idet -f null -" "$(m "${idet_s[@]}")"
printf "%-44s %9s\n" "  ffmpeg 720p preview (veryfast crf 23, aac)" "$(m "${preview_s[@]}")"
printf "%-44s %9s\n" "ffmpeg/ffprobe combined" "$ff"
printf "%-44s %9s\n" "full ratio vidmill / combined (goal <= 1.1)" \
  "$(awk -v a="$fv" -v b="$ff" 'BEGIN { printf "%.2f", a / b }')"
echo "vidmill steps (last run): $(cat "$out/full.json")"
