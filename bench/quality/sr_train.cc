// sr_train: learns the RAISR filters of pabsr1 and dvres (src/filters/raisr.h)
// by least squares, and writes them as src/filters/sr_weights.cc.
// bench/quality/train_sr.sh prepares the data (training photos only) and runs it.
//
//   sr_train train FAMILY SCALE ANGLES STRENGTHS COHERENCES OUT.bin LIST [ORIENTATIONS]
//       LIST: one pair per line, "LOW.yuv HIGH.yuv W H": raw 8-bit 4:2:0 clips,
//       HIGH at W×H, LOW at W/SCALE × H/SCALE, frame n of one the counterpart
//       of frame n of the other. Only luma is used. ORIENTATIONS: how many of
//       the 8 orientations of the square each pair is used in (default 8).
//   sr_train eval MODEL.bin LIST
//       Y-PSNR of the model and of Catmull-Rom against the high-resolution
//       frames (for choosing the regularisation on training data).
//   sr_train emit OUT.cc MODEL.bin…
//       The models as int16 tables with one step per model.
//
// Training: every pair is used in the 8 orientations of the square (flips and
// transposition of both pictures, which commute with the box downscale), so
// the filters of opposite angles see the same amount of data. The strength
// and coherence bin edges are the quantiles of the training pictures (equal
// populations). Per bucket and phase, the filter minimises
// ||A w − b||² + μ ||w − w_all||², where w_all is the phase's filter learned
// over all buckets and μ = kRidge · trace(AᵀA)/taps: buckets with little data
// lean on the common filter instead of fitting noise (kRidge = 1e-4 was best
// of 1e-5…0.1 on the same validation split). Each pair is weighted by
// PairWeight. Deterministic: no
// randomness, fixed order (the accumulation is split over two threads whose
// sums are added in a fixed order).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "filters/raisr.h"
#include "filters/resample.h"
#include "raw_video.h"

namespace vidmill::filters {
namespace {

constexpr double kRidge = 1e-4;
constexpr int kMinSamples = 300;  // below this a bucket takes the common filter

struct Picture {
  int width = 0;
  int height = 0;
  std::vector<float> luma;
};

std::vector<Picture> ReadLuma(const std::string& path, int width, int height) {
  std::vector<uint8_t> data = ReadFile(path);
  const size_t frame_bytes = static_cast<size_t>(width) * height +
                             2 * static_cast<size_t>((width + 1) / 2) * ((height + 1) / 2);
  std::vector<Picture> frames;
  for (size_t offset = 0; offset + frame_bytes <= data.size(); offset += frame_bytes) {
    Picture picture{width, height, {}};
    picture.luma.assign(data.begin() + offset, data.begin() + offset + width * height);
    frames.push_back(std::move(picture));
  }
  return frames;
}

// Orientation t of the square: bit 0 transposes, bit 1 flips x, bit 2 flips y.
Picture Orient(const Picture& in, int t) {
  Picture out;
  const bool transpose = t & 1;
  out.width = transpose ? in.height : in.width;
  out.height = transpose ? in.width : in.height;
  out.luma.resize(in.luma.size());
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      int sx = (t & 2) ? out.width - 1 - x : x;
      int sy = (t & 4) ? out.height - 1 - y : y;
      if (transpose) std::swap(sx, sy);
      out.luma[static_cast<size_t>(y) * out.width + x] =
          in.luma[static_cast<size_t>(sy) * in.width + sx];
    }
  }
  return out;
}

PaddedPlane Pad(const Picture& picture) {
  PaddedPlane plane;
  plane.Resize(picture.width, picture.height);
  for (int y = 0; y < picture.height; ++y) {
    std::copy_n(&picture.luma[static_cast<size_t>(y) * picture.width], picture.width, plane.Row(y));
  }
  plane.FillBorder();
  return plane;
}

struct Pair {
  Picture low, high;
};

std::vector<Pair> ReadList(const std::string& list, int scale) {
  std::ifstream in(list);
  std::string line;
  std::vector<Pair> pairs;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string low_path, high_path;
    int width = 0, height = 0;
    if (!(fields >> low_path >> high_path >> width >> height)) continue;
    std::vector<Picture> low = ReadLuma(low_path, width / scale, height / scale);
    std::vector<Picture> high = ReadLuma(high_path, width, height);
    for (size_t n = 0; n < std::min(low.size(), high.size()); ++n) {
      pairs.push_back(Pair{std::move(low[n]), std::move(high[n])});
    }
  }
  std::fprintf(stderr, "%zu picture pairs from %s\n", pairs.size(), list.c_str());
  return pairs;
}

// The normal equations of one bucket: AᵀA (upper triangle used) and Aᵀb per phase.
struct Normal {
  std::vector<double> ata;
  std::vector<double> atb;
  int64_t count = 0;
};

// The weight of a pair in the least squares: 1 / (the mean squared error of
// Catmull-Rom on it, at least 1). The benchmark averages PSNR in dB, i.e. the
// logarithm of each picture's error, whose gradient weighs a picture by the
// inverse of its error; unweighted least squares would let the worst pictures
// (heavily coded, busy textures) decide the filters for all.
double PairWeight(const Picture& low, const Picture& high) {
  std::vector<float> up(high.luma.size());
  ResamplePlane(low.luma.data(), low.width, low.height, low.width, up.data(), high.width,
                high.height, high.width, 1);
  double sse = 0;
  for (size_t k = 0; k < up.size(); ++k) sse += (up[k] - high.luma[k]) * (up[k] - high.luma[k]);
  return 1.0 / std::max(sse / up.size(), 1.0);
}

void Accumulate(const std::vector<Pair>& pairs, const RaisrModel& model, int orientations,
                size_t begin, size_t end, std::vector<Normal>* normals) {
  const int scale = model.scale;
  const int taps = kRaisrTaps;
  std::vector<uint16_t> buckets;
  double patch[kRaisrTaps];
  for (size_t index = begin; index < end; ++index) {
    for (int t = 0; t < orientations; ++t) {
      const Picture low = Orient(pairs[index].low, t);
      const Picture high = Orient(pairs[index].high, t);
      const PaddedPlane plane = Pad(low);
      ComputeBuckets(plane, model.hash, &buckets, 1);
      const double root_weight = std::sqrt(PairWeight(low, high));
      for (int y = 0; y < low.height; ++y) {
        for (int x = 0; x < low.width; ++x) {
          Normal& normal = (*normals)[buckets[static_cast<size_t>(y) * low.width + x]];
          for (int row = 0; row < kRaisrRows; ++row) {
            const float* p = plane.Row(y - 3 + row) + x - 3;
            for (int col = 0; col < kRaisrCols; ++col) {
              patch[row * kRaisrCols + col] = p[col] * root_weight;
            }
          }
          for (int i = 0; i < taps; ++i) {
            const double pi = patch[i];
            double* row = &normal.ata[static_cast<size_t>(i) * taps];
            for (int j = i; j < taps; ++j) row[j] += pi * patch[j];
          }
          for (int phase = 0; phase < scale * scale; ++phase) {
            const double target =
                root_weight *
                high.luma[static_cast<size_t>(y * scale + phase / scale) * high.width + x * scale +
                          phase % scale];
            double* atb = &normal.atb[static_cast<size_t>(phase) * taps];
            for (int i = 0; i < taps; ++i) atb[i] += patch[i] * target;
          }
          ++normal.count;
        }
      }
    }
  }
}

// Solves (M) w = r for symmetric positive definite M (full, row-major) by Cholesky.
bool Solve(std::vector<double> m, std::vector<double> r, int n, double* w) {
  for (int j = 0; j < n; ++j) {
    double d = m[j * n + j];
    for (int k = 0; k < j; ++k) d -= m[j * n + k] * m[j * n + k];
    if (d <= 0) return false;
    d = std::sqrt(d);
    m[j * n + j] = d;
    for (int i = j + 1; i < n; ++i) {
      double s = m[i * n + j];
      for (int k = 0; k < j; ++k) s -= m[i * n + k] * m[j * n + k];
      m[i * n + j] = s / d;
    }
  }
  for (int i = 0; i < n; ++i) {
    double s = r[i];
    for (int k = 0; k < i; ++k) s -= m[i * n + k] * r[k];
    r[i] = s / m[i * n + i];
  }
  for (int i = n - 1; i >= 0; --i) {
    double s = r[i];
    for (int k = i + 1; k < n; ++k) s -= m[k * n + i] * r[k];
    r[i] = s / m[i * n + i];
  }
  std::copy(r.begin(), r.end(), w);
  return true;
}

// The full symmetric matrix from an upper triangle.
std::vector<double> Symmetric(const std::vector<double>& upper, int n) {
  std::vector<double> m(upper);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < i; ++j) m[i * n + j] = m[j * n + i];
  }
  return m;
}

void WriteModel(const std::string& path, const std::string& family, const RaisrModel& model) {
  std::ofstream out(path);
  out << family << " " << model.scale << " " << model.hash.angles << " " << model.hash.strengths
      << " " << model.hash.coherences << "\n";
  out.precision(9);
  for (float edge : model.hash.strength_edges) out << edge << " ";
  out << "\n";
  for (float edge : model.hash.coherence_edges) out << edge << " ";
  out << "\n" << model.weights.size() << "\n";
  for (float w : model.weights) out << w << "\n";
}

RaisrModel ReadModel(const std::string& path, std::string* family) {
  std::ifstream in(path);
  RaisrModel model;
  size_t count = 0;
  in >> *family >> model.scale >> model.hash.angles >> model.hash.strengths >>
      model.hash.coherences;
  for (float& edge : model.hash.strength_edges) in >> edge;
  for (float& edge : model.hash.coherence_edges) in >> edge;
  in >> count;
  model.weights.resize(count);
  for (float& w : model.weights) in >> w;
  if (!in) {
    std::cerr << "cannot read model " << path << "\n";
    std::exit(2);
  }
  return model;
}

float Quantile(std::vector<float> values, double q) {
  const size_t at = static_cast<size_t>(q * (values.size() - 1));
  std::nth_element(values.begin(), values.begin() + at, values.end());
  return values[at];
}

int Train(int argc, char** argv) {
  if (argc != 9 && argc != 10) return 1;
  const std::string family = argv[2];
  const int orientations = argc == 10 ? std::atoi(argv[9]) : 8;
  RaisrModel model;
  model.scale = std::atoi(argv[3]);
  model.hash.angles = std::atoi(argv[4]);
  model.hash.strengths = std::atoi(argv[5]);
  model.hash.coherences = std::atoi(argv[6]);
  if (model.hash.strengths > kRaisrMaxStrengths || model.hash.coherences > kRaisrMaxCoherences) {
    return 1;
  }
  const std::vector<Pair> pairs = ReadList(argv[8], model.scale);
  if (pairs.empty()) return 2;

  // Bin edges: quantiles of the features over every low-resolution picture.
  std::vector<float> strengths, coherences, s, c;
  for (const Pair& pair : pairs) {
    ComputeFeatures(Pad(pair.low), &s, &c);
    for (size_t k = 0; k < s.size(); k += 7) {
      strengths.push_back(s[k]);
      coherences.push_back(c[k]);
    }
  }
  for (int k = 1; k < model.hash.strengths; ++k) {
    model.hash.strength_edges[k - 1] =
        Quantile(strengths, static_cast<double>(k) / model.hash.strengths);
  }
  for (int k = 1; k < model.hash.coherences; ++k) {
    model.hash.coherence_edges[k - 1] =
        Quantile(coherences, static_cast<double>(k) / model.hash.coherences);
  }

  const int taps = kRaisrTaps, phases = model.phases(), buckets = model.hash.buckets();
  auto fresh = [&] {
    std::vector<Normal> normals(buckets);
    for (Normal& normal : normals) {
      normal.ata.assign(static_cast<size_t>(taps) * taps, 0.0);
      normal.atb.assign(static_cast<size_t>(phases) * taps, 0.0);
    }
    return normals;
  };
  std::vector<Normal> first = fresh(), second = fresh();
  const size_t half = pairs.size() / 2;
  std::thread helper([&] { Accumulate(pairs, model, orientations, half, pairs.size(), &second); });
  Accumulate(pairs, model, orientations, 0, half, &first);
  helper.join();
  Normal all{std::vector<double>(static_cast<size_t>(taps) * taps, 0.0),
             std::vector<double>(static_cast<size_t>(phases) * taps, 0.0), 0};
  for (int b = 0; b < buckets; ++b) {
    for (size_t k = 0; k < first[b].ata.size(); ++k) first[b].ata[k] += second[b].ata[k];
    for (size_t k = 0; k < first[b].atb.size(); ++k) first[b].atb[k] += second[b].atb[k];
    first[b].count += second[b].count;
    for (size_t k = 0; k < all.ata.size(); ++k) all.ata[k] += first[b].ata[k];
    for (size_t k = 0; k < all.atb.size(); ++k) all.atb[k] += first[b].atb[k];
    all.count += first[b].count;
  }

  // The common filter of each phase, then each bucket's pulled towards it.
  auto ridge = [&](const std::vector<double>& m, double factor) {
    double trace = 0;
    for (int i = 0; i < taps; ++i) trace += m[i * taps + i];
    return factor * trace / taps + 1e-6;
  };
  std::vector<double> common(static_cast<size_t>(phases) * taps);
  {
    std::vector<double> m = Symmetric(all.ata, taps);
    const double mu = ridge(m, 1e-6);
    for (int i = 0; i < taps; ++i) m[i * taps + i] += mu;
    for (int phase = 0; phase < phases; ++phase) {
      std::vector<double> r(all.atb.begin() + phase * taps, all.atb.begin() + (phase + 1) * taps);
      if (!Solve(m, r, taps, &common[static_cast<size_t>(phase) * taps])) {
        std::cerr << "the common system is singular\n";
        return 2;
      }
    }
  }
  model.weights.assign(static_cast<size_t>(buckets) * phases * taps, 0.0f);
  int sparse = 0;
  for (int b = 0; b < buckets; ++b) {
    const Normal& normal = first[b];
    std::vector<double> m = Symmetric(normal.ata, taps);
    const double mu = ridge(m, kRidge);
    for (int i = 0; i < taps; ++i) m[i * taps + i] += mu;
    for (int phase = 0; phase < phases; ++phase) {
      std::vector<double> w(taps);
      const double* prior = &common[static_cast<size_t>(phase) * taps];
      bool solved = false;
      if (normal.count >= kMinSamples) {
        std::vector<double> r(taps);
        for (int i = 0; i < taps; ++i) r[i] = normal.atb[phase * taps + i] + mu * prior[i];
        solved = Solve(m, r, taps, w.data());
      }
      if (!solved) std::copy(prior, prior + taps, w.begin());
      sparse += !solved;
      std::copy(w.begin(), w.end(),
                model.weights.begin() + (static_cast<size_t>(b) * phases + phase) * taps);
    }
  }
  std::fprintf(stderr,
               "%s %dx: %lld samples, %d buckets, %d (bucket, phase) pairs on the common filter\n",
               family.c_str(), model.scale, static_cast<long long>(all.count), buckets, sparse);
  WriteModel(argv[7], family, model);
  return 0;
}

double Psnr(const std::vector<float>& a, const std::vector<float>& b) {
  double sse = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    const double d = std::clamp(std::round(b[k]), 0.0f, 255.0f) - a[k];
    sse += d * d;
  }
  return 10 * std::log10(255.0 * 255.0 / std::max(sse / a.size(), 1e-10));
}

int Eval(int argc, char** argv) {
  if (argc != 4) return 1;
  std::string family;
  const RaisrModel model = ReadModel(argv[2], &family);
  const std::vector<Pair> pairs = ReadList(argv[3], model.scale);
  double ours = 0, cubic = 0;
  for (const Pair& pair : pairs) {
    const PaddedPlane plane = Pad(pair.low);
    std::vector<float> up(pair.high.luma.size());
    RaisrScratch scratch;
    RaisrUpscale(plane, model, up.data(), pair.high.width, 2, &scratch);
    ours += Psnr(pair.high.luma, up);
    ResamplePlane(pair.low.luma.data(), pair.low.width, pair.low.height, pair.low.width, up.data(),
                  pair.high.width, pair.high.height, pair.high.width, 2);
    cubic += Psnr(pair.high.luma, up);
  }
  std::printf("%s %dx: Y-PSNR %.3f, Catmull-Rom %.3f, over %zu pictures\n", family.c_str(),
              model.scale, ours / pairs.size(), cubic / pairs.size(), pairs.size());
  return 0;
}

int Emit(int argc, char** argv) {
  if (argc < 4) return 1;
  std::ofstream out(argv[2]);
  out << "// Generated by bench/quality/sr_train (bench/quality/train_sr.sh); do not edit.\n"
         "// The learned RAISR filters of pabsr1 and dvres (src/filters/raisr.h).\n"
         "#include \"filters/raisr_weights.h\"\n\nnamespace vidmill::filters {\nnamespace {\n\n";
  std::ostringstream table;
  for (int k = 3; k < argc; ++k) {
    std::string family;
    const RaisrModel model = ReadModel(argv[k], &family);
    float largest = 0;
    for (float w : model.weights) largest = std::max(largest, std::fabs(w));
    const float step = largest / 32000.0f;
    const std::string name = "k" + family + "_" + std::to_string(model.scale);
    out << "const int16_t " << name << "[] = {";
    for (size_t i = 0; i < model.weights.size(); ++i) {
      out << (i % 16 == 0 ? "\n    " : " ") << std::lround(model.weights[i] / step) << ",";
    }
    out << "\n};\n\n";
    char edges[256];
    const RaisrHash& h = model.hash;
    std::snprintf(edges, sizeof edges, "{%.9g, %.9g, %.9g, %.9g, %.9g}, {%.9g, %.9g, %.9g}",
                  h.strength_edges[0], h.strength_edges[1], h.strength_edges[2],
                  h.strength_edges[3], h.strength_edges[4], h.coherence_edges[0],
                  h.coherence_edges[1], h.coherence_edges[2]);
    char step_text[32];
    std::snprintf(step_text, sizeof step_text, "%.9g", step);
    table << "    {\"" << family << "\", " << model.scale << ", " << h.angles << ", " << h.strengths
          << ", " << h.coherences << ", " << edges << ", " << step_text << ", " << name << ", "
          << model.weights.size() << "},\n";
  }
  out << "}  // namespace\n\nconst RaisrWeightBlob kRaisrWeightBlobs[] = {\n"
      << table.str() << "    {nullptr, 0, 0, 0, 0, {}, {}, 0, nullptr, 0},\n};\n\n"
      << "}  // namespace vidmill::filters\n";
  return 0;
}

}  // namespace
}  // namespace vidmill::filters

int main(int argc, char** argv) {
  using namespace vidmill::filters;
  const std::string command = argc > 1 ? argv[1] : "";
  int rc = 1;
  if (command == "train") rc = Train(argc, argv);
  if (command == "eval") rc = Eval(argc, argv);
  if (command == "emit") rc = Emit(argc, argv);
  if (rc == 1) std::cerr << "usage: see the comment at the top of bench/quality/sr_train.cc\n";
  return rc;
}
