#include "engine/quality.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>

namespace vidmill::engine {
namespace {

constexpr int kDetailHeight = 360;
constexpr int kColourHeight = 180;
// Immerkær: sigma = sqrt(pi/2) / (6 N) * sum |I * M|.
const double kImmerkaerScale = std::sqrt(M_PI / 2) / 6.0;
// The block percentile that estimates noise, and the factor that removes the
// bias of taking a low percentile of noisy block estimates (measured on
// synthetic Gaussian noise, see quality_test.cc).
constexpr int kNoisePercentile = 10;
constexpr double kNoiseBias = 1.12;

int EvenWidthFor(int width, int height, int target_height) {
  int scaled = static_cast<int>(std::lround(static_cast<double>(width) * target_height / height));
  return std::max(2, scaled & ~1);
}

// Rescales / converts one picture with a cached context into `out` (tightly
// packed). `source_height` is the height of the picture handed in; with
// `top_field` the frame's lines are read two at a time.
Status Convert(SwsContextPtr& ctx, const AVFrame* frame, bool top_field, AVPixelFormat out_format,
               int out_width, int out_height, int bytes_per_pixel, std::vector<uint8_t>& out) {
  int source_height = top_field ? frame->height / 2 : frame->height;
  ctx.reset(sws_getCachedContext(ctx.release(), frame->width, source_height,
                                 static_cast<AVPixelFormat>(frame->format), out_width, out_height,
                                 out_format, SWS_AREA, nullptr, nullptr, nullptr));
  if (!ctx) {
    return Status::Internal("quality: cannot convert " + std::to_string(frame->width) + "x" +
                            std::to_string(frame->height) + " frames");
  }
  std::array<int, 4> strides{};
  for (int plane = 0; plane < 4; ++plane) {
    strides[plane] = top_field ? frame->linesize[plane] * 2 : frame->linesize[plane];
  }
  out.resize(static_cast<size_t>(out_width) * out_height * bytes_per_pixel);
  uint8_t* dst[4] = {out.data(), nullptr, nullptr, nullptr};
  int dst_stride[4] = {out_width * bytes_per_pixel, 0, 0, 0};
  int ret = sws_scale(ctx.get(), frame->data, strides.data(), 0, source_height, dst, dst_stride);
  if (ret <= 0) {
    return Status::Internal("quality: conversion failed");
  }
  return Status::Ok();
}

// Planar YUV (or grey) with 8-bit luma in plane 0, limited or full range.
bool HasEightBitLumaPlane(AVPixelFormat format) {
  switch (format) {
    case AV_PIX_FMT_YUV420P:
    case AV_PIX_FMT_YUV422P:
    case AV_PIX_FMT_YUV444P:
    case AV_PIX_FMT_YUV411P:
    case AV_PIX_FMT_YUV410P:
    case AV_PIX_FMT_YUV440P:
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_YUVJ422P:
    case AV_PIX_FMT_YUVJ444P:
    case AV_PIX_FMT_YUVJ440P:
    case AV_PIX_FMT_YUVA420P:
    case AV_PIX_FMT_NV12:
    case AV_PIX_FMT_NV21:
    case AV_PIX_FMT_NV16:
    case AV_PIX_FMT_GRAY8:
      return true;
    default:
      return false;
  }
}

bool IsFullRange(const AVFrame* frame) {
  switch (frame->format) {
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_YUVJ422P:
    case AV_PIX_FMT_YUVJ444P:
    case AV_PIX_FMT_YUVJ440P:
    case AV_PIX_FMT_GRAY8:
      return true;
    default:
      return frame->color_range == AVCOL_RANGE_JPEG;
  }
}

double Clamp05(double score) { return std::clamp(score, 0.0, 5.0); }

}  // namespace

double NoiseScore(double sigma) {
  if (sigma <= 0) {
    return 5.0;
  }
  return Clamp05(5.0 - std::log2(sigma / 0.75));
}

double DetailScore(double sharpness) { return Clamp05(5.0 * (sharpness - 0.4) / 0.4); }

double ColorScore(double colourfulness) {
  // Hasler & Suesstrunk's "averagely colourful" (M = 45) or more is excellent.
  return Clamp05(5.0 * colourfulness / 45.0);
}

std::string_view Bt500Label(double score) {
  if (score >= 4.5) {
    return "excellent";
  }
  if (score >= 3.5) {
    return "good";
  }
  if (score >= 2.5) {
    return "fair";
  }
  if (score >= 1.5) {
    return "poor";
  }
  return "bad";
}

double EstimateNoiseSigma(const uint8_t* luma, int width, int height, int stride) {
  constexpr int kBlock = 16;
  if (width < kBlock + 2 || height < kBlock + 2) {
    return 0;
  }
  // Immerkaer's estimate per 16x16 block; noise is spread evenly over the
  // picture while texture and edges are not, so the blocks with the least
  // response are the ones that show the noise alone.
  std::vector<double> block_sigmas;
  for (int top = 1; top + kBlock <= height - 1; top += kBlock) {
    for (int left = 1; left + kBlock <= width - 1; left += kBlock) {
      int64_t sum = 0;
      int64_t luma_sum = 0;
      for (int y = top; y < top + kBlock; ++y) {
        const uint8_t* above = luma + static_cast<ptrdiff_t>(y - 1) * stride;
        const uint8_t* row = above + stride;
        const uint8_t* below = row + stride;
        for (int x = left; x < left + kBlock; ++x) {
          // Immerkaer's mask [1 -2 1; -2 4 -2; 1 -2 1].
          int laplacian = (above[x - 1] + above[x + 1] + below[x - 1] + below[x + 1]) -
                          2 * (above[x] + row[x - 1] + row[x + 1] + below[x]) + 4 * row[x];
          sum += std::abs(laplacian);
          luma_sum += row[x];
        }
      }
      // Near black or white, clipping hides noise (and letterbox bars are flat).
      double mean_luma = static_cast<double>(luma_sum) / (kBlock * kBlock);
      if (mean_luma < 24 || mean_luma > 232) {
        continue;
      }
      block_sigmas.push_back(kImmerkaerScale * static_cast<double>(sum) / (kBlock * kBlock));
    }
  }
  if (block_sigmas.empty()) {
    return 0;
  }
  size_t rank = block_sigmas.size() * kNoisePercentile / 100;
  std::nth_element(block_sigmas.begin(), block_sigmas.begin() + rank, block_sigmas.end());
  return block_sigmas[rank] * kNoiseBias;
}

double BlurEffect(const uint8_t* luma, int width, int height, int stride) {
  constexpr int kReach = 4;  // a 9-tap box filter: 4 on each side
  constexpr double kTaps = 2.0 * kReach + 1;
  if (width < 2 * kReach + 2 || height < 2 * kReach + 2) {
    return 0;
  }
  // Crete-Roffet et al. (2007): blur the picture strongly along one direction
  // and measure how much of the neighbour differences disappear. A sharp picture
  // loses much (its differences were high-frequency), a blurred one little.
  // Box sums come from prefix sums along rows and columns: O(1) per pixel.
  auto at = [&](int x, int y) {
    return static_cast<int>(luma[static_cast<ptrdiff_t>(y) * stride + x]);
  };
  std::vector<int32_t> row_prefix(static_cast<size_t>(width + 1) * height);
  std::vector<int32_t> col_prefix(static_cast<size_t>(height + 1) * width);
  for (int y = 0; y < height; ++y) {
    int32_t* prefix = row_prefix.data() + static_cast<size_t>(y) * (width + 1);
    prefix[0] = 0;
    for (int x = 0; x < width; ++x) {
      prefix[x + 1] = prefix[x] + at(x, y);
    }
  }
  for (int x = 0; x < width; ++x) {
    col_prefix[x] = 0;
  }
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      col_prefix[static_cast<size_t>(y + 1) * width + x] =
          col_prefix[static_cast<size_t>(y) * width + x] + at(x, y);
    }
  }
  // Sum of the 9 pixels centred on (x, y), vertically / horizontally.
  auto box_v = [&](int x, int y) {
    return col_prefix[static_cast<size_t>(y + kReach + 1) * width + x] -
           col_prefix[static_cast<size_t>(y - kReach) * width + x];
  };
  auto box_h = [&](int x, int y) {
    const int32_t* prefix = row_prefix.data() + static_cast<size_t>(y) * (width + 1);
    return prefix[x + kReach + 1] - prefix[x - kReach];
  };
  double sum_f_ver = 0, sum_v_ver = 0, sum_f_hor = 0, sum_v_hor = 0;
  for (int y = kReach + 1; y < height - kReach; ++y) {
    for (int x = kReach + 1; x < width - kReach; ++x) {
      double d_f_ver = std::abs(at(x, y) - at(x, y - 1));
      double d_b_ver = std::abs(box_v(x, y) - box_v(x, y - 1)) / kTaps;
      double d_f_hor = std::abs(at(x, y) - at(x - 1, y));
      double d_b_hor = std::abs(box_h(x, y) - box_h(x - 1, y)) / kTaps;
      sum_f_ver += d_f_ver;
      sum_v_ver += std::max(0.0, d_f_ver - d_b_ver);
      sum_f_hor += d_f_hor;
      sum_v_hor += std::max(0.0, d_f_hor - d_b_hor);
    }
  }
  double blur_ver = sum_f_ver > 0 ? (sum_f_ver - sum_v_ver) / sum_f_ver : 1.0;
  double blur_hor = sum_f_hor > 0 ? (sum_f_hor - sum_v_hor) / sum_f_hor : 1.0;
  return std::max(blur_ver, blur_hor);
}

double Colourfulness(const uint8_t* rgb24, int width, int height, int stride) {
  if (width <= 0 || height <= 0) {
    return 0;
  }
  double sum_rg = 0, sum_yb = 0, sum_rg2 = 0, sum_yb2 = 0;
  for (int y = 0; y < height; ++y) {
    const uint8_t* pixel = rgb24 + static_cast<ptrdiff_t>(y) * stride;
    for (int x = 0; x < width; ++x, pixel += 3) {
      double rg = static_cast<double>(pixel[0]) - pixel[1];
      double yb = 0.5 * (pixel[0] + pixel[1]) - pixel[2];
      sum_rg += rg;
      sum_yb += yb;
      sum_rg2 += rg * rg;
      sum_yb2 += yb * yb;
    }
  }
  double n = static_cast<double>(width) * height;
  double mean_rg = sum_rg / n, mean_yb = sum_yb / n;
  double var_rg = std::max(0.0, sum_rg2 / n - mean_rg * mean_rg);
  double var_yb = std::max(0.0, sum_yb2 / n - mean_yb * mean_yb);
  return std::sqrt(var_rg + var_yb) + 0.3 * std::sqrt(mean_rg * mean_rg + mean_yb * mean_yb);
}

QualityAssessment AssessQuality(const std::vector<FrameQuality>& frames) {
  QualityAssessment out;
  out.frames_measured = static_cast<int>(frames.size());
  if (frames.empty()) {
    return out;
  }
  double noise = 0, detail = 0, colour = 0;
  for (const FrameQuality& frame : frames) {
    noise += frame.noise_sigma;
    detail += frame.sharpness;
    colour += frame.colourfulness;
  }
  double n = static_cast<double>(frames.size());
  auto metric = [](const char* name, double mean, double score) {
    return QualityMetric{name, mean, score, std::string(Bt500Label(score))};
  };
  out.metrics.push_back(metric("noise", noise / n, NoiseScore(noise / n)));
  out.metrics.push_back(metric("details", detail / n, DetailScore(detail / n)));
  out.metrics.push_back(metric("colors", colour / n, ColorScore(colour / n)));
  double total = 0;
  for (const QualityMetric& m : out.metrics) {
    total += m.subjective_score;
  }
  out.overall_subjective_score = total / out.metrics.size();
  return out;
}

const QualityMetric* QualityAssessment::Find(std::string_view name) const {
  for (const QualityMetric& metric : metrics) {
    if (metric.name == name) {
      return &metric;
    }
  }
  return nullptr;
}

boost::json::object QualityAssessment::ToJson() const {
  boost::json::array list;
  for (const QualityMetric& metric : metrics) {
    list.push_back(boost::json::object{{"name", metric.name},
                                       {"sampleMean", metric.sample_mean},
                                       {"subjectiveLabel", metric.subjective_label},
                                       {"subjectiveScore", metric.subjective_score}});
  }
  return boost::json::object{{"metrics", std::move(list)},
                             {"overallSubjectiveScore", overall_subjective_score}};
}

Result<FrameQuality> QualityAnalyzer::Measure(const AVFrame* frame, bool top_field) {
  FrameQuality quality;
  const int height = top_field ? frame->height / 2 : frame->height;
  if (HasEightBitLumaPlane(static_cast<AVPixelFormat>(frame->format))) {
    // The luma plane is already 8-bit grey: read it in place.
    const int stride = top_field ? frame->linesize[0] * 2 : frame->linesize[0];
    quality.noise_sigma = EstimateNoiseSigma(frame->data[0], frame->width, height, stride);
    // libswscale's grey is full range: report limited-range luma in the same units.
    if (!IsFullRange(frame)) {
      quality.noise_sigma *= 255.0 / 219.0;
    }
  } else {
    RETURN_IF_ERROR(Convert(to_gray_[top_field], frame, top_field, AV_PIX_FMT_GRAY8, frame->width,
                            height, 1, gray_));
    quality.noise_sigma = EstimateNoiseSigma(gray_.data(), frame->width, height, frame->width);
  }

  // Widths follow the frame's storage aspect, also for a field: a field of
  // 720x576 is the 720x576 picture at half the lines, not a 2.5:1 picture
  // (scaled to 900x360 it would be enlarged both ways and read as blurred).
  const int detail_width = EvenWidthFor(frame->width, frame->height, kDetailHeight);
  RETURN_IF_ERROR(Convert(to_gray_small_[top_field], frame, top_field, AV_PIX_FMT_GRAY8,
                          detail_width, kDetailHeight, 1, gray_small_));
  quality.sharpness =
      1.0 - BlurEffect(gray_small_.data(), detail_width, kDetailHeight, detail_width);

  const int colour_width = EvenWidthFor(frame->width, frame->height, kColourHeight);
  RETURN_IF_ERROR(Convert(to_rgb_small_[top_field], frame, top_field, AV_PIX_FMT_RGB24,
                          colour_width, kColourHeight, 3, rgb_small_));
  quality.colourfulness =
      Colourfulness(rgb_small_.data(), colour_width, kColourHeight, colour_width * 3);
  return quality;
}

Status QualityAnalyzer::AddFrame(const AVFrame* frame) {
  if (frame->width < 8 || frame->height < 8) {
    return Status::Ok();  // Too small to say anything; not an error.
  }
  ASSIGN_OR_RETURN(FrameQuality progressive, Measure(frame, false));
  ASSIGN_OR_RETURN(FrameQuality field, Measure(frame, true));
  progressive_.push_back(progressive);
  field_.push_back(field);
  return Status::Ok();
}

}  // namespace vidmill::engine
