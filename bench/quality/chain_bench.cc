// quality_bench chain IN.yuv W H OUT_W OUT_H OUT.yuv STEP...
//   Vidmill's filters one after the other on a raw 8-bit 4:2:0 clip, as the
//   engine chains them: every frame a step releases goes on to the next step,
//   and Flush runs down the chain at the end. STEP is a filter name with
//   optional properties, "name:key=value,key=value" (e.g.
//   "denoise:strength=1.5"); the last step scales to OUT_W×OUT_H, the others
//   keep the input size. Prints "fps … cpu_ms_per_frame …" measured around
//   the filter calls only (CPU time of all threads per output frame).

#include "chain_bench.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "filters/filter.h"
#include "filters/frame.h"
#include "raw_video.h"

namespace vidmill::filters {
namespace {

// "name:key=value,key=value" → name and properties.
std::string ParseStep(const std::string& step, FilterConfig* config) {
  const size_t colon = step.find(':');
  if (colon == std::string::npos) return step;
  std::string rest = step.substr(colon + 1);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string pair = rest.substr(0, comma);
    const size_t equals = pair.find('=');
    if (equals != std::string::npos) {
      config->properties[pair.substr(0, equals)] = pair.substr(equals + 1);
    }
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
  }
  return step.substr(0, colon);
}

// Pushes one frame into step `index` and everything it releases on down.
Status Feed(std::vector<std::unique_ptr<VideoFilter>>& steps, size_t index, const FrameView& frame,
            int64_t pts, std::vector<OwnedFrame>* results) {
  if (index == steps.size()) {
    OwnedFrame copy(frame.format);
    RETURN_IF_ERROR(CopyFrame(frame, copy.view()));
    copy.pts = pts;
    results->push_back(std::move(copy));
    return Status::Ok();
  }
  RETURN_IF_ERROR(steps[index]->Push(frame, pts));
  std::vector<OwnedFrame> released;
  RETURN_IF_ERROR(steps[index]->Pull(&released));
  for (const OwnedFrame& out : released) {
    RETURN_IF_ERROR(Feed(steps, index + 1, out.view(), out.pts, results));
  }
  return Status::Ok();
}

Status FlushFrom(std::vector<std::unique_ptr<VideoFilter>>& steps, size_t index,
                 std::vector<OwnedFrame>* results) {
  if (index == steps.size()) return Status::Ok();
  RETURN_IF_ERROR(steps[index]->Flush());
  std::vector<OwnedFrame> released;
  RETURN_IF_ERROR(steps[index]->Pull(&released));
  for (const OwnedFrame& out : released) {
    RETURN_IF_ERROR(Feed(steps, index + 1, out.view(), out.pts, results));
  }
  return FlushFrom(steps, index + 1, results);
}

}  // namespace

int ChainCommand(int argc, char** argv) {
  if (argc < 9) return 1;
  std::vector<uint8_t> in = ReadFile(argv[2]);
  const int width = std::atoi(argv[3]), height = std::atoi(argv[4]);
  const int out_width = std::atoi(argv[5]), out_height = std::atoi(argv[6]);
  std::vector<std::unique_ptr<VideoFilter>> steps;
  PixelFormat format{width, height, 8, Chroma::k420};
  for (int arg = 8; arg < argc; ++arg) {
    FilterConfig config;
    config.input = format;
    const std::string name = ParseStep(argv[arg], &config);
    if (arg + 1 == argc) {
      config.output_width = out_width;
      config.output_height = out_height;
    }
    auto filter = MakeFilter(name, config);
    if (!filter.ok()) {
      std::cerr << filter.status().ToString() << "\n";
      return 2;
    }
    format = (*filter)->output_format();
    steps.push_back(std::move(*filter));
  }
  return TimeFramesThrough(
      in, width, height,
      [&steps](const FrameView& frame, int64_t pts, std::vector<OwnedFrame>* results) {
        return Feed(steps, 0, frame, pts, results);
      },
      [&steps](std::vector<OwnedFrame>* results) { return FlushFrom(steps, 0, results); }, argv[7]);
}

}  // namespace vidmill::filters
