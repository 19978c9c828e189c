#include "filters/filter.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>

#include "filters/deint.h"
#include "filters/dejit.h"
#include "filters/denoise.h"
#include "filters/film_grain_core.h"
#include "filters/super_resolution.h"

namespace vidmill::filters {
namespace {

constexpr std::array<std::string_view, 6> kFilterNames = {"deint",  "denoise", "dejit",
                                                          "pabsr1", "dvres",   "filmgrain"};

// filmgrain as a VideoFilter: stateless apart from the frame counter.
class FilmGrainFilter final : public VideoFilter {
 public:
  FilmGrainFilter(const FilterConfig& config, double strength, uint64_t seed)
      : config_(config), strength_(strength), seed_(seed) {}

  Status Push(const FrameView& in, int64_t pts) override {
    if (flushed_) return Status::InvalidArgument("filmgrain: Push after Flush");
    if (!(in.format == config_.input)) {
      return Status::InvalidArgument("filmgrain: frame format differs from the configured input");
    }
    OwnedFrame frame = OwnedFrame::CopyOf(in);
    frame.pts = pts;
    RETURN_IF_ERROR(AddFilmGrain(frame.view(), strength_, seed_, frame_index_++,
                                 /*full_range=*/false, &noise_, &blurred_));
    ready_.push_back(std::move(frame));
    return Status::Ok();
  }
  Status Pull(std::vector<OwnedFrame>* out) override { return MoveReadyFrames(&ready_, out); }
  Status Flush() override {
    flushed_ = true;
    return Status::Ok();
  }
  PixelFormat output_format() const override { return config_.input; }

 private:
  FilterConfig config_;
  double strength_;
  uint64_t seed_;
  int64_t frame_index_ = 0;
  bool flushed_ = false;
  std::vector<OwnedFrame> ready_;
  std::vector<float> noise_;
  std::vector<float> blurred_;
};

Result<std::unique_ptr<VideoFilter>> MakeFilmGrain(const FilterConfig& config) {
  RETURN_IF_ERROR(config.input.Validate());
  RETURN_IF_ERROR(CheckProperties(config, "filmgrain", {"strength", "seed"}));
  ASSIGN_OR_RETURN(double strength,
                   DoubleProperty(config, "filmgrain", "strength", 0.35, 0.0, 1.0));
  uint64_t seed = 0x5eed5eed;
  if (auto it = config.properties.find("seed"); it != config.properties.end()) {
    const std::string& text = it->second;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seed);
    if (error != std::errc() || end != text.data() + text.size()) {
      return Status::InvalidArgument("filmgrain: seed must be an unsigned integer, got '" + text +
                                     "'");
    }
  }
  return std::unique_ptr<VideoFilter>(new FilmGrainFilter(config, strength, seed));
}

}  // namespace

Result<ClarityBoost> ParseClarityBoost(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, ClarityBoost>, 7> kLevels = {{
      {"none", ClarityBoost::kNone},
      {"marginal", ClarityBoost::kMarginal},
      {"very_low", ClarityBoost::kVeryLow},
      {"low", ClarityBoost::kLow},
      {"medium", ClarityBoost::kMedium},
      {"high", ClarityBoost::kHigh},
      {"very_high", ClarityBoost::kVeryHigh},
  }};
  for (const auto& [level_name, level] : kLevels) {
    if (level_name == name) return level;
  }
  return Status::InvalidArgument("clarityBoost '" + std::string(name) +
                                 "' is not one of none, marginal, very_low, low, medium, high, "
                                 "very_high");
}

Status MoveReadyFrames(std::vector<OwnedFrame>* ready, std::vector<OwnedFrame>* out) {
  for (OwnedFrame& frame : *ready) out->push_back(std::move(frame));
  ready->clear();
  return Status::Ok();
}

bool IsKnownFilterName(std::string_view name) {
  return std::find(kFilterNames.begin(), kFilterNames.end(), name) != kFilterNames.end();
}

Result<std::unique_ptr<VideoFilter>> MakeFilter(std::string_view name, const FilterConfig& config) {
  if (name == "deint") return Deinterlacer::Create(config);
  if (name == "dejit") return Dejitter::Create(config);
  if (name == "denoise") return Denoiser::Create(config);
  if (name == "filmgrain") return MakeFilmGrain(config);
  if (name == "pabsr1" || name == "dvres") return MakeSuperResolution(name, config);
  return Status::InvalidArgument("unknown filter '" + std::string(name) +
                                 "' (known: deint, denoise, dejit, pabsr1, dvres, filmgrain)");
}

Result<double> DoubleProperty(const FilterConfig& config, std::string_view filter,
                              const std::string& key, double fallback, double lo, double hi) {
  auto it = config.properties.find(key);
  if (it == config.properties.end()) return fallback;
  const std::string& text = it->second;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(value >= lo && value <= hi)) {
    return Status::InvalidArgument(std::string(filter) + ": " + key + " must be a number in [" +
                                   std::to_string(lo) + ", " + std::to_string(hi) + "], got '" +
                                   text + "'");
  }
  return value;
}

Status CheckProperties(const FilterConfig& config, std::string_view filter,
                       const std::vector<std::string>& allowed) {
  for (const auto& [key, value] : config.properties) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string list;
      for (const std::string& name : allowed) list += (list.empty() ? "" : ", ") + name;
      return Status::InvalidArgument(
          std::string(filter) + " has no property '" + key + "'" +
          (list.empty() ? " (it takes none)" : " (it takes " + list + ")"));
    }
  }
  return Status::Ok();
}

}  // namespace vidmill::filters
