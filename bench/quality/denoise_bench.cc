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
#include "raw_video.h"

namespace vidmill::filters {
namespace {}  // namespace

int DenoiseCommand(int argc, char** argv) {
  if (argc != 6 && argc != 7) return 1;
  std::vector<uint8_t> in = ReadFile(argv[2]);
  const int width = std::atoi(argv[3]), height = std::atoi(argv[4]);
  FilterConfig config;
  config.input = PixelFormat{width, height, 8, Chroma::k420};
  if (argc == 7) config.properties["sigma"] = argv[6];
  return RunFilterOverFile("denoise", config, in, argv[5]);
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
  std::vector<uint8_t> data = ReadFile(argv[2]);
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
  const size_t frames = data.size() / FrameBytes(width, height);
  for (size_t n = 0; n < frames; ++n) {
    const FrameView view = ViewAt(data, width, height, n);
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
  WriteFile(argv[3], data);
  return 0;
}

}  // namespace vidmill::filters
