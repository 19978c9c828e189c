# Shell helpers shared by the quality benchmark's scripts (sourced, not run).

walls=/usr/share/wallpapers

# pick NAME: the landscape image (named WIDTHxHEIGHT, WIDTH ≥ HEIGHT) of
# wallpaper NAME closest to 1920 pixels wide — some wallpapers also ship a
# 1080 × 1920 portrait image for phones, which is never the one wanted; a
# NAME/FILE: that file of wallpaper NAME; a NAME ending in .jpg: a file under
# /usr/share/backgrounds (run.sh's train_more).
pick() {
  if [[ $1 == *.jpg ]]; then echo "/usr/share/backgrounds/$1"; return; fi
  if [[ $1 == */* ]]; then echo "$walls/${1%%/*}/contents/images/${1#*/}"; return; fi
  local dir="$walls/$1/contents/images"
  ls "$dir" | awk -F'[x.]' '$1 >= $2 {d=$1-1920; if (d<0) d=-d; print d, $0}' | sort -n | head -1 |
    cut -d' ' -f2 | sed "s|^|$dir/|"
}

# file_name NAME: NAME (a pick argument) as one file name: '/' → '_'.
file_name() { echo "${1//\//_}"; }

# quality_tool BUILD_DIR: sets $tool to the build's quality_bench; exits
# with a message when it has not been built.
quality_tool() {
  tool="$1/bench/quality/quality_bench"
  [[ -x "$tool" ]] || { echo "build quality_bench first ($tool missing)" >&2; exit 1; }
}

# raw ARGS...: ffmpeg, quiet, overwriting.
raw() { ffmpeg -nostdin -loglevel error -y "$@"; }

# yuv_in SIZE FILE: ffmpeg's input options for a 25 fps yuv420p rawvideo clip.
yuv_in() { echo -f rawvideo -pix_fmt yuv420p -s "$1" -r 25 -i "$2"; }

# photo_source NAME OUT: photo NAME (a pick argument) scaled and cropped to
# fill 1920 × 1080, as raw yuv444p: what `quality_bench render` moves over.
photo_source() {
  raw -i "$(pick "$1")" -vf "scale=1920:1080:force_original_aspect_ratio=increase,crop=1920:1080,format=yuv444p" \
    -f rawvideo "$2"
}

# area_down IN SIZE W H OUT: the yuv420p rawvideo clip IN (SIZE = WxH) shrunk
# to W × H with ffmpeg's AREA scaler, the benchmark's downscale.
area_down() { raw $(yuv_in "$2" "$1") -vf "scale=$3:$4:flags=area" -f rawvideo "$5"; }

# training_work_dir KEEP NAME: sets $work for the training scripts — KEEP
# (created if missing, kept afterwards: for experiments) when given, else a
# fresh /tmp/vidmill-NAME.* removed on exit.
training_work_dir() {
  if [[ -n "$1" ]]; then
    work=$1
    mkdir -p "$work"
  else
    work=$(mktemp -d "/tmp/vidmill-$2.XXXXXX")
    trap 'rm -rf "$work"' EXIT
  fi
}

# code_clip CODEC IN.yuv W H OUT.yuv [SCRATCH_DIR] [RATE]: the 25 fps rawvideo
# clip coded the way the benchmark degrades archives — mpeg2: MPEG-2 at 600
# kb/s; h264: x264 veryfast at 150 kb/s; RATE (e.g. 300k) replaces the rate,
# for dvres_rates.sh — and decoded back to rawvideo.
code_clip() {
  local codec=$1 in=$2 w=$3 h=$4 out=$5 scratch=${6:-$(dirname "$5")} rate=${7:-}
  local coded
  case $codec in
    mpeg2) coded="$scratch/coded.m2v"
      raw -f rawvideo -pix_fmt yuv420p -s "${w}x$h" -r 25 -i "$in" -c:v mpeg2video -b:v "${rate:-600k}" \
        "$coded" ;;
    h264) coded="$scratch/coded.mkv"
      raw -f rawvideo -pix_fmt yuv420p -s "${w}x$h" -r 25 -i "$in" -c:v libx264 -preset veryfast \
        -b:v "${rate:-150k}" "$coded" ;;
    *) echo "code_clip: unknown codec $codec" >&2; return 1 ;;
  esac
  raw -i "$coded" -pix_fmt yuv420p -f rawvideo "$out"
}
