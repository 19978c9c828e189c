#include "filters/super_resolution.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "filters/clarity.h"
#include "filters/denoise.h"
#include "filters/fusion.h"
#include "filters/halves.h"
#include "filters/raisr.h"
#include "filters/refine_net.h"
#include "filters/resample.h"

namespace vidmill::filters {
namespace {

constexpr int kThreads = 2;

// Reads a plane into floats in 8-bit code units; the two halves of the rows
// on two threads, as FromFloat.
void ToFloat(const PlaneView& plane, float* out, ptrdiff_t out_stride) {
  const float scale = 255.0f / ((1 << plane.bit_depth) - 1);
  RunInHalves(plane.height, kThreads > 1, [&](int begin, int end) {
    for (int y = begin; y < end; ++y) {
      float* dst = out + y * out_stride;
      if (plane.bit_depth > 8) {
        const uint16_t* row = plane.Row16(y);
        for (int x = 0; x < plane.width; ++x) dst[x] = row[x] * scale;
      } else {
        const uint8_t* row = plane.Row8(y);
        for (int x = 0; x < plane.width; ++x) dst[x] = row[x];
      }
    }
  });
}

// Writes floats in 8-bit code units into pixels [x_begin, x_end) of row y of
// `plane` (src[x − x_begin]): rounded, clamped.
void FromFloatRow(const float* src, const PlaneView& plane, int y, int x_begin, int x_end) {
  const int max_value = (1 << plane.bit_depth) - 1;
  const float scale = max_value / 255.0f;
  const int count = x_end - x_begin;
  if (plane.bit_depth > 8) {
    uint16_t* row = plane.Row16(y) + x_begin;
    for (int x = 0; x < count; ++x) {
      row[x] = static_cast<uint16_t>(std::clamp(src[x] * scale + 0.5f, 0.0f, float(max_value)));
    }
  } else {
    uint8_t* row = plane.Row8(y) + x_begin;
    int x = 0;
#if defined(__SSE2__)
    // 16 at a time, the same values as the loop below: x + ½ clamped to
    // [0, 255], then truncated (which for values ≥ 0 is floor).
    const __m128 half = _mm_set1_ps(0.5f), zero = _mm_setzero_ps(), top = _mm_set1_ps(255.0f);
    const auto four = [&](int at) {
      const __m128 v = _mm_add_ps(_mm_loadu_ps(src + at), half);
      return _mm_cvttps_epi32(_mm_min_ps(_mm_max_ps(v, zero), top));
    };
    for (; x + 16 <= count; x += 16) {
      const __m128i low = _mm_packs_epi32(four(x), four(x + 4));
      const __m128i high = _mm_packs_epi32(four(x + 8), four(x + 12));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(row + x), _mm_packus_epi16(low, high));
    }
#endif
    for (; x < count; ++x) {
      row[x] = static_cast<uint8_t>(std::clamp(src[x] + 0.5f, 0.0f, 255.0f));
    }
  }
}

// The same for every row, the two halves of the rows on two threads (at
// 2560 × 1440 on one thread it is 8 % of pabsr1 2×'s CPU time, all of it
// wall time).
void FromFloat(const float* in, ptrdiff_t in_stride, const PlaneView& plane) {
  RunInHalves(plane.height, kThreads > 1, [&](int begin, int end) {
    for (int y = begin; y < end; ++y) FromFloatRow(in + y * in_stride, plane, y, 0, plane.width);
  });
}

constexpr int kMaxPasses = 2;

class SuperResolution final : public VideoFilter {
 public:
  // `passes`: how many times the learned filters (and network) run, each
  // pass scaling the previous one's output: 1, or 2 for pabsr1's 2× twice.
  SuperResolution(std::string family, const FilterConfig& config, PixelFormat output,
                  const RaisrModel* model, const ConvNet* refine, int passes)
      : family_(std::move(family)),
        config_(config),
        output_(output),
        model_(model),
        refine_(refine),
        passes_(passes) {}

  Status Push(const FrameView& in, int64_t pts) override {
    if (flushed_) return Status::InvalidArgument(family_ + ": Push after Flush");
    if (!(in.format == config_.input)) {
      return Status::InvalidArgument(family_ + ": frame format differs from the configured input");
    }
    // Every sample is written below (both fields' rows when by fields).
    OwnedFrame result = OwnedFrame::ForOverwrite(output_);
    result.pts = pts;
    if (fields_) {
      // Each field on its own: views of every other row, in and out.
      for (int parity = 0; parity < 2; ++parity) {
        Scale(FieldOf(in, parity), FieldOf(result.view(), parity));
      }
    } else {
      Scale(in, result.view());
    }
    ready_.push_back(std::move(result));
    return Status::Ok();
  }

  void set_fields(bool fields) { fields_ = fields; }

  Status Pull(std::vector<OwnedFrame>* out) override { return MoveReadyFrames(&ready_, out); }
  Status Flush() override {
    flushed_ = true;
    return Status::Ok();
  }
  PixelFormat output_format() const override { return output_; }

 private:
  void Scale(const FrameView& in, const FrameView& dst) {
    ScaleLuma(in.planes[0], dst.planes[0]);
    for (int plane = 1; plane < 3; ++plane) {
      const PlaneView& src = in.planes[plane];
      chroma_in_.resize(static_cast<size_t>(src.width) * src.height);
      ToFloat(src, chroma_in_.data(), src.width);
      const PlaneView& out = dst.planes[plane];
      chroma_out_.resize(static_cast<size_t>(out.width) * out.height);
      ResamplePlane(chroma_in_.data(), src.width, src.height, src.width, chroma_out_.data(),
                    out.width, out.height, out.width, kThreads);
      FromFloat(chroma_out_.data(), out.width, out);
    }
  }

  void ScaleLuma(const PlaneView& src, const PlaneView& dst) {
    const int out_w = dst.width, out_h = dst.height;
    // The output in floats, sized when first needed: not at all when the
    // corrected rows go straight into `dst`.
    const auto final_plane = [&] {
      final_.resize(static_cast<size_t>(out_w) * out_h);
      return final_.data();
    };
    if (model_ == nullptr) {
      luma_.resize(static_cast<size_t>(src.width) * src.height);
      ToFloat(src, luma_.data(), src.width);
      ResamplePlane(luma_.data(), src.width, src.height, src.width, final_plane(), out_w, out_h,
                    out_w, kThreads);
    } else {
      padded_[0].Resize(src.width, src.height);
      ToFloat(src, padded_[0].Row(0), padded_[0].stride);
      padded_[0].FillBorder();
      // Each pass scales padded_[pass] into the next padded plane, or, the
      // last, into final_ (or luma_, to be resampled to the output size).
      for (int pass = 0; pass < passes_; ++pass) {
        const PaddedPlane& in = padded_[pass];
        const int up_w = in.width * model_->scale, up_h = in.height * model_->scale;
        const bool last = pass + 1 == passes_;
        const bool exact = last && up_w == out_w && up_h == out_h;
        // Nothing left to do after the network: its rows go straight into
        // the output.
        const bool straight =
            exact && refine_ != nullptr && ClarityAmount(config_.clarity_boost) == 0.0f;
        float* up = nullptr;
        std::ptrdiff_t up_stride = up_w;
        if (!last) {
          padded_[pass + 1].Resize(up_w, up_h);
          up = padded_[pass + 1].Row(0);
          up_stride = padded_[pass + 1].stride;
        } else if (exact) {
          if (!straight) up = final_plane();
        } else {
          luma_.resize(static_cast<size_t>(up_w) * up_h);
          up = luma_.data();
        }
        if (refine_ != nullptr) {
          // The learned filters' upscale, then it corrected into `up` or,
          // when nothing else is left to do, straight into the output.
          unrefined_.resize(static_cast<size_t>(up_w) * up_h);
          RaisrUpscale(in, *model_, unrefined_.data(), up_w, kThreads, &raisr_scratch_);
          const RefinedRowSink emit = [&](int y, int x_begin, int x_end, const float* row) {
            if (straight) {
              FromFloatRow(row, dst, y, x_begin, x_end);
            } else {
              std::copy(row, row + (x_end - x_begin), up + y * up_stride + x_begin);
            }
          };
          RefineUpscale(*refine_, in.Row(0), in.stride, in.width, in.height, unrefined_.data(),
                        up_w, emit, kThreads > 1);
          if (straight) return;
        } else {
          RaisrUpscale(in, *model_, up, up_stride, kThreads, &raisr_scratch_);
        }
        if (!last) {
          padded_[pass + 1].FillBorder();
        } else if (!exact) {
          ResamplePlane(luma_.data(), up_w, up_h, up_w, final_plane(), out_w, out_h, out_w,
                        kThreads);
        }
      }
    }
    ApplyClarity(final_plane(), out_w, out_h, out_w, config_.clarity_boost, kThreads);
    FromFloat(final_.data(), out_w, dst);
  }

  std::string family_;
  FilterConfig config_;
  PixelFormat output_;
  const RaisrModel* model_;
  const ConvNet* refine_;  // null: the learned filters alone
  int passes_;
  RaisrScratch raisr_scratch_;
  // Planes of float samples; each user writes every sample (SampleAllocator
  // leaves them unset).
  using Floats = std::vector<float, SampleAllocator<float>>;
  Floats unrefined_;  // the learned filters' output, before the network
  bool flushed_ = false;
  bool fields_ = false;
  std::vector<OwnedFrame> ready_;
  PaddedPlane padded_[kMaxPasses];
  Floats luma_, final_, chroma_in_, chroma_out_;
};

// dvres's temporal stage: Vidmill's denoise (motion-compensated, five
// pictures) with its noise estimate scaled by 1.5 for coding noise. Coding
// noise is partly shared by neighbouring pictures (skipped and predicted
// blocks copy it), so the temporal difference under-estimates it. Chosen on
// the training photos (docs/filters.md: 1, 1.5, 2, 3 tried; 1.5 the best sum
// of the MPEG-2 and H.264 gains).
constexpr char kTemporalStrength[] = "1.5";

// dvres: the temporal stage, then the single-picture learned filters on its
// output, then (where there is one) picture fusion on theirs. Holds the
// temporal stage's look-ahead (two pictures) and the fusion's until Flush.
class TemporalRestoration final : public VideoFilter {
 public:
  TemporalRestoration(PixelFormat input, std::unique_ptr<VideoFilter> temporal,
                      std::unique_ptr<VideoFilter> spatial, std::unique_ptr<VideoFilter> fusion)
      : input_(input),
        temporal_(std::move(temporal)),
        spatial_(std::move(spatial)),
        fusion_(std::move(fusion)) {}

  Status Push(const FrameView& in, int64_t pts) override {
    if (flushed_) return Status::InvalidArgument("dvres: Push after Flush");
    if (!(in.format == input_)) {
      return Status::InvalidArgument("dvres: frame format differs from the configured input");
    }
    RETURN_IF_ERROR(temporal_->Push(in, pts));
    return Forward();
  }
  Status Pull(std::vector<OwnedFrame>* out) override {
    return (fusion_ ? fusion_ : spatial_)->Pull(out);
  }
  Status Flush() override {
    if (flushed_) return Status::Ok();
    flushed_ = true;
    RETURN_IF_ERROR(temporal_->Flush());
    RETURN_IF_ERROR(Forward());
    RETURN_IF_ERROR(spatial_->Flush());
    if (!fusion_) return Status::Ok();
    RETURN_IF_ERROR(ForwardScaled());
    return fusion_->Flush();
  }
  PixelFormat output_format() const override { return spatial_->output_format(); }

 private:
  // Hands what the temporal stage released to the spatial one (and what that
  // released to the fusion).
  Status Forward() {
    restored_.clear();
    RETURN_IF_ERROR(temporal_->Pull(&restored_));
    for (const OwnedFrame& frame : restored_)
      RETURN_IF_ERROR(spatial_->Push(frame.view(), frame.pts));
    return fusion_ ? ForwardScaled() : Status::Ok();
  }
  Status ForwardScaled() {
    restored_.clear();
    RETURN_IF_ERROR(spatial_->Pull(&restored_));
    for (const OwnedFrame& frame : restored_)
      RETURN_IF_ERROR(fusion_->Push(frame.view(), frame.pts));
    return Status::Ok();
  }

  PixelFormat input_;
  std::unique_ptr<VideoFilter> temporal_;
  std::unique_ptr<VideoFilter> spatial_;
  std::unique_ptr<VideoFilter> fusion_;  // null: none
  std::vector<OwnedFrame> restored_;
  bool flushed_ = false;
};

}  // namespace

int LearnedScaleFor(std::string_view family, int in_width, int in_height, int out_width,
                    int out_height) {
  const double ratio = std::max(static_cast<double>(out_width) / in_width,
                                static_cast<double>(out_height) / in_height);
  if (family == "dvres") return ratio <= 1.0 ? 1 : 2;
  if (ratio <= 1.0) return 0;
  return ratio <= 2.0 ? 2 : 4;
}

Result<std::unique_ptr<VideoFilter>> MakeSuperResolution(std::string_view family,
                                                         const FilterConfig& config) {
  const std::string name(family);
  RETURN_IF_ERROR(config.input.Validate());
  const bool dvres = family == "dvres";
  RETURN_IF_ERROR(
      CheckProperties(config, name,
                      dvres ? std::vector<std::string>{"fields", "temporal", "refine", "fusion"}
                            : std::vector<std::string>{"fields", "refine"}));
  ASSIGN_OR_RETURN(double fields, DoubleProperty(config, name, "fields", 0, 0, 1));
  if (fields != 0 && fields != 1) return Status::InvalidArgument(name + ": fields must be 0 or 1");
  ASSIGN_OR_RETURN(double temporal, DoubleProperty(config, name, "temporal", 1, 0, 1));
  if (temporal != 0 && temporal != 1) {
    return Status::InvalidArgument(name + ": temporal must be 0 or 1");
  }
  ASSIGN_OR_RETURN(double fusion_on, DoubleProperty(config, name, "fusion", 1, 0, 1));
  if (fusion_on != 0 && fusion_on != 1)
    return Status::InvalidArgument(name + ": fusion must be 0 or 1");
  ASSIGN_OR_RETURN(double refine_on, DoubleProperty(config, name, "refine", 1, 0, 1));
  if (refine_on != 0 && refine_on != 1)
    return Status::InvalidArgument(name + ": refine must be 0 or 1");
  PixelFormat output = config.input;
  if (config.output_width != 0 || config.output_height != 0) {
    output.width = config.output_width;
    output.height = config.output_height;
  }
  RETURN_IF_ERROR(output.Validate());
  if (family == "dvres" && config.clarity_boost != ClarityBoost::kNone) {
    return Status::InvalidArgument("clarityBoost applies only with the pabsr1 scaler");
  }
  int scale = LearnedScaleFor(family, config.input.width, config.input.height / (1 + fields),
                              output.width, output.height / (1 + fields));
  // The refinement network of pabsr1's 2× filters, where this build has one
  // (property refine = 0 turns it off). It follows dvres's 2× filters too:
  // trained on clean downscales, on dvres's coded training clips it gained
  // 0.34 dB on MPEG-2 (no photo lost) and 0.01 on H.264 (docs/filters.md).
  // pabsr1 beyond 2× with it: the 2× filters and network twice, which beat
  // the 4× filters on every training photo.
  const ConvNet* refine_2x = refine_on == 1 ? FindRefineNet("pabsr1", 2) : nullptr;
  int passes = 1;
  if (!dvres && scale == 4 && refine_2x != nullptr) {
    scale = 2;
    passes = 2;
  }
  const RaisrModel* model = nullptr;
  if (scale != 0) {
    model = FindRaisrModel(family, scale);
    if (model == nullptr) {
      return Status::NotImplemented("the '" + name + "' filter has no trained " +
                                    std::to_string(scale) + "x model in this build");
    }
  }
  // The network for the learned filters' scale, where there is one.
  const ConvNet* refine = nullptr;
  if (refine_on == 1 && model != nullptr) {
    refine = model->scale == 2 ? refine_2x : FindRefineNet(family, model->scale);
  }
  auto filter = std::make_unique<SuperResolution>(name, config, output, model, refine, passes);
  filter->set_fields(fields == 1);
  // Fields too short to hold a row of each in every plane (frames of under 4
  // lines) get the single-picture dvres: denoise would take such frames whole,
  // mixing the two fields.
  if (!dvres || temporal == 0 || (fields == 1 && config.input.height < 4)) {
    return std::unique_ptr<VideoFilter>(std::move(filter));
  }
  FilterConfig denoise_config;
  denoise_config.input = config.input;
  denoise_config.properties["strength"] = kTemporalStrength;
  if (fields == 1) denoise_config.properties["interlaced"] = "1";
  ASSIGN_OR_RETURN(auto temporal_stage, Denoiser::Create(denoise_config));
  // Picture fusion works on whole pictures (not on interlaced material that
  // stays interlaced) large enough to measure their motion, and only when
  // dvres scales up: at 1× it blurred clean and well-coded input (audit 44:
  // −4.5 dB uncoded, −0.9 to −2.7 on MPEG-2 at 0.6–4 Mb/s).
  std::unique_ptr<VideoFilter> fusion;
  if (fusion_on == 1 && fields == 0 && scale == 2 && output.width >= kFusionMinSize &&
      output.height >= kFusionMinSize) {
    ASSIGN_OR_RETURN(fusion, PictureFusion::Create(output));
  }
  return std::unique_ptr<VideoFilter>(std::make_unique<TemporalRestoration>(
      config.input, std::move(temporal_stage), std::move(filter), std::move(fusion)));
}

}  // namespace vidmill::filters
