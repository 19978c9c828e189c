// quality_bench's denoising subcommands (see quality_bench.cc for the list):
//   denoise IN.yuv W H OUT.yuv [SIGMA]
//       Vidmill's denoise (SIGMA: its "sigma" property; absent = estimated);
//       prints "fps … cpu_ms_per_frame …" measured around the filter calls.
//   grain IN.yuv OUT.yuv W H STRENGTH SEED
//       Film-like noise: spatially correlated grain whose strength depends on
//       the intensity (see FilmLikeGrain below), seeded.

#include "denoise_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "filters/filter.h"
#include "filters/frame.h"

namespace vidmill::filters {
namespace {

std::vector<uint8_t> Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "cannot open " << path << "\n";
    std::exit(2);
  }
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void Save(const std::string& path, const std::vector<uint8_t>& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

// One 4:2:0 frame of a raw buffer as a view.
FrameView FrameAt(std::vector<uint8_t>& data, int width, int height, size_t index) {
  FrameView view;
  view.format = PixelFormat{width, height, 8, Chroma::k420};
  size_t bytes = 0;
  for (int plane = 0; plane < 3; ++plane) {
    bytes += static_cast<size_t>(view.format.PlaneWidth(plane)) * view.format.PlaneHeight(plane);
  }
  uint8_t* base = data.data() + index * bytes;
  for (int plane = 0; plane < 3; ++plane) {
    view.planes[plane] =
        PlaneView{base, view.format.PlaneWidth(plane), view.format.PlaneHeight(plane),
                  view.format.PlaneWidth(plane), 8};
    base += static_cast<size_t>(view.format.PlaneWidth(plane)) * view.format.PlaneHeight(plane);
  }
  return view;
}

size_t FrameCount(const std::vector<uint8_t>& data, int width, int height) {
  const size_t bytes = static_cast<size_t>(width) * height +
                       2 * static_cast<size_t>((width + 1) / 2) * ((height + 1) / 2);
  return data.size() / bytes;
}

}  // namespace

int DenoiseCommand(int argc, char** argv) {
  if (argc != 6 && argc != 7) return 1;
  std::vector<uint8_t> in = Load(argv[2]);
  const int width = std::atoi(argv[3]), height = std::atoi(argv[4]);
  const size_t frames = FrameCount(in, width, height);
  FilterConfig config;
  config.input = PixelFormat{width, height, 8, Chroma::k420};
  if (argc == 7) config.properties["sigma"] = argv[6];
  auto filter = MakeFilter("denoise", config);
  if (!filter.ok()) {
    std::cerr << filter.status().ToString() << "\n";
    return 2;
  }
  std::vector<OwnedFrame> results;
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  for (size_t n = 0; n < frames; ++n) {
    if (!(*filter)->Push(FrameAt(in, width, height, n), static_cast<int64_t>(n)).ok()) return 2;
    if (!(*filter)->Pull(&results).ok()) return 2;
  }
  if (!(*filter)->Flush().ok() || !(*filter)->Pull(&results).ok()) return 2;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  std::vector<uint8_t> out;
  for (const OwnedFrame& frame : results) {
    const FrameView view = frame.view();
    for (int plane = 0; plane < 3; ++plane) {
      const PlaneView& p = view.planes[plane];
      for (int y = 0; y < p.height; ++y) out.insert(out.end(), p.Row8(y), p.Row8(y) + p.width);
    }
  }
  Save(argv[5], out);
  std::printf("fps %.1f cpu_ms_per_frame %.2f\n", results.size() / seconds,
              1000 * cpu_seconds / results.size());
  return 0;
}

// Film-like grain. White Gaussian noise is low-passed by a 5-tap binomial
// kernel in each direction (grain about 2–3 pixels across, like a scanned
// emulsion) and rescaled to unit variance; its amplitude follows the
// intensity as film grain does — strongest in the mid-tones, about a third of
// that in deep shadows and highlights: σ(Y) = STRENGTH × (0.35 + 2.6·y(1 − y)),
// y = Y/255. Chroma gets grain of half the luma's strength at the same
// intensity. Every frame draws new grain.
int GrainCommand(int argc, char** argv) {
  if (argc != 8) return 1;
  std::vector<uint8_t> data = Load(argv[2]);
  const int width = std::atoi(argv[4]), height = std::atoi(argv[5]);
  const double strength = std::atof(argv[6]);
  std::mt19937_64 rng(static_cast<uint64_t>(std::atoll(argv[7])));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const float kernel[5] = {1, 4, 6, 4, 1};
  float norm = 0;  // the kernel's 2-D energy, to bring the variance back to 1
  for (float a : kernel) {
    for (float b : kernel) norm += (a * b) * (a * b);
  }
  norm = 1.0f / std::sqrt(norm);
  const size_t frames = FrameCount(data, width, height);
  for (size_t n = 0; n < frames; ++n) {
    const FrameView view = FrameAt(data, width, height, n);
    const PlaneView& luma = view.planes[0];
    // Chroma first: its amplitude reads the clean luma.
    for (int plane : {1, 2, 0}) {
      const PlaneView& p = view.planes[plane];
      const int sx = plane ? 1 : 0, sy = plane ? 1 : 0;
      std::vector<float> white(static_cast<size_t>(p.width + 4) * (p.height + 4));
      for (float& value : white) value = normal(rng);
      std::vector<float> rows(static_cast<size_t>(p.width) * (p.height + 4));
      for (int y = 0; y < p.height + 4; ++y) {
        for (int x = 0; x < p.width; ++x) {
          float sum = 0;
          for (int i = 0; i < 5; ++i)
            sum += kernel[i] * white[static_cast<size_t>(y) * (p.width + 4) + x + i];
          rows[static_cast<size_t>(y) * p.width + x] = sum;
        }
      }
      for (int y = 0; y < p.height; ++y) {
        for (int x = 0; x < p.width; ++x) {
          float grain = 0;
          for (int j = 0; j < 5; ++j)
            grain += kernel[j] * rows[static_cast<size_t>(y + j) * p.width + x];
          grain *= norm;
          const float intensity =
              luma.At(std::min(x << sx, luma.width - 1), std::min(y << sy, luma.height - 1)) /
              255.0f;
          const float sigma = static_cast<float>(strength) * (plane ? 0.5f : 1.0f) *
                              (0.35f + 2.6f * intensity * (1 - intensity));
          p.Set(x, y,
                std::clamp(static_cast<int>(std::lround(p.At(x, y) + sigma * grain)), 0, 255));
        }
      }
    }
  }
  Save(argv[3], data);
  return 0;
}

}  // namespace vidmill::filters
