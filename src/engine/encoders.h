#pragma once
// The output side of the processing pipeline: which muxer a container uses,
// which audio codec goes with it, and the video encoder for a TranscodeSpec with
// every rate-control, profile and field-order setting explicit
// (docs/processing.md has the table).
//
//   h264    libx264, preset medium, ABR B, maxrate 1.5 B, VBV 2 B, GOP 2 s
//   hevc    libx265, the same rate control and GOP
//   prores  prores_ks, profile 0–5, vendor apl0, quantiser mode (q 6; 11 for
//           proxy and lt): several times faster than its bitrate search
//   dnxhd   dnxhd, profile dnxhr_* (rate from the profile) or dnxhd at the
//           DNxHD table's bitrate
//   xdcam   mpeg2video 4:2:2 profile @ high level, CBR 50 Mb/s, VBV 17,825,792
//   mpeg2   mpeg2video, ABR B, maxrate 1.5 B, VBV 1 s, GOP 12, 2 B-frames
//   ffv1    ffv1 level 3, 4 slices with CRCs, range coder, large context, intra
//
// Thread safety: free functions; each returned context belongs to its caller.

#include <string>

#include "common/status.h"
#include "engine/av_ptr.h"
#include "engine/transcode_spec.h"

namespace vidmill::engine {

struct ContainerFormat {
  const char* muxer;                   // libavformat muxer name
  const char* audio_encoder;           // pcm_s24le (mov, mxf) | aac (mp4, mts)
  AVSampleFormat audio_sample_format;  // what that encoder takes
};

// mov | mxf | mp4 | mts. kInvalidArgument for anything else.
Result<ContainerFormat> ContainerFormatFor(const std::string& container);

// The libavcodec encoder name for an API codec name ("prores" → "prores_ks").
std::string VideoEncoderName(const std::string& codec);

// Gives `out` the display matrix (rotation) of `in`, where `in` has one:
// phone video is stored landscape with a matrix that turns it upright, and
// players turn it; without the matrix it comes out sideways. Only MOV and MP4
// carry it (their muxers write it; the others ignore it).
Status CopyDisplayMatrix(const AVStream* in, AVStream* out);

// spec.sample_aspect as the rational the output carries (1:1 when unset).
AVRational OutputSampleAspect(const TranscodeSpec& spec);

// Creates and opens the video encoder. `global_header` when the muxer wants
// extradata (AVFMT_GLOBALHEADER). Interlaced output sets interlaced DCT and the
// field order (x264 gets interlaced=1:tff=1 or bff=1).
Result<CodecContextPtr> OpenVideoEncoder(const TranscodeSpec& spec, AVRational frame_rate,
                                         bool global_header);

// Creates the audio encoder for `container` for audio of `layout` at 48 kHz,
// configured but not opened (the caller opens it once it knows whether the
// muxer wants a global header). PCM (mov, mxf) keeps the layout as it is, up
// to 64 channels; AAC (mp4, mts) keeps it where AAC has it, else takes its
// own for the channel count (at most 8), into which the audio is mixed.
// AAC: 96 kb/s for each of the first two channels, 64 kb/s for each further
// one.
Result<CodecContextPtr> NewAudioEncoder(const std::string& container,
                                        const AVChannelLayout& layout);

}  // namespace vidmill::engine
