// Raw 8-bit 4:2:0 video files (planar Y, U, V per frame, no header: what
// `ffmpeg -f rawvideo -pix_fmt yuv420p` reads and writes) for the quality
// benchmark's tools, and the one loop that times a filter over such a file.
#ifndef VIDMILL_BENCH_QUALITY_RAW_VIDEO_H_
#define VIDMILL_BENCH_QUALITY_RAW_VIDEO_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "filters/filter.h"
#include "filters/frame.h"

namespace vidmill::filters {

// The whole file; prints a message and exits with status 2 if it cannot be read.
std::vector<uint8_t> ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::vector<uint8_t>& data);

// Bytes of one 8-bit 4:2:0 frame.
size_t FrameBytes(int width, int height);
// Frame `index` of a raw buffer, viewed in place.
FrameView ViewAt(std::vector<uint8_t>& data, int width, int height, size_t index);
// Appends an 8-bit frame's planes to `out`.
void Append(const FrameView& view, std::vector<uint8_t>* out);

// Pushes every frame of `in` (8-bit 4:2:0 frames of width×height) through
// `push` (frame, pts = its index, where to put finished frames), then calls
// `flush`; writes the finished frames to `out_path` and prints "fps <output
// frames per wall second> cpu_ms_per_frame <CPU time of all threads per output
// frame>", both measured around push and flush only (no file I/O): wall fps
// depends on the machine's load, CPU time does not. Returns 0, or 2 after
// printing the error.
int TimeFramesThrough(
    std::vector<uint8_t>& in, int width, int height,
    const std::function<Status(const FrameView&, int64_t, std::vector<OwnedFrame>*)>& push,
    const std::function<Status(std::vector<OwnedFrame>*)>& flush, const std::string& out_path);

// Runs the filter `name` made from `config` over every frame of `in` (8-bit
// 4:2:0 frames of config.input's size) and flushes it, as TimeFramesThrough.
int RunFilterOverFile(std::string_view name, const FilterConfig& config, std::vector<uint8_t>& in,
                      const std::string& out_path);

}  // namespace vidmill::filters

#endif  // VIDMILL_BENCH_QUALITY_RAW_VIDEO_H_
