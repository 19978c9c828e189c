#include "raw_video.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>

namespace vidmill::filters {

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "cannot open " << path << "\n";
    std::exit(2);
  }
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

size_t FrameBytes(int width, int height) {
  return static_cast<size_t>(width) * height +
         2 * static_cast<size_t>((width + 1) / 2) * ((height + 1) / 2);
}

FrameView ViewAt(std::vector<uint8_t>& data, int width, int height, size_t index) {
  FrameView view;
  view.format = PixelFormat{width, height, 8, Chroma::k420};
  uint8_t* base = data.data() + index * FrameBytes(width, height);
  for (int plane = 0; plane < 3; ++plane) {
    view.planes[plane] =
        PlaneView{base, view.format.PlaneWidth(plane), view.format.PlaneHeight(plane),
                  view.format.PlaneWidth(plane), 8};
    base += static_cast<size_t>(view.format.PlaneWidth(plane)) * view.format.PlaneHeight(plane);
  }
  return view;
}

void Append(const FrameView& view, std::vector<uint8_t>* out) {
  for (int plane = 0; plane < 3; ++plane) {
    const PlaneView& p = view.planes[plane];
    for (int y = 0; y < p.height; ++y) out->insert(out->end(), p.Row8(y), p.Row8(y) + p.width);
  }
}

int TimeFramesThrough(
    std::vector<uint8_t>& in, int width, int height,
    const std::function<Status(const FrameView&, int64_t, std::vector<OwnedFrame>*)>& push,
    const std::function<Status(std::vector<OwnedFrame>*)>& flush, const std::string& out_path) {
  const size_t frames = in.size() / FrameBytes(width, height);
  std::vector<OwnedFrame> results;
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  Status status;
  for (size_t n = 0; n < frames && status.ok(); ++n) {
    status = push(ViewAt(in, width, height, n), static_cast<int64_t>(n), &results);
  }
  if (status.ok()) status = flush(&results);
  if (!status.ok()) {
    std::cerr << status.ToString() << "\n";
    return 2;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  std::vector<uint8_t> out;
  for (const OwnedFrame& frame : results) Append(frame.view(), &out);
  WriteFile(out_path, out);
  std::printf("fps %.1f cpu_ms_per_frame %.2f\n", results.size() / seconds,
              1000 * cpu_seconds / results.size());
  return 0;
}

int RunFilterOverFile(std::string_view name, const FilterConfig& config, std::vector<uint8_t>& in,
                      const std::string& out_path) {
  auto filter = MakeFilter(name, config);
  if (!filter.ok()) {
    std::cerr << filter.status().ToString() << "\n";
    return 2;
  }
  VideoFilter& f = **filter;
  return TimeFramesThrough(
      in, config.input.width, config.input.height,
      [&f](const FrameView& frame, int64_t pts, std::vector<OwnedFrame>* results) {
        RETURN_IF_ERROR(f.Push(frame, pts));
        return f.Pull(results);
      },
      [&f](std::vector<OwnedFrame>* results) {
        RETURN_IF_ERROR(f.Flush());
        return f.Pull(results);
      },
      out_path);
}

}  // namespace vidmill::filters
