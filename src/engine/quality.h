#pragma once
// No-reference quality assessment: the metrics `noise`, `details` and `colors`
// of the reference's `qualityAssessment`, each a raw measure averaged over
// sampled frames (`sampleMean`) mapped to a 0–5 score and the ITU-R BT.500
// five-grade label. docs/quality.md gives the formulas, the reasons for them,
// and the calibration of the mappings.
//
//  * noise  — σ of additive noise in 8-bit luma code values, by Immerkær's fast
//             estimator (convolution with a Laplacian-difference mask) over the
//             non-edge pixels (the 10% strongest Sobel gradients are excluded,
//             after Tai & Yang). Native resolution: scaling would hide noise.
//             Score = 5 − log2(σ / 0.75), clamped: each doubling of σ costs one grade.
//  * details — mean Sobel gradient magnitude (per pixel, 8-bit units) of the luma
//             rescaled to 360 lines (area-averaged), so the measure does not grow
//             or shrink with the frame size. Score = 5 + log2(g / 12), clamped.
//  * colors — Hasler & Süsstrunk's colourfulness M = σ_rgyb + 0.3·μ_rgyb on RGB
//             at 180 lines. Score: piecewise linear through their perceptual
//             anchors (0 → 0, 15 → 1, 33 → 2, 45 → 3, 59 → 4, ≥82 → 5).
//
// Interlaced content is measured on its top field (every other line): a woven
// frame of moving content has combing that would read as detail and noise.
// QualityAnalyzer measures both readings of each frame so the choice can be
// made after scanning heuristics are known, in the same pass.
//
// Thread safety: one analyzer per thread; the free functions are pure.

#include <boost/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/av_ptr.h"

namespace vidmill::engine {

struct FrameQuality {
  double noise_sigma = 0;    // 8-bit code values
  double sharpness = 0;      // 1 − Crété-Roffet blur effect, luma at 360 lines
  double colourfulness = 0;  // Hasler–Süsstrunk M
};

struct QualityMetric {
  std::string name;  // "noise", "details", "colors"
  double sample_mean = 0;
  double subjective_score = 0;   // 0..5
  std::string subjective_label;  // excellent|good|fair|poor|bad
};

struct QualityAssessment {
  std::vector<QualityMetric> metrics;  // noise, details, colors
  double overall_subjective_score = 0;
  int frames_measured = 0;

  const QualityMetric* Find(std::string_view name) const;
  // {"metrics": [{"name", "sampleMean", "subjectiveLabel", "subjectiveScore"}…],
  //  "overallSubjectiveScore"}
  boost::json::object ToJson() const;
};

// The mappings from raw measures to 0..5 (see the file comment).
double NoiseScore(double sigma);
double DetailScore(double sharpness);
double ColorScore(double colourfulness);
// ITU-R BT.500 five-grade label of a 0..5 score: ≥4.5 excellent, ≥3.5 good,
// ≥2.5 fair, ≥1.5 poor, else bad.
std::string_view Bt500Label(double score);

// The three measures on 8-bit planes (exposed for tests and tools).
// `luma` is width×height with `stride` bytes per line.
double EstimateNoiseSigma(const uint8_t* luma, int width, int height, int stride);
// Crete-Roffet's no-reference blur effect: 0 sharp … 1 fully blurred.
double BlurEffect(const uint8_t* luma, int width, int height, int stride);
double Colourfulness(const uint8_t* rgb24, int width, int height, int stride);

// The assessment from per-frame measures (the mean of each).
QualityAssessment AssessQuality(const std::vector<FrameQuality>& frames);

class QualityAnalyzer {
 public:
  QualityAnalyzer() = default;

  // Measures `frame` as a progressive picture and as its top field. Any pixel
  // format libswscale reads is accepted.
  Status AddFrame(const AVFrame* frame);

  // The assessment for the chosen reading. With no frame measured, the
  // metrics are empty and the overall score is 0.
  QualityAssessment Assess(bool interlaced) const {
    return AssessQuality(interlaced ? field_ : progressive_);
  }

  // How many frames have been measured so far.
  size_t frames_measured() const { return progressive_.size(); }

 private:
  Result<FrameQuality> Measure(const AVFrame* frame, bool top_field);

  // One set of converters per reading ([0] frame, [1] top field), so neither
  // invalidates the other's cached context.
  SwsContextPtr to_gray_[2];
  SwsContextPtr to_gray_small_[2];
  SwsContextPtr to_rgb_small_[2];
  std::vector<uint8_t> gray_;
  std::vector<uint8_t> gray_small_;
  std::vector<uint8_t> rgb_small_;
  std::vector<FrameQuality> progressive_;
  std::vector<FrameQuality> field_;
};

}  // namespace vidmill::engine
