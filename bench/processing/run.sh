#!/usr/bin/env bash
# Processing cost: three representative process-video requests on a 20 s
# 1080i25 clip, each run through Vidmill's engine and through the ffmpeg command
# line with the same filter graph and the same encoder settings, alternately
# (vidmill, ffmpeg, vidmill, ffmpeg, …) in the same run:
#   a  deinterlace: bwdif at field rate → 1080p50, H.264 (libx264) at 20 Mb/s, mp4 + AAC
#   b  scale to UHD 3840x2160, ProRes HQ (prores_ks, quantiser 6), mov + PCM; the
#      source stays interlaced (scanning auto), so it is scaled through bwdif at
#      field rate and woven again
#   c  25 → 50 fps with mcinterpolate (minterpolate mci), HEVC (libx265), mp4 + AAC,
#      on the first PROC_C_SECONDS (default 2) seconds only (a range in the request):
#      minterpolate + x265 run at about one frame per second at 1080p50 here.
# The Vidmill side is bench/processing/processing_bench: light ingestion →
# ValidateProcessingRequest → the process job's TranscodeSpec → engine::Transcode,
# in one process (no HTTP, no job queue). The ffmpeg side gets the filter graph
# printed by BuildVideoFilters for that spec and the encoder options that
# OpenVideoEncoder (src/engine/transcode.cc) sets; the audio chain mirrors
# Pipeline::SetUpAudio. Wall time, CPU and peak RSS come from /usr/bin/time -v.
#
#   bash bench/processing/run.sh [build-dir]
#   PROC_RUNS=2 (runs per side), PROC_ONLY="a b c", PROC_C_SECONDS=2,
#   PROC_CACHE=/tmp/vidmill-bench-processing (the clip is made once and kept there)
set -euo pipefail
build=${1:-build}
[[ "$build" == /* ]] || build="$PWD/$build"
bench="$build/bench/processing/processing_bench"
if [[ ! -x "$bench" ]]; then
  echo "processing: $bench is not built (cmake --build $build --target processing_bench)" >&2
  exit 1
fi
if [[ ! -x /usr/bin/time ]]; then
  echo "processing: /usr/bin/time is missing (scripts/install-deps.sh --bench installs 'time')" >&2
  exit 1
fi
runs=${PROC_RUNS:-2}
only=${PROC_ONLY:-a b c}
c_seconds=${PROC_C_SECONDS:-2}
cache=${PROC_CACHE:-/tmp/vidmill-bench-processing}
photo=/usr/share/wallpapers/Path/contents/images/2560x1440.jpg
mkdir -p "$cache"

# The clip: a pan over a photograph rendered at 50 progressive frames/s, woven
# into 25 interlaced frames/s, top field first (each field is its own instant),
# as MPEG-2 4:2:2 at 50 Mb/s (XDCAM HD422-like) in mov, with 24-bit PCM stereo.
clip="$cache/pan-1080i25-20s.mov"
if [[ ! -s "$clip" ]]; then
  echo "making $clip (once)…" >&2
  ffmpeg -nostdin -y -loglevel error -framerate 50 -i "$photo" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=20" \
    -filter_complex "[0:v]scale=-2:3240,loop=loop=999:size=1:start=0,setpts=N/(50*TB),crop=1920:1080:x='(iw-ow)/2*(1+sin(t*0.7))':y='(ih-oh)/2*(1+sin(t*0.5))',format=yuv422p,tinterlace=mode=interleave_top,setfield=tff[v];[1:a]pan=stereo|c0=c0|c1=c0[a]" \
    -map "[v]" -map "[a]" -c:v mpeg2video -profile:v 0 -level:v 2 -b:v 50M -minrate 50M \
    -maxrate 50M -bufsize 17825792 -g 12 -bf 2 -flags +ildct+ilme -top 1 -intra_vlc 1 \
    -non_linear_quant 1 -dc 10 -qmin 1 -qmax 12 -c:a pcm_s24le -t 20 "$clip.tmp.mov"
  mv "$clip.tmp.mov" "$clip"
fi

out=$(mktemp -d /tmp/vidmill-procbench-XXXXXX)
trap 'rm -rf "$out"' EXIT

cat >"$out/a.json" <<'EOF'
{"mediaContainerCodec": {"container": "mp4", "codec": "h264"}, "deinterlacer": "bwdif",
 "frameRate": {"fps": 50}, "bitrate": {"mbps": 20}, "chromaSubsampling": {"yuv": "4:2:0", "bits": 8}}
EOF
cat >"$out/b.json" <<'EOF'
{"mediaContainerCodec": {"container": "mov", "codec": "prores"}, "appleProresProfile": "hq",
 "resolution": {"tag": "uhd_4k"}}
EOF
cat >"$out/c.json" <<EOF
{"mediaContainerCodec": {"container": "mp4", "codec": "hevc"}, "deinterlacer": "bwdif",
 "frameRateConverter": "mcinterpolate", "frameRate": {"fps": 50},
 "chromaSubsampling": {"yuv": "4:2:0", "bits": 8},
 "range": {"startPositionMilliseconds": 0, "endPositionMilliseconds": $((c_seconds * 1000))}}
EOF

# ffmpeg_args REQ: the ffmpeg command line for the plan Vidmill made of request REQ.
ffmpeg_args() {
  local req=$1 plan="$out/$1.plan"
  "$bench" plan "$clip" "$out/$req.json" >"$plan"
  get() { sed -n "s/^$1=//p" "$plan"; }
  local codec bitrate rate container range audio_chain
  codec=$(get codec); bitrate=$(get bitrate_bps); rate=$(get rate); container=$(get container)
  range=$(get range_ms)
  local args=(-nostdin -hide_banner -loglevel error -y -i "$clip" -map 0:v:0 -filter:v "$(get filters)")
  case $codec in
    h264|hevc)
      local gop
      gop=$(awk -v r="$rate" 'BEGIN { split(r, p, "/"); f = p[1] / (p[2] ? p[2] : 1); printf "%d", f * 2 + 0.5 }')
      args+=(-c:v "$([[ $codec == h264 ]] && echo libx264 || echo libx265)" -preset medium
             -b:v "$bitrate" -maxrate $((bitrate * 3 / 2)) -bufsize $((bitrate * 2)) -g "$gop")
      if [[ $codec == hevc ]]; then args+=(-x265-params log-level=error); fi
      if [[ $codec == h264 && $(get interlaced_output) == 1 ]]; then
        args+=(-x264-params "interlaced=1:$([[ $(get top_field_first) == 1 ]] && echo tff || echo bff)=1")
      fi
      ;;
    prores)
      local index quantiser=6
      case $(get profile) in proxy) index=0 ;; lt) index=1 ;; hq) index=3 ;; 4444) index=4 ;;
        4444xq) index=5 ;; *) index=2 ;; esac
      [[ $index -le 1 ]] && quantiser=11
      args+=(-c:v prores_ks -profile:v "$index" -vendor apl0 -q:v "$quantiser")
      ;;
    *) echo "processing: no ffmpeg mapping for codec $codec" >&2; exit 1 ;;
  esac
  if [[ $(get interlaced_output) == 1 ]]; then args+=(-flags +ildct); fi
  if [[ $(get keep_audio) == 1 ]]; then
    audio_chain=""
    if [[ $(get has_range) == 1 ]]; then
      audio_chain=$(awk -v r="$range" 'BEGIN { split(r, p, "-"); printf "atrim=start=%.6f:end=%.6f,", p[1] / 1000, p[2] / 1000 }')
    fi
    args+=(-map 0:a:0)
    if [[ $container == mov || $container == mxf ]]; then
      args+=(-af "${audio_chain}asetpts=PTS-STARTPTS,aresample=48000,aformat=sample_fmts=s32:channel_layouts=stereo"
             -c:a pcm_s24le)
    else
      args+=(-af "${audio_chain}asetpts=PTS-STARTPTS,aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo"
             -c:a aac -b:a 192000)
    fi
  fi
  args+=(-movflags +faststart)
  printf '%q ' ffmpeg "${args[@]}"
}

# measure NAME CMD…: runs CMD under /usr/bin/time -v; appends "wall cpu rss_mb" to $out/NAME.
measure() {
  local name=$1; shift
  if ! /usr/bin/time -v -o "$out/$name.time" "$@" >"$out/$name.out" 2>"$out/$name.err"; then
    cat "$out/$name.err" >&2; exit 1
  fi
  awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, t, ":"); wall = 0; for (i = 1; i <= n; i++) wall = wall * 60 + t[i] }
    /User time/ { cpu += $2 } /System time/ { cpu += $2 }
    /Maximum resident set size/ { rss = $2 / 1024 }
    END { printf "%.2f %.2f %.0f\n", wall, cpu, rss }' "$out/$name.time" >>"$out/$name"
}
col() { awk -v c="$2" '{ print $c }' "$out/$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
probe() {  # codec, size, rate, field order, frames of the video stream; audio codec
  printf '%s; audio %s' \
    "$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,profile,pix_fmt,width,height,avg_frame_rate,field_order,nb_frames -of csv=p=0 "$1")" \
    "$(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name,nb_frames -of csv=p=0 "$1")"
}

echo "clip: $(probe "$clip"), $(stat -c %s "$clip") bytes"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ { print $2 " GB" }'), nice $(nice)"
echo "ffmpeg: $(ffmpeg -version | head -1 | cut -d' ' -f1-3)"
echo "start: $(uptime)"

for req in $only; do
  container=$(sed -n 's/.*"container": "\([a-z0-9]*\)".*/\1/p' "$out/$req.json")
  cmd=$(ffmpeg_args "$req")
  echo "== $req: $(tr -d '\n' <"$out/$req.json")"
  echo "   plan: $(grep -v '^filters=' "$out/$req.plan" | tr '\n' ' ')"
  echo "   filters: $(sed -n 's/^filters=//p' "$out/$req.plan")"
  echo "   ffmpeg: $cmd \$OUT/ffmpeg-$req.$container" | sed "s|$out|\$OUT|g"
  for run in $(seq 1 "$runs"); do
    measure "vidmill-$req" "$bench" run "$clip" "$out/$req.json" "$out/vidmill-$req.$container"
    echo "   run $run vidmill $(tail -1 "$out/vidmill-$req") (wall cpu rss_mb) $(cat "$out/vidmill-$req.out"), load $(cut -d' ' -f1 /proc/loadavg)" >&2
    size_v=$(stat -c %s "$out/vidmill-$req.$container")
    [[ $run -lt $runs ]] && rm -f "$out/vidmill-$req.$container"
    eval "measure ffmpeg-$req $cmd \"$out/ffmpeg-$req.$container\""
    echo "   run $run ffmpeg  $(tail -1 "$out/ffmpeg-$req") (wall cpu rss_mb), load $(cut -d' ' -f1 /proc/loadavg)" >&2
    size_f=$(stat -c %s "$out/ffmpeg-$req.$container")
    [[ $run -lt $runs ]] && rm -f "$out/ffmpeg-$req.$container"
    echo "$size_v $size_f" >"$out/sizes-$req"
  done
  echo "   vidmill output: $(probe "$out/vidmill-$req.$container")"
  echo "   ffmpeg output:  $(probe "$out/ffmpeg-$req.$container")"
  rm -f "$out/vidmill-$req.$container" "$out/ffmpeg-$req.$container"
done

echo
printf "%-4s %8s %8s %6s %8s %8s %6s %7s %7s %12s %12s %6s\n" req vm-wall ff-wall ratio \
  vm-cpu ff-cpu ratio vm-rss ff-rss vm-bytes ff-bytes size%
for req in $only; do
  vw=$(col "vidmill-$req" 1 | median); fw=$(col "ffmpeg-$req" 1 | median)
  vc=$(col "vidmill-$req" 2 | median); fc=$(col "ffmpeg-$req" 2 | median)
  vr=$(col "vidmill-$req" 3 | median); fr=$(col "ffmpeg-$req" 3 | median)
  read -r sv sf <"$out/sizes-$req"
  printf "%-4s %8s %8s %6s %8s %8s %6s %7s %7s %12s %12s %6s\n" "$req" "$vw" "$fw" \
    "$(awk -v a="$vw" -v b="$fw" 'BEGIN { printf "%.3f", a / b }')" "$vc" "$fc" \
    "$(awk -v a="$vc" -v b="$fc" 'BEGIN { printf "%.3f", a / b }')" "${vr}M" "${fr}M" \
    "$sv" "$sf" "$(awk -v a="$sv" -v b="$sf" 'BEGIN { printf "%+.2f", (a - b) * 100 / b }')"
  echo "     walls vidmill: $(col "vidmill-$req" 1 | tr '\n' ' ')ffmpeg: $(col "ffmpeg-$req" 1 | tr '\n' ' ')"
done
echo "medians of $runs runs per side; wall and cpu (user + system) in seconds, peak RSS in MB;"
echo "ratio = vidmill / ffmpeg; size% = (vidmill - ffmpeg) / ffmpeg, last run's files"
echo "end: $(uptime)"
