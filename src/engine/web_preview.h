#pragma once
// The web preview: a browser-friendly copy of an uploaded video, made in-process
// with libav* in one decode → filter → encode → mux pass.
//
// Output: MP4 (moov atom first: movflags=+faststart, so playback starts before
// the download ends) with H.264 High (libx264, yuv420p, square pixels) at most
// `max_height` lines, never enlarged, progressive (interlaced content, as
// decided by the caller's scanning verdict, is deinterlaced with bwdif, one
// frame per frame), and AAC-LC stereo 48 kHz when the source has audio.
// Timestamps start at 0.
//
// The caller gives a temporary path and publishes the file by renaming it; on
// error the partial file is removed.
//
// Errors: from the input (kCorruptMedia, kTimeout, kCancelled), kUnavailable when
// the output cannot be written, kInternal when an encoder fails.
//
// Thread safety: reentrant; the MediaInput is used by this call only.

#include <functional>
#include <string>

#include "common/status.h"
#include "engine/media_input.h"
#include "engine/metadata.h"

namespace vidmill::engine {

struct WebPreviewOptions {
  int max_height = 720;
  std::string x264_preset = "veryfast";
  int x264_crf = 23;
  int audio_bit_rate = 128000;
  // How the content is scanned (the heuristics verdict); interlaced → bwdif.
  Scanning scanning;
};

// The output frame size for a `width`×`height` source with sample aspect `sar`:
// height min(height, max_height), width from the display aspect; both even.
void WebPreviewSize(int width, int height, AVRational sar, int max_height, int* out_width,
                    int* out_height);

// Encodes the whole of `input` (read from its current position, normally the
// start) into `output_path`. `on_progress` (optional) gets the fraction done.
Status EncodeWebPreview(MediaInput& input, const std::string& output_path,
                        const WebPreviewOptions& options,
                        const std::function<void(double)>& on_progress = nullptr);

}  // namespace vidmill::engine
