#include "videos/processing_request.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "common/audio_streams.h"
#include "common/mpeg2_levels.h"

namespace vidmill::videos {
namespace {

using boost::json::object;
using boost::json::value;

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// JSON as the client wrote it: numbers plainly (4000.5 and 0.001, not
// Boost's 4.0005E3 and 1E-3), inside objects and arrays too.
std::string PlainJson(const value& v) {
  if (v.is_double()) {
    char number[32];
    std::snprintf(number, sizeof(number), "%.15g", v.as_double());
    return number;
  }
  std::string text;
  if (v.is_object()) {
    for (const auto& [key, member] : v.as_object()) {
      text +=
          (text.empty() ? "{" : ",") + boost::json::serialize(value(key)) + ":" + PlainJson(member);
    }
    return text.empty() ? "{}" : text + "}";
  }
  if (v.is_array()) {
    for (const value& element : v.as_array()) {
      text += (text.empty() ? "[" : ",") + PlainJson(element);
    }
    return text.empty() ? "[]" : text + "]";
  }
  return boost::json::serialize(v);
}

// A frame rate as people write it: 25, 29.97, 0.75, 119.88 (not 25.000000).
std::string Rate(double fps) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f", fps);
  std::string out = text;
  out.erase(out.find_last_not_of('0') + 1);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

std::string Describe(const value& v) {
  std::string text = PlainJson(v);
  return text.size() > 80 ? text.substr(0, 77) + "..." : text;
}

Status Refuse(const std::string& field, const value& given, const std::string& allowed) {
  return Status::InvalidArgument(field + ": " + Describe(given) + " is not allowed; " + allowed);
}

Status CheckKeys(const object& obj, const std::string& path, const std::vector<std::string>& keys) {
  for (const auto& item : obj) {
    if (std::find(keys.begin(), keys.end(), std::string(item.key())) == keys.end()) {
      std::string field =
          path.empty() ? std::string(item.key()) : path + "." + std::string(item.key());
      return Status::InvalidArgument("unknown field '" + field + "'; " +
                                     (path.empty() ? std::string("fields") : path + " takes") +
                                     ": " + Join(keys));
    }
  }
  return Status::Ok();
}

Result<std::optional<std::string>> OptString(const object& obj, const std::string& key,
                                             const std::string& field) {
  auto it = obj.find(key);
  if (it == obj.end() || it->value().is_null()) return std::optional<std::string>();
  if (!it->value().is_string()) return Refuse(field, it->value(), "a string is expected");
  return std::optional<std::string>(std::string(it->value().as_string()));
}

Result<std::optional<double>> OptNumber(const object& obj, const std::string& key,
                                        const std::string& field) {
  auto it = obj.find(key);
  if (it == obj.end() || it->value().is_null()) return std::optional<double>();
  const value& v = it->value();
  if (v.is_int64()) return std::optional<double>(static_cast<double>(v.as_int64()));
  if (v.is_uint64()) return std::optional<double>(static_cast<double>(v.as_uint64()));
  if (v.is_double() && std::isfinite(v.as_double())) return std::optional<double>(v.as_double());
  return Refuse(field, v, "a number is expected");
}

// obj[key] as an object; nullptr when it is absent, null or empty — an empty
// object asks for nothing, so every group takes its defaults from it alike.
Result<const object*> OptObject(const object& obj, const std::string& key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->value().is_null() ||
      (it->value().is_object() && it->value().as_object().empty())) {
    return static_cast<const object*>(nullptr);
  }
  if (!it->value().is_object()) return Refuse(key, it->value(), "an object is expected");
  return &it->value().as_object();
}

Result<std::string> OneOf(const std::string& field, const std::string& given,
                          const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), given) == allowed.end()) {
    return Refuse(field, value(given), "allowed: " + Join(allowed));
  }
  return given;
}

const std::vector<std::string> kContainers = {"mov", "mxf", "mp4", "mts"};
const std::vector<std::string> kCodecs = {"h264", "prores", "dnxhd", "xdcam",
                                          "hevc", "mpeg2",  "ffv1"};
const std::vector<std::string> kProresProfiles = {"proxy", "lt",   "standard",
                                                  "hq",    "4444", "4444xq"};
const std::vector<std::string> kDnxProfiles = {"dnxhd_lb",  "dnxhd_sq", "dnxhd_hq", "dnxhd_hqx",
                                               "dnxhd_444", "dnxhr_lb", "dnxhr_sq", "dnxhr_hq",
                                               "dnxhr_hqx", "dnxhr_444"};
const std::vector<std::string> kChromas = {"4:1:0", "4:1:1", "4:2:0", "4:2:2", "4:4:0", "4:4:4"};
const std::vector<int> kBits = {8, 10, 12, 14, 16};
const std::vector<std::string> kClarity = {"none",   "marginal", "very_low", "low",
                                           "medium", "high",     "very_high"};

const std::map<std::string, double>& FrameRateTags() {
  static const std::map<std::string, double> tags = {
      {"film_ntsc", 24000.0 / 1001},       {"film", 24},         {"video_pal", 25},
      {"video_ntsc", 30000.0 / 1001},      {"video_hd", 30},     {"video_pal_fast", 50},
      {"video_ntsc_fast", 60000.0 / 1001}, {"video_hd_fast", 60}};
  return tags;
}

// How much chroma a subsampling keeps, for "nearest supported" moves.
int ChromaRank(const std::string& chroma) {
  static const std::map<std::string, int> rank = {{"4:1:0", 1}, {"4:1:1", 2}, {"4:2:0", 2},
                                                  {"4:4:0", 3}, {"4:2:2", 3}, {"4:4:4", 4}};
  auto it = rank.find(chroma);
  return it == rank.end() ? 2 : it->second;
}

std::pair<int, int> ChromaFactors(const std::string& chroma) {  // horizontal, vertical
  if (chroma == "4:2:0") return {2, 2};
  if (chroma == "4:2:2") return {2, 1};
  if (chroma == "4:1:1") return {4, 1};
  if (chroma == "4:1:0") return {4, 4};
  if (chroma == "4:4:0") return {1, 2};
  return {1, 1};
}

std::string PixelFormatName(const std::string& chroma, int bits) {
  static const std::map<std::string, std::string> base = {
      {"4:2:0", "yuv420p"}, {"4:2:2", "yuv422p"}, {"4:4:4", "yuv444p"},
      {"4:1:1", "yuv411p"}, {"4:1:0", "yuv410p"}, {"4:4:0", "yuv440p"}};
  std::string name = base.at(chroma);
  if (bits > 8) name += std::to_string(bits) + "le";
  return name;
}

// Rates closer than this are one rate: written to two decimals (23.98, 29.97,
// 59.94), a rate names the broadcast rate n×1000/1001, and a format's table of
// rates takes what is within it for its entry (DNxHD's treats 24.995 as 25). Rates
// this close need no converter between them.
constexpr double kSameRateFps = 0.01;

bool SameRate(double a, double b) { return std::fabs(a - b) < kSameRateFps; }

// Whether `a` is a faster rate than `b`, not the same one by SameRate.
bool FasterRate(double a, double b) { return a > b + kSameRateFps; }

// Where an encoder or muxer codes only certain rates (MPEG-2's frame_rate_code,
// MXF's content packages), a rate given must be one of them as written to three
// decimals: 23.976, 29.97 and 59.94 name n×1000/1001, which the engine's
// RateRational turns into that exact fraction; 23.98 is none of them.
constexpr double kCodedRateFps = 0.001;

bool CodedRate(double given, double coded) { return std::fabs(given - coded) < kCodedRateFps; }

// frameRate.fps agrees with frameRate.tag when it is the tag's rate as the
// reference writes it, to three decimals (film_ntsc's 24000/1001 as 23.976):
// rounding to three decimals moves a rate by at most half a thousandth.
constexpr double kTagFpsAgreement = 0.0005;

// The rate MPEG-2 codes for `fps`, if any: the nearest of its frame_rate_code
// rates times (n + 1) / (d + 1), n < 4, d < 32 (frame_rate_extension), which
// FFmpeg's encoder demands exactly. (Below 1 frame/s they lie closer together
// than CodedRate's tolerance: 0.75 is 24 / 32, not 24000/1001 / 32.)
std::optional<double> Mpeg2CodedRate(double fps) {
  static const double kRates[] = {24000.0 / 1001, 24, 25, 30000.0 / 1001, 30, 50,
                                  60000.0 / 1001, 60};
  std::optional<double> nearest;
  for (double rate : kRates) {
    for (int n = 0; n < 4; ++n) {
      for (int d = 0; d < 32; ++d) {
        const double coded = rate * (n + 1) / (d + 1);
        if (CodedRate(fps, coded) &&
            (!nearest || std::fabs(coded - fps) < std::fabs(*nearest - fps))) {
          nearest = coded;
        }
      }
    }
  }
  return nearest;
}

int RoundTo(double size, int multiple) {
  int rounded = static_cast<int>(std::lround(size / multiple)) * multiple;
  return std::max(rounded, multiple);
}

// Bits/s per pixel/s relative to H.264, for deriving bitrates across codecs.
double CodecCost(const std::string& codec) {
  if (codec == "hevc") return 0.6;
  if (codec == "mpeg2" || codec == "xdcam") return 2.0;
  if (codec == "h264") return 1.0;
  return 1.5;  // intra codecs as sources (prores, dnxhd, ffv1 …)
}

}  // namespace

const std::vector<std::string>& CodecsFor(const std::string& container) {
  static const std::map<std::string, std::vector<std::string>> pairs = {
      {"mov", {"h264", "prores", "dnxhd", "hevc", "mpeg2", "ffv1"}},
      {"mxf", {"h264", "xdcam", "mpeg2", "dnxhd"}},
      {"mp4", {"h264", "hevc"}},
      {"mts", {"h264", "hevc", "mpeg2"}}};
  static const std::vector<std::string> none;
  auto it = pairs.find(container);
  return it == pairs.end() ? none : it->second;
}

std::vector<std::string> ChromaFor(const std::string& codec, const std::string& profile) {
  if (codec == "h264" || codec == "hevc") return {"4:2:0", "4:2:2", "4:4:4"};
  if (codec == "prores") {
    return profile.rfind("4444", 0) == 0 ? std::vector<std::string>{"4:4:4"}
                                         : std::vector<std::string>{"4:2:2"};
  }
  if (codec == "dnxhd") {
    return profile.find("444") != std::string::npos ? std::vector<std::string>{"4:4:4"}
                                                    : std::vector<std::string>{"4:2:2"};
  }
  if (codec == "xdcam") return {"4:2:2"};
  if (codec == "mpeg2") return {"4:2:0", "4:2:2"};
  if (codec == "ffv1") return kChromas;
  return {};
}

std::vector<int> BitsFor(const std::string& codec, const std::string& profile,
                         const std::string& chroma) {
  if (codec == "h264") return {8, 10};
  if (codec == "hevc") return {8, 10, 12};
  if (codec == "prores") return {10};
  if (codec == "dnxhd") {
    bool ten = profile == "dnxhd_hqx" || profile == "dnxhd_444" || profile == "dnxhr_hqx" ||
               profile == "dnxhr_444";
    return ten ? std::vector<int>{10} : std::vector<int>{8};
  }
  if (codec == "xdcam" || codec == "mpeg2") return {8};
  if (codec == "ffv1") {
    // FFmpeg's encoder: 4:4:0 to 12 bits (yuv440p10le, yuv440p12le); 4:1:0
    // and 4:1:1 in 8 bits only.
    if (chroma == "4:4:0") return {8, 10, 12};
    if (chroma == "4:1:0" || chroma == "4:1:1") return {8};
    return {8, 10, 12, 14, 16};
  }
  return {};
}

std::optional<int> DnxhdBitrate(const std::string& profile, int width, int height, double fps) {
  // Avid's DNxHD table: (size, rate) → Mb/s. Rates: 23.976, 24, 25, 29.97, 50, 59.94.
  static const std::vector<double> rates = {24000.0 / 1001, 24, 25,
                                            30000.0 / 1001, 50, 60000.0 / 1001};
  static const std::map<std::string, std::vector<int>> full_hd = {
      {"dnxhd_lb", {36, 36, 36, 45, 75, 90}},
      {"dnxhd_sq", {115, 115, 120, 145, 240, 290}},
      {"dnxhd_hq", {175, 175, 185, 220, 365, 440}},
      {"dnxhd_hqx", {175, 175, 185, 0, 365, 440}},
      {"dnxhd_444", {350, 350, 390, 440, 730, 880}}};
  static const std::map<std::string, std::vector<int>> hd_ready = {
      {"dnxhd_sq", {60, 60, 60, 75, 120, 145}},
      {"dnxhd_hq", {90, 90, 90, 110, 180, 220}},
      {"dnxhd_hqx", {90, 90, 90, 0, 180, 220}}};
  const std::map<std::string, std::vector<int>>* table = nullptr;
  if (width == 1920 && height == 1080) table = &full_hd;
  if (width == 1280 && height == 720) table = &hd_ready;
  if (table == nullptr) return std::nullopt;
  auto row = table->find(profile);
  if (row == table->end()) return std::nullopt;
  for (size_t i = 0; i < rates.size(); ++i) {
    if (SameRate(rates[i], fps) && row->second[i] > 0) return row->second[i];
  }
  return std::nullopt;
}

Result<SourceInfo> SourceFromMetadata(const object& metadata, const std::string& file_name) {
  SourceInfo source;
  auto text = [&](const char* key) -> std::string {
    auto it = metadata.find(key);
    return it != metadata.end() && it->value().is_string() ? std::string(it->value().as_string())
                                                           : std::string();
  };
  auto number = [&](const value* v) -> double {
    if (v == nullptr) return 0;
    if (v->is_int64()) return static_cast<double>(v->as_int64());
    if (v->is_uint64()) return static_cast<double>(v->as_uint64());
    if (v->is_double()) return v->as_double();
    return 0;
  };
  std::string demuxer = text("containerName");
  std::string extension = file_name.substr(
      file_name.rfind('.') == std::string::npos ? file_name.size() : file_name.rfind('.') + 1);
  std::transform(extension.begin(), extension.end(), extension.begin(), ::tolower);
  if (demuxer == "mxf") {
    source.container = "mxf";
  } else if (demuxer == "mpegts") {
    source.container = "mts";
  } else if (demuxer.rfind("mov,", 0) == 0) {
    source.container = (extension == "mp4" || extension == "m4v") ? "mp4" : "mov";
  }
  std::string codec = text("codecName");
  source.codec = codec == "mpeg2video" ? "mpeg2" : codec;
  if (const value* pf = metadata.if_contains("pixelFormat"); pf && pf->is_object()) {
    if (const value* name = pf->as_object().if_contains("name"); name && name->is_string()) {
      const std::string pixel_format(name->as_string());
      for (const char* prefix :
           {"rgb", "bgr", "gbr", "argb", "abgr", "0rgb", "0bgr", "x2rgb", "x2bgr"}) {
        if (pixel_format.rfind(prefix, 0) == 0) source.rgb = true;
      }
    }
    if (const value* cs = pf->as_object().if_contains("chromaSubsampling"); cs && cs->is_object()) {
      if (const value* yuv = cs->as_object().if_contains("yuv"); yuv && yuv->is_string()) {
        source.chroma = std::string(yuv->as_string());
      }
      source.bits = static_cast<int>(number(cs->as_object().if_contains("bits")));
    }
  }
  if (std::find(kChromas.begin(), kChromas.end(), source.chroma) == kChromas.end()) {
    source.chroma = "4:2:0";
  }
  if (source.bits < 8) source.bits = 8;
  source.width = static_cast<int>(number(metadata.if_contains("frameWidth")));
  source.height = static_cast<int>(number(metadata.if_contains("frameHeight")));
  if (const value* rotation = metadata.if_contains("rotation"); rotation && rotation->is_number()) {
    source.rotation = static_cast<int>(number(rotation));
  }
  // The rate it was shot at (Vidmill's nominalFramerate; videos ingested
  // before it was recorded have only the average).
  source.fps = number(metadata.if_contains("nominalFramerate"));
  if (source.fps <= 0) source.fps = number(metadata.if_contains("averageFramerate"));
  source.duration_ms = static_cast<int64_t>(number(metadata.if_contains("durationInMillis")));
  source.timestamp_joins = number(metadata.if_contains("timestampJoins")) > 0;
  source.video_start_ms = std::max<int64_t>(
      0, static_cast<int64_t>(number(metadata.if_contains("videoStartInMillis"))));
  if (const double video_ms = number(metadata.if_contains("videoDurationInMillis")); video_ms > 0) {
    source.video_duration_ms = static_cast<int64_t>(video_ms);
  } else if (const double frames = number(metadata.if_contains("totalFrames")),
             average = number(metadata.if_contains("averageFramerate"));
             frames > 0 && average > 0) {
    // Metadata recorded before videoDurationInMillis.
    source.video_duration_ms = static_cast<int64_t>(std::ceil(frames / average * 1000));
  }
  if (source.width <= 0 || source.height <= 0 || source.fps <= 0 || source.duration_ms <= 0) {
    return Status::Conflict(
        "the source video's metadata is incomplete (size, rate or duration "
        "unknown); it cannot be processed");
  }
  std::string sar = text("sampleAspectRatio");
  if (size_t colon = sar.find(':'); colon != std::string::npos) {
    // Stored by ingestion as "N:D"; anything else leaves square pixels.
    double num = 0, den = 0;
    const auto [num_end, num_error] = std::from_chars(sar.data(), sar.data() + colon, num);
    const auto [den_end, den_error] =
        std::from_chars(sar.data() + colon + 1, sar.data() + sar.size(), den);
    if (num_error == std::errc() && den_error == std::errc() && num_end == sar.data() + colon &&
        den_end == sar.data() + sar.size() && num > 0 && den > 0) {
      source.sample_aspect = num / den;
    }
  }
  double duration_s = static_cast<double>(source.duration_ms) / 1000.0;
  double stream_size = number(metadata.if_contains("videoStreamSize"));
  if (stream_size > 0) {
    source.video_bit_rate = static_cast<int64_t>(stream_size * 8 / duration_s);
  } else {
    source.video_bit_rate = static_cast<int64_t>(number(metadata.if_contains("bitRate")));
  }
  // Scanning: the deep heuristics when ingestion ran them, else the flags.
  const value* scanning = metadata.if_contains("scanning");
  if (scanning && scanning->is_object()) {
    const value* chosen = scanning->as_object().if_contains("heuristics");
    if (!chosen || !chosen->is_object()) chosen = scanning->as_object().if_contains("metadata");
    if (chosen && chosen->is_object()) {
      const object& s = chosen->as_object();
      source.interlaced = s.contains("scanningType") && s.at("scanningType") == "interlaced";
      source.top_field_first =
          !(s.contains("interlacedFieldOrder") && s.at("interlacedFieldOrder") == "bottom_field");
    }
  }
  const value* audio = metadata.if_contains("audio");
  source.has_audio = audio && audio->is_object();
  // The engine keeps at most kMaxAudioStreams: a source with more is refused
  // rather than processed into a file without some of them.
  if (const double streams =
          source.has_audio ? number(audio->as_object().if_contains("streams")) : 0;
      streams > kMaxAudioStreams) {
    return Status::Conflict("the source has " + std::to_string(static_cast<int>(streams)) +
                            " audio streams; processing keeps at most " +
                            std::to_string(kMaxAudioStreams) +
                            ", so it cannot be processed without losing some");
  }
  return source;
}

namespace {

bool IsDnxhr(const ProcessingPlan& plan) {
  return plan.codec == "dnxhd" && plan.profile.rfind("dnxhr_", 0) == 0;
}

// DNxHD (not HR) and XDCAM HD422 are interlaced only as 1080i, top field
// first; and FFmpeg's MXF muxer cannot label bottom-first pictures of any
// codec (H.264 reads back "tt", MPEG-2 and XDCAM "tb"), so a later pass, or
// any tool trusting the file, would take their fields in the wrong order.
bool TopFieldFirstOnly(const ProcessingPlan& plan) {
  return (plan.codec == "dnxhd" && !IsDnxhr(plan)) || plan.codec == "xdcam" ||
         plan.container == "mxf";
}

// Why the plan's interlaced output cannot be made in its format, or "" when it
// can. (FFmpeg's encoders and muxers: DNxHR has no interlaced mode; DNxHD's
// interlaced formats are 1080i only; HEVC carries no field flags in MPEG-TS.)
std::string InterlacedOutputRefusal(const ProcessingPlan& plan) {
  if (IsDnxhr(plan)) {
    return "DNxHR (" + plan.profile +
           ") codes progressive frames only; use scanning progressive, or dnxhd_sq, dnxhd_hq or "
           "dnxhd_hqx at 1920x1080 for 1080i";
  }
  if (plan.codec == "dnxhd") {
    bool profile_ok =
        plan.profile == "dnxhd_sq" || plan.profile == "dnxhd_hq" || plan.profile == "dnxhd_hqx";
    bool size_ok = plan.width == 1920 && plan.height == 1080;
    bool rate_ok = SameRate(plan.fps, 25) || SameRate(plan.fps, 30000.0 / 1001);
    if (!profile_ok || !size_ok || !rate_ok) {
      const std::string got = plan.profile + " at " + std::to_string(plan.width) + "x" +
                              std::to_string(plan.height) + ", " + Rate(plan.fps) + " frames/s";
      return std::string(
                 "interlaced DNxHD exists only as 1080i: dnxhd_sq, dnxhd_hq or dnxhd_hqx "
                 "at 1920x1080 and 25 or 29.97 frames/s (got ") +
             got + ")";
    }
    if (!plan.top_field_first) return "DNxHD 1080i is top field first (interlaced_tff)";
  }
  if (plan.codec == "xdcam") {
    if (plan.height == 720) {
      return "XDCAM HD422 at 1280x720 is 720p, progressive only; interlaced XDCAM HD422 is "
             "1920x1080";
    }
    if (!CodedRate(plan.fps, 25) && !CodedRate(plan.fps, 30000.0 / 1001)) {
      return "interlaced XDCAM HD422 is 1080i at 25 or 29.97 frames/s";
    }
    if (!plan.top_field_first) return "XDCAM HD422 1080i is top field first (interlaced_tff)";
  }
  if (plan.codec == "hevc" && plan.container == "mts") {
    return "HEVC in MPEG-TS cannot be marked interlaced; use container mov or mp4, or codec h264 "
           "or mpeg2";
  }
  if (plan.container == "mxf" && !plan.top_field_first) {
    return "MXF output is interlaced top field first only (interlaced_tff; a bottom-first source "
           "is turned top-first): FFmpeg's MXF muxer labels bottom-first pictures top-first; use "
           "container mov, mp4 or mts for bottom field first";
  }
  return "";
}

// The source facts the pipeline needs, in an otherwise undecided plan.
ProcessingPlan PlanFromSource(const SourceInfo& source) {
  ProcessingPlan plan;
  plan.source_interlaced = source.interlaced;
  plan.source_top_field_first = source.top_field_first;
  plan.source_fps = source.fps;
  plan.source_width = source.width;
  plan.source_height = source.height;
  plan.source_rotation = source.rotation;
  plan.source_video_ms = source.video_duration_ms;
  plan.source_timestamp_joins = source.timestamp_joins;
  plan.has_audio = source.has_audio;
  return plan;
}

bool TakesCodec(const std::string& container, const std::string& codec) {
  const auto& codecs = CodecsFor(container);
  return std::find(codecs.begin(), codecs.end(), codec) != codecs.end();
}

// The profiles the request names (appleProresProfile, dnxhdHrProfile), each one of its list.
struct RequestedProfiles {
  std::optional<std::string> prores;
  std::optional<std::string> dnx;
};

// Decides the container and codec: as requested, the codec named by a profile, the other
// completed from the source or the first that fits, and the source's pair (else mov/h264) when
// none is named. Returns the profiles requested, for ResolveProfile.
Result<RequestedProfiles> ResolveContainerAndCodec(const object& request, const SourceInfo& source,
                                                   ProcessingPlan& plan) {
  std::optional<std::string> container;
  std::optional<std::string> codec;
  ASSIGN_OR_RETURN(const object* media, OptObject(request, "mediaContainerCodec"));
  if (media) {
    RETURN_IF_ERROR(CheckKeys(*media, "mediaContainerCodec", {"container", "codec"}));
    ASSIGN_OR_RETURN(container, OptString(*media, "container", "mediaContainerCodec.container"));
    ASSIGN_OR_RETURN(codec, OptString(*media, "codec", "mediaContainerCodec.codec"));
    if (container) {
      RETURN_IF_ERROR(OneOf("mediaContainerCodec.container", *container, kContainers).status());
    }
    if (codec) RETURN_IF_ERROR(OneOf("mediaContainerCodec.codec", *codec, kCodecs).status());
  }
  // A profile names its codec when the request names none ("appleProresProfile":
  // "hq" alone is ProRes HQ); with another codec named, it does not apply and
  // is left out (the reference's own example sends both profiles with h264).
  ASSIGN_OR_RETURN(std::optional<std::string> prores,
                   OptString(request, "appleProresProfile", "appleProresProfile"));
  ASSIGN_OR_RETURN(std::optional<std::string> dnx,
                   OptString(request, "dnxhdHrProfile", "dnxhdHrProfile"));
  if (prores) RETURN_IF_ERROR(OneOf("appleProresProfile", *prores, kProresProfiles).status());
  if (dnx) RETURN_IF_ERROR(OneOf("dnxhdHrProfile", *dnx, kDnxProfiles).status());
  if (!codec && prores && dnx) {
    return Status::InvalidArgument(
        "appleProresProfile and dnxhdHrProfile name two codecs; give mediaContainerCodec.codec");
  }
  if (!codec && prores) codec = "prores";
  if (!codec && dnx) codec = "dnxhd";
  if (container && codec) {
    if (!TakesCodec(*container, *codec)) {
      return Refuse("mediaContainerCodec", value(*container + "/" + *codec),
                    "container " + *container + " takes codecs: " + Join(CodecsFor(*container)));
    }
  } else if (container) {
    codec = TakesCodec(*container, source.codec) ? source.codec : CodecsFor(*container).front();
  } else if (codec) {
    if (TakesCodec(source.container, *codec)) {
      container = source.container;
    } else {
      for (const std::string& c : kContainers) {
        if (TakesCodec(c, *codec)) {
          container = c;
          break;
        }
      }
    }
  } else if (!source.container.empty() && TakesCodec(source.container, source.codec)) {
    container = source.container;
    codec = source.codec;
  } else {
    container = "mov";
    codec = "h264";
  }
  plan.container = *container;
  plan.codec = *codec;
  return RequestedProfiles{prores, dnx};
}

// Decides the profile of the codec used (the one requested for it, else ProRes standard or
// DNxHR SQ); the other codec's profile does not apply.
Status ResolveProfile(const RequestedProfiles& requested, ProcessingPlan& plan) {
  if (plan.codec == "prores") plan.profile = requested.prores.value_or("standard");
  if (plan.codec == "dnxhd" && requested.dnx) {
    plan.profile = *requested.dnx;
    if (plan.profile == "dnxhd_444") {
      // FFmpeg's DNxHD encoder takes 4:4:4 only with its dnxhr_444 profile, so
      // DNxHD 444 (CID 1256) cannot be made: refuse it rather than fail the job.
      return Refuse("dnxhdHrProfile", value(*requested.dnx),
                    "FFmpeg's DNxHD encoder cannot write DNxHD 444; use dnxhr_444 (4:4:4 10-bit)");
    }
  } else if (plan.codec == "dnxhd") {
    plan.profile = "dnxhr_sq";
  }
  return Status::Ok();
}

// Decides the filters the request names, each one of its field's list; clarityBoost applies
// only with scaler pabsr1.
Status ResolveFilters(const object& request, ProcessingPlan& plan) {
  struct Named {
    const char* field;
    std::vector<std::string> allowed;
    std::string* target;
  };
  for (const Named& named : std::vector<Named>{
           {"deinterlacer", {"deint", "yadif", "bwdif", "weston3f"}, &plan.deinterlacer},
           {"denoiser", {"denoise", "hqdn3d"}, &plan.denoiser},
           {"stabilizer", {"dejit"}, &plan.stabilizer},
           {"scaler", {"pabsr1", "dvres", "scale"}, &plan.scaler},
           {"frameRateConverter", {"fps", "fblend", "mcinterpolate"}, &plan.frame_rate_converter},
           {"postProcessor", {"filmgrain"}, &plan.post_processor}}) {
    ASSIGN_OR_RETURN(std::optional<std::string> given,
                     OptString(request, named.field, named.field));
    if (given) {
      ASSIGN_OR_RETURN(*named.target, OneOf(named.field, *given, named.allowed));
    }
  }
  ASSIGN_OR_RETURN(std::optional<std::string> clarity,
                   OptString(request, "clarityBoost", "clarityBoost"));
  if (clarity) {
    ASSIGN_OR_RETURN(plan.clarity_boost, OneOf("clarityBoost", *clarity, kClarity));
    if (plan.clarity_boost != "none" && plan.scaler != "pabsr1") {
      return Refuse("clarityBoost", value(*clarity), "it applies only with scaler pabsr1");
    }
  }
  return Status::Ok();
}

// The scanning the request asks for, from its tag or from scanningType and
// interlacedFieldOrder (which must agree with a tag given too): auto when it gives none,
// else progressive, interlaced_tff or interlaced_bff.
Result<std::string> RequestedScanning(const object& request) {
  std::optional<std::string> scan_tag;
  std::optional<std::string> scan_type;
  std::optional<std::string> field_order;
  ASSIGN_OR_RETURN(const object* scanning, OptObject(request, "scanning"));
  if (scanning) {
    RETURN_IF_ERROR(
        CheckKeys(*scanning, "scanning", {"tag", "scanningType", "interlacedFieldOrder"}));
    ASSIGN_OR_RETURN(scan_tag, OptString(*scanning, "tag", "scanning.tag"));
    ASSIGN_OR_RETURN(scan_type, OptString(*scanning, "scanningType", "scanning.scanningType"));
    ASSIGN_OR_RETURN(field_order,
                     OptString(*scanning, "interlacedFieldOrder", "scanning.interlacedFieldOrder"));
    if (scan_tag) {
      RETURN_IF_ERROR(OneOf("scanning.tag", *scan_tag,
                            {"auto", "progressive", "interlaced_tff", "interlaced_bff"})
                          .status());
    }
    if (scan_type) {
      RETURN_IF_ERROR(
          OneOf("scanning.scanningType", *scan_type, {"progressive", "interlaced"}).status());
      if (*scan_type == "interlaced" && !field_order) {
        return Status::InvalidArgument(
            "scanning.interlacedFieldOrder is required when scanningType is interlaced (top_field "
            "or bottom_field)");
      }
    }
    if (field_order) {
      RETURN_IF_ERROR(
          OneOf("scanning.interlacedFieldOrder", *field_order, {"top_field", "bottom_field"})
              .status());
      if (scan_type != "interlaced") {
        return Refuse("scanning.interlacedFieldOrder", value(*field_order),
                      "it is given only with scanningType interlaced");
      }
    }
    if (scan_tag && scan_type) {
      std::string implied = *scan_type == "progressive"   ? "progressive"
                            : *field_order == "top_field" ? "interlaced_tff"
                                                          : "interlaced_bff";
      if (*scan_tag != implied) {
        return Status::InvalidArgument("scanning.tag '" + *scan_tag +
                                       "' conflicts with scanningType/interlacedFieldOrder (" +
                                       implied + "); give one or the other");
      }
    }
  }
  std::string scan = "auto";
  if (scan_tag) scan = *scan_tag;
  if (scan_type) {
    scan = *scan_type == "progressive"   ? "progressive"
           : *field_order == "top_field" ? "interlaced_tff"
                                         : "interlaced_bff";
  }
  return scan;
}

// Decides the output's scanning and field order (auto keeps the source's where it can), and
// the deinterlacer that progressive output of interlaced material needs. `auto_progressive`
// and `*scanning_auto` as for ResolvePlan.
Status ResolveScanning(const object& request, const SourceInfo& source, bool auto_progressive,
                       ProcessingPlan& plan, bool* scanning_auto) {
  ASSIGN_OR_RETURN(std::string scan, RequestedScanning(request));
  *scanning_auto = scan == "auto";
  if (scan == "auto") {
    // A source stored turned is turned upright, which its fields cannot
    // survive: auto makes it progressive (bwdif) rather than a 400.
    if (auto_progressive || !plan.deinterlacer.empty() || !source.interlaced ||
        source.rotation > 0) {
      scan = "progressive";
    } else if (TopFieldFirstOnly(plan)) {
      scan = "interlaced_tff";
    } else {
      scan = source.top_field_first ? "interlaced_tff" : "interlaced_bff";
    }
  }
  plan.interlaced_output = scan != "progressive";
  plan.top_field_first = scan != "interlaced_bff";
  if (scan == "progressive" && source.interlaced && plan.deinterlacer.empty()) {
    plan.deinterlacer = "bwdif";  // progressive output of interlaced material needs one
  }
  if (plan.interlaced_output && plan.deinterlacer.empty() && source.interlaced &&
      source.rotation > 0) {
    // Its pictures are turned upright, which the fields cannot survive.
    return Status::InvalidArgument(
        "the source is interlaced and stored turned (a display matrix of " +
        std::to_string(source.rotation) +
        " degrees); interlaced output of it needs a deinterlacer");
  }
  return Status::Ok();
}

// The frame rate the request asks for, by frameRate's tag or fps; nullopt when it gives none.
Result<std::optional<double>> RequestedFrameRate(const object& request) {
  ASSIGN_OR_RETURN(const object* rate, OptObject(request, "frameRate"));
  if (!rate) return std::optional<double>();
  RETURN_IF_ERROR(CheckKeys(*rate, "frameRate", {"tag", "fps"}));
  ASSIGN_OR_RETURN(std::optional<std::string> tag, OptString(*rate, "tag", "frameRate.tag"));
  ASSIGN_OR_RETURN(std::optional<double> fps, OptNumber(*rate, "fps", "frameRate.fps"));
  if (tag) {
    auto it = FrameRateTags().find(*tag);
    if (it == FrameRateTags().end()) {
      std::vector<std::string> names;
      for (const auto& [name, unused] : FrameRateTags()) names.push_back(name);
      return Refuse("frameRate.tag", value(*tag), "allowed: " + Join(names));
    }
    // Both may be given when they agree, as the reference's example does
    // ("film", 24.0).
    if (fps && std::fabs(*fps - it->second) > kTagFpsAgreement) {
      char tag_rate[32];
      std::snprintf(tag_rate, sizeof(tag_rate), "%.5g", it->second);
      return Refuse("frameRate.fps", value(*fps),
                    "frameRate.tag " + *tag + " is " + tag_rate +
                        " fps; give fps equal to it, or one of them");
    }
    return std::optional<double>(it->second);
  }
  if (fps) {
    if (*fps < 0.001 || *fps > 999) {
      return Refuse("frameRate.fps", value(*fps), "allowed: 0.001 to 999");
    }
    return fps;
  }
  return Status::InvalidArgument("frameRate needs tag or fps");
}

// Decides the output's frame rate (the requested one, else the source's) and how it is
// reached: one frame per field from the deinterlacer, and a converter where rates still differ.
Status ResolveFrameRate(const object& request, const SourceInfo& source, ProcessingPlan& plan) {
  ASSIGN_OR_RETURN(plan.requested_fps, RequestedFrameRate(request));
  if (!plan.frame_rate_converter.empty() && !plan.requested_fps) {
    return Status::InvalidArgument("frameRateConverter '" + plan.frame_rate_converter +
                                   "' needs a target frameRate (tag or fps)");
  }
  plan.fps = plan.requested_fps.value_or(source.fps);
  // The progressive rate the pipeline produces before any interlacing.
  double progressive_rate =
      plan.interlaced_output && !plan.deinterlacer.empty() ? 2 * plan.fps : plan.fps;
  // One frame per field when the output needs more frames than the source has
  // frames — unless an interpolating converter was asked to make them (it
  // would otherwise run at, say, 50 → 50 and add nothing).
  bool interpolating =
      plan.frame_rate_converter == "fblend" || plan.frame_rate_converter == "mcinterpolate";
  if (!plan.deinterlacer.empty() && source.interlaced && !interpolating) {
    plan.deinterlace_field_rate = FasterRate(progressive_rate, source.fps);
  }
  double deinterlaced_rate = plan.deinterlace_field_rate ? 2 * source.fps : source.fps;
  if (plan.requested_fps && plan.frame_rate_converter.empty() &&
      !SameRate(progressive_rate, deinterlaced_rate)) {
    plan.frame_rate_converter = "fps";
  }
  if (plan.interlaced_output && plan.deinterlacer.empty() && source.interlaced &&
      !SameRate(plan.fps, source.fps)) {
    return Refuse("frameRate", request.at("frameRate"),
                  "the source is interlaced and stays interlaced (no deinterlacer), so its rate "
                  "cannot change; choose a deinterlacer, or leave frameRate out");
  }
  return Status::Ok();
}

struct FrameSize {
  int width = 0;
  int height = 0;
};

// The frame a resolution tag names: a fixed size, 2x/3x/4x the source's (up to 7680x4320),
// or the source's own.
Result<FrameSize> SizeFromTag(const std::string& tag, const SourceInfo& source) {
  static const std::map<std::string, std::pair<int, int>> fixed = {
      {"hd_1080p", {1920, 1080}}, {"uhd_4k", {3840, 2160}}, {"uhd_8k", {7680, 4320}}};
  int width = source.width;
  int height = source.height;
  if (auto it = fixed.find(tag); it != fixed.end()) {
    width = it->second.first;
    height = it->second.second;
  } else if (tag == "2x" || tag == "3x" || tag == "4x") {
    int factor = tag[0] - '0';
    width = source.width * factor;
    height = source.height * factor;
    if (width > 7680 || height > 4320) {
      return Refuse("resolution.tag", value(tag),
                    "the source's " + std::to_string(source.width) + "x" +
                        std::to_string(source.height) + " times " + std::to_string(factor) +
                        " is " + std::to_string(width) + "x" + std::to_string(height) +
                        ", larger than 7680x4320");
    }
  } else if (tag == "no_scaling") {
    // the source's size
  } else {
    return Refuse("resolution.tag", value(tag),
                  "allowed: hd_1080p, uhd_4k, uhd_8k, 2x, 3x, 4x, no_scaling");
  }
  return FrameSize{width, height};
}

// The frame resolution's width and/or height give; a side left out follows from the other
// at the aspectRatioTag's ratio (the source's display aspect by default).
Result<FrameSize> SizeFromSides(const std::optional<double>& w, const std::optional<double>& h,
                                const std::optional<std::string>& aspect,
                                const SourceInfo& source) {
  if (!w && !h) return Status::InvalidArgument("resolution needs a tag, or width and/or height");
  if (w && h && aspect) {
    return Status::InvalidArgument(
        "resolution: width, height and aspectRatioTag together are a bad request; give two of "
        "them");
  }
  if (w && (*w < 16 || *w > 7680 || *w != std::floor(*w))) {
    return Refuse("resolution.width", value(*w), "allowed: integers 16 to 7680");
  }
  if (h && (*h < 16 || *h > 4320 || *h != std::floor(*h))) {
    return Refuse("resolution.height", value(*h), "allowed: integers 16 to 4320");
  }
  double ratio = 0;
  std::string aspect_tag = aspect.value_or("display");
  if (aspect_tag == "display") {
    ratio = source.width * source.sample_aspect / source.height;
  } else if (aspect_tag == "storage") {
    ratio = static_cast<double>(source.width) / source.height;
  } else if (aspect_tag == "16:9") {
    ratio = 16.0 / 9.0;
  } else if (aspect_tag == "4:3") {
    ratio = 4.0 / 3.0;
  } else {
    return Refuse("resolution.aspectRatioTag", value(aspect_tag),
                  "allowed: display, storage, 16:9, 4:3");
  }
  int width = 0;
  int height = 0;
  if (w && h) {
    width = static_cast<int>(*w);
    height = static_cast<int>(*h);
  } else if (w) {
    width = static_cast<int>(*w);
    height = static_cast<int>(std::lround(*w / ratio));
  } else {
    height = static_cast<int>(*h);
    width = static_cast<int>(std::lround(*h * ratio));
  }
  if (width > 7680 || height > 4320 || width < 16 || height < 16) {
    return Status::InvalidArgument("resolution: the derived size " + std::to_string(width) + "x" +
                                   std::to_string(height) + " is outside 16x16 to 7680x4320");
  }
  return FrameSize{width, height};
}

// Decides the frame size the request asks for, before it is rounded to the chroma grid: by
// tag, or by width/height; the source's when resolution is left out.
Result<FrameSize> ResolveRequestedSize(const object& request, const SourceInfo& source) {
  ASSIGN_OR_RETURN(const object* resolution, OptObject(request, "resolution"));
  if (!resolution) return FrameSize{source.width, source.height};
  RETURN_IF_ERROR(
      CheckKeys(*resolution, "resolution", {"tag", "width", "height", "aspectRatioTag"}));
  ASSIGN_OR_RETURN(std::optional<std::string> tag, OptString(*resolution, "tag", "resolution.tag"));
  ASSIGN_OR_RETURN(std::optional<double> w, OptNumber(*resolution, "width", "resolution.width"));
  ASSIGN_OR_RETURN(std::optional<double> h, OptNumber(*resolution, "height", "resolution.height"));
  ASSIGN_OR_RETURN(std::optional<std::string> aspect,
                   OptString(*resolution, "aspectRatioTag", "resolution.aspectRatioTag"));
  if (tag) {
    if (w || h || aspect) {
      return Status::InvalidArgument(
          "resolution: give a tag, or width/height (with aspectRatioTag), not both");
    }
    return SizeFromTag(*tag, source);
  }
  return SizeFromSides(w, h, aspect, source);
}

// Of a codec's `chromas`, the source's own, else the one keeping the least chroma that is at
// least the source's, else the codec's last.
std::string NearestChroma(const std::vector<std::string>& chromas,
                          const std::string& source_chroma) {
  std::string chosen = chromas.back();
  for (const std::string& candidate : chromas) {
    if (candidate == source_chroma) {
      chosen = candidate;
      break;
    }
  }
  if (chosen != source_chroma) {
    int best = 99;
    for (const std::string& candidate : chromas) {
      int rank = ChromaRank(candidate);
      if (rank >= ChromaRank(source_chroma) && rank < best) {
        best = rank;
        chosen = candidate;
      }
    }
  }
  return chosen;
}

// Decides chroma subsampling, bit depth and pixel format: as requested when the codec (and
// profile) supports it, else the nearest supported one that keeps at least the source's.
Status ResolveChromaAndBits(const object& request, const SourceInfo& source, ProcessingPlan& plan) {
  std::vector<std::string> chromas = ChromaFor(plan.codec, plan.profile);
  std::string codec_label = plan.codec + (plan.profile.empty() ? "" : " " + plan.profile);
  ASSIGN_OR_RETURN(const object* chroma, OptObject(request, "chromaSubsampling"));
  std::optional<std::string> yuv;
  std::optional<double> bits;
  if (chroma) {
    RETURN_IF_ERROR(CheckKeys(*chroma, "chromaSubsampling", {"yuv", "bits"}));
    ASSIGN_OR_RETURN(yuv, OptString(*chroma, "yuv", "chromaSubsampling.yuv"));
    ASSIGN_OR_RETURN(bits, OptNumber(*chroma, "bits", "chromaSubsampling.bits"));
    if (yuv) RETURN_IF_ERROR(OneOf("chromaSubsampling.yuv", *yuv, kChromas).status());
    if (bits && (*bits != std::floor(*bits) ||
                 std::find(kBits.begin(), kBits.end(), static_cast<int>(*bits)) == kBits.end())) {
      return Refuse("chromaSubsampling.bits", value(*bits), "allowed: 8, 10, 12, 14, 16");
    }
  }
  if (yuv) {
    if (std::find(chromas.begin(), chromas.end(), *yuv) == chromas.end()) {
      return Refuse("chromaSubsampling.yuv", value(*yuv),
                    codec_label + " supports: " + Join(chromas));
    }
    plan.chroma = *yuv;
  } else {
    plan.chroma = NearestChroma(chromas, source.chroma);
  }
  const std::vector<int> bit_depths = BitsFor(plan.codec, plan.profile, plan.chroma);
  if (bits) {
    int b = static_cast<int>(*bits);
    if (std::find(bit_depths.begin(), bit_depths.end(), b) == bit_depths.end()) {
      std::vector<std::string> names;
      for (int d : bit_depths) names.push_back(std::to_string(d));
      return Refuse("chromaSubsampling.bits", value(b),
                    codec_label + " with " + plan.chroma + " supports: " + Join(names));
    }
    plan.bits = b;
  } else {
    plan.bits = bit_depths.back();
    for (int d : bit_depths) {
      if (d >= source.bits) {
        plan.bits = d;
        break;
      }
    }
  }
  plan.pixel_format = PixelFormatName(plan.chroma, plan.bits);
  if (plan.codec == "ffv1" && source.rgb && !yuv && plan.chroma == "4:4:4") {
    // An RGB source stays RGB in FFV1, so the archive copy is lossless.
    plan.pixel_format = plan.bits == 8 ? "bgr0" : "gbrp" + std::to_string(plan.bits) + "le";
  }
  return Status::Ok();
}

// Pillarboxes or letterboxes the picture in the plan's frame (of the plan's pixel shape), on
// the `h_grid` x `v_grid` grid.
void BoxPicture(const SourceInfo& source, int h_grid, int v_grid, ProcessingPlan& plan) {
  // A frame of another shape (hd_1080p from 4:3, or from 2.39:1 film) gets
  // the picture at its display aspect, centred, rather than stretched to
  // fill: a face stays a face. Within 3 % it fills (ITU-R BT.601's 4:3
  // pixels, 12:11 or 16:15, differ by 2.3 %).
  const double display = source.width * source.sample_aspect / source.height;
  const double frame = plan.width * plan.sample_aspect / plan.height;
  if (frame > display * 1.03) {
    plan.picture_width =
        std::min(plan.width, RoundTo(plan.height * display / plan.sample_aspect, h_grid));
    plan.picture_x = (plan.width - plan.picture_width) / 2 / h_grid * h_grid;
  } else if (frame < display / 1.03) {
    plan.picture_height =
        std::min(plan.height, RoundTo(plan.width * plan.sample_aspect / display, v_grid));
    plan.picture_y = (plan.height - plan.picture_height) / 2 / v_grid * v_grid;
  }
}

// Whether `size` is one of ITU-R BT.601's standard-definition frames: 720 or 704 columns by
// 480, 486 or 576 lines.
bool IsStandardDefinitionFrame(const FrameSize& size) {
  return (size.width == 720 || size.width == 704) &&
         (size.height == 480 || size.height == 486 || size.height == 576);
}

// The display aspect a standard-definition frame is shown at for `source`: 16:9 for a source
// wider than the geometric mean of 16:9 and 4:3 (about 1.54:1), else 4:3.
double StandardDefinitionAspect(const SourceInfo& source) {
  const double display = source.width * source.sample_aspect / source.height;
  return display * display > 16.0 / 9.0 * 4.0 / 3.0 ? 16.0 / 9.0 : 4.0 / 3.0;
}

// Decides the output frame (`requested` rounded to the chroma grid, field-aware for
// interlaced output), its sample aspect, where the picture sits in it, and the scaler a size
// change needs.
Status PlaceFrameAndPicture(const FrameSize& requested, const SourceInfo& source,
                            ProcessingPlan& plan) {
  auto [h_factor, v_factor] = ChromaFactors(plan.chroma);
  int v_multiple = v_factor * (plan.interlaced_output ? 2 : 1);
  // The frame keeps the source's shape when one side is the other's at the
  // source's proportions, to within the pixel that a derived side is rounded
  // by ("storage" from a height of 502 on 720x576 gives 627.5 → 628), so that
  // 16:9 PAL stays 16:9 rather than showing at 1.25:1.
  const double source_shape = static_cast<double>(source.width) / source.height;
  const bool keeps_shape = std::fabs(requested.width - requested.height * source_shape) <= 1.0 ||
                           std::fabs(requested.height - requested.width / source_shape) <= 1.0;
  plan.width = RoundTo(requested.width, std::max(h_factor, 2));
  plan.height = RoundTo(requested.height, std::max(v_multiple, 2));
  if (plan.width < 16 || plan.height < 16) {
    // The reference's smallest frame (resolution.width and .height from 16);
    // encoders refuse some smaller ones only once the job runs.
    return Status::InvalidArgument("resolution: the output frame would be " +
                                   std::to_string(plan.width) + "x" + std::to_string(plan.height) +
                                   ", smaller than 16x16; set a resolution of at least 16x16");
  }
  if (keeps_shape) {
    // The frame keeps the source's shape: so does the picture on screen. A
    // size rounded to the chroma grid (NTSC's 486 lines to 488 for interlaced
    // 4:2:0) takes the pixel shape that keeps the display aspect (square
    // pixels would turn 4:3 into 90:61); a square-pixel source's rounding
    // stays square.
    const double sample_aspect = source.width * source.sample_aspect / source.height *
                                 plan.height / plan.width;
    plan.sample_aspect =
        std::fabs(source.sample_aspect - 1) < 1e-9 && std::fabs(sample_aspect - 1) < 0.01
            ? 1.0
            : sample_aspect;
  }
  if (!keeps_shape && IsStandardDefinitionFrame(requested)) {
    // Standard-definition frames are shown at 4:3 or 16:9 whatever their
    // pixel count: broadcast chains and players stretch them so. Square
    // pixels would show 16:9 PAL converted to 720x480 at 3:2, and a 16:9 HD
    // downconversion letterboxed into a 5:4 frame rather than anamorphic.
    plan.sample_aspect = StandardDefinitionAspect(source) * plan.height / plan.width;
  }
  plan.picture_width = plan.width;
  plan.picture_height = plan.height;
  if (!keeps_shape) BoxPicture(source, std::max(h_factor, 2), std::max(v_multiple, 2), plan);
  // pabsr1 or dvres at the source's size (no resolution, or no_scaling) run
  // at 1x: dvres restores with its 1x model, pabsr1 applies its clarityBoost.
  bool size_changed = plan.width != source.width || plan.height != source.height;
  if (size_changed && plan.scaler.empty()) plan.scaler = "scale";
  if (size_changed && plan.interlaced_output && source.interlaced && plan.deinterlacer.empty()) {
    // Scaled as pictures of their own, the two fields of a frame would land
    // half an output line off their places, in opposite directions (±0.4
    // lines at 2x): still horizontal edges would twitter at field rate. Made
    // progressive at field rate, scaled, and woven again, each output field
    // is sampled where it lies.
    plan.deinterlacer = "bwdif";
    plan.deinterlace_field_rate = true;
  }
  return Status::Ok();
}

// XDCAM HD422's frame sizes and progressive rates.
Status CheckXdcamFormat(const ProcessingPlan& plan) {
  if (plan.codec != "xdcam") return Status::Ok();
  bool allowed =
      (plan.width == 1920 && plan.height == 1080) || (plan.width == 1280 && plan.height == 720);
  if (!allowed) {
    return Status::InvalidArgument(
        "codec xdcam (XDCAM HD422) needs a frame of 1920x1080 or 1280x720, got " +
        std::to_string(plan.width) + "x" + std::to_string(plan.height) + "; set resolution");
  }
  // XDCAM HD422's progressive formats (its interlaced ones are checked with
  // the scanning): 1080p at 23.976, 25, 29.97; 720p also at 50, 59.94. A
  // 1080p50 stream is twice what MPEG-2 422P@HL allows. Its rates are coded
  // as MXF's are (CheckMxfRate), to three decimals.
  std::vector<double> rates = {24000.0 / 1001, 25, 30000.0 / 1001};
  if (plan.height == 720) rates.insert(rates.end(), {50, 60000.0 / 1001});
  const bool rate_allowed = std::any_of(rates.begin(), rates.end(),
                                        [&](double rate) { return CodedRate(plan.fps, rate); });
  if (!plan.interlaced_output && !rate_allowed) {
    const std::string got = Rate(plan.fps);
    return Status::InvalidArgument(std::string("codec xdcam (XDCAM HD422) is ") +
                                   (plan.height == 720 ? "720p at 23.976, 25, 29.97, 50 or 59.94"
                                                       : "1080p at 23.976, 25 or 29.97") +
                                   " frames/s, got " + got + "; set frameRate");
  }
  return Status::Ok();
}

// DNxHR's smallest frame, and the sizes and rates of DNxHD's table.
Status CheckDnxFormat(const ProcessingPlan& plan) {
  if (IsDnxhr(plan) && (plan.width < 256 || plan.height < 120)) {
    // FFmpeg's DNxHR encoder refuses anything smaller.
    return Status::InvalidArgument("dnxhdHrProfile " + plan.profile +
                                   " needs a frame of at least 256x120, got " +
                                   std::to_string(plan.width) + "x" + std::to_string(plan.height) +
                                   "; set resolution");
  }
  if (plan.codec == "dnxhd" && plan.profile.rfind("dnxhd_", 0) == 0) {
    if (!DnxhdBitrate(plan.profile, plan.width, plan.height, plan.fps)) {
      return Status::InvalidArgument(
          "dnxhdHrProfile " + plan.profile +
          " is defined only at 1920x1080 (23.976, 24, 25, 29.97, 50, 59.94 fps; hqx not at 29.97; "
          "lb only at 1080) and 1280x720 (sq, hq, hqx), got " +
          std::to_string(plan.width) + "x" + std::to_string(plan.height) + " at " + Rate(plan.fps) +
          " fps; use a dnxhr_ profile for other sizes");
    }
  }
  return Status::Ok();
}

// The output's rate becomes `coded`, the rate a format codes that the plan's
// rate was taken for, and so does the rate processingParameters shows.
void TakeCodedRate(double coded, ProcessingPlan& plan) {
  plan.fps = coded;
  if (plan.requested_fps) plan.requested_fps = coded;
}

// The frame rates an MXF container takes; a rate given to three decimals
// becomes the one it names.
Status CheckMxfRate(ProcessingPlan& plan) {
  if (plan.container != "mxf") return Status::Ok();
  // The MXF muxer writes only the SMPTE content-package rates.
  static const std::vector<std::pair<double, const char*>> mxf_rates = {{24000.0 / 1001, "23.976"},
                                                                        {24, "24"},
                                                                        {25, "25"},
                                                                        {30000.0 / 1001, "29.97"},
                                                                        {30, "30"},
                                                                        {48000.0 / 1001, "47.952"},
                                                                        {48, "48"},
                                                                        {50, "50"},
                                                                        {60000.0 / 1001, "59.94"},
                                                                        {60, "60"},
                                                                        {72000.0 / 1001, "71.928"},
                                                                        {72, "72"},
                                                                        {75, "75"},
                                                                        {96000.0 / 1001, "95.904"},
                                                                        {96, "96"},
                                                                        {100, "100"},
                                                                        {120, "120"}};
  // (89.91, 90 and 119.88 are SMPTE rates too, but FFmpeg 5.1's muxer
  // writes them wrongly: they read back as 80 and 120 frames/s.)
  std::optional<double> coded;
  std::vector<std::string> names;
  for (const auto& [rate, name] : mxf_rates) {
    if (CodedRate(plan.fps, rate)) coded = rate;
    names.push_back(name);
  }
  if (coded) {
    // Passed on as given, 25.0005 would reach the muxer as 50001/2000,
    // which it refuses when the job runs.
    TakeCodedRate(*coded, plan);
  } else {
    std::string field = plan.requested_fps ? "frameRate" : "mediaContainerCodec.container";
    value given = plan.requested_fps ? value(plan.fps) : value("mxf");
    return Refuse(field, given,
                  "container mxf takes frame rates " + Join(names) + " (the output would be " +
                      Rate(plan.fps) + " frames/s); set frameRate or another container");
  }
  return Status::Ok();
}

// The frame sizes and rates MPEG-2 codes; a rate given to three decimals
// becomes the one it names.
Status CheckMpeg2Format(const object& request, ProcessingPlan& plan) {
  if (plan.codec != "mpeg2") return Status::Ok();
  if (plan.width > 4095 || plan.height > 4095) {
    const std::string size = std::to_string(plan.width) + "x" + std::to_string(plan.height);
    if (request.contains("resolution")) {
      return Refuse("resolution", request.at("resolution"),
                    "codec mpeg2 codes frames up to 4095x4095 (this gives " + size + ")");
    }
    return Refuse(
        "mediaContainerCodec.codec", value("mpeg2"),
        "codec mpeg2 codes frames up to 4095x4095, and the output keeps the source's " + size);
  }
  if (std::optional<double> coded = Mpeg2CodedRate(plan.fps)) {
    // Passed on as given, 24.0005 would reach the encoder as 48001/2000,
    // which it refuses when the job runs.
    TakeCodedRate(*coded, plan);
  } else {
    // The encoder refuses it; said here rather than by a failed job.
    std::string field = plan.requested_fps ? "frameRate" : "mediaContainerCodec.codec";
    value given = plan.requested_fps ? value(plan.fps) : value("mpeg2");
    return Refuse(field, given,
                  "codec mpeg2 codes 23.976, 24, 25, 29.97, 30, 50, 59.94 or 60 frames/s, and "
                  "some fractions of them (e.g. 1, 12.5, 15), not " +
                      Rate(plan.fps) + "; set frameRate");
  }
  return Status::Ok();
}

// Refuses a frame size or rate that the output's codec or container cannot make, rather than
// leave the encoder or muxer to fail the job; a rate it codes is taken exactly.
Status CheckFormatLimits(const object& request, ProcessingPlan& plan) {
  RETURN_IF_ERROR(CheckXdcamFormat(plan));
  RETURN_IF_ERROR(CheckDnxFormat(plan));
  RETURN_IF_ERROR(CheckMxfRate(plan));
  return CheckMpeg2Format(request, plan);
}

// Decides the bitrate: as requested (not for codecs whose rate is fixed or that are
// lossless), XDCAM's 50 Mb/s, DNxHD's from its table, else derived from the source's
// (for MPEG-2 at most its level's: a DV source had given 57.5 Mb/s flagged
// Main Level, whose limit is 15, which strict decoders and playout servers refuse).
Status ResolveBitrate(const object& request, const SourceInfo& source, ProcessingPlan& plan) {
  ASSIGN_OR_RETURN(const object* bitrate, OptObject(request, "bitrate"));
  bool fixed_rate = plan.codec == "prores" || plan.codec == "dnxhd" || plan.codec == "xdcam" ||
                    plan.codec == "ffv1";
  if (bitrate) {
    RETURN_IF_ERROR(CheckKeys(*bitrate, "bitrate", {"mbps"}));
    ASSIGN_OR_RETURN(std::optional<double> mbps, OptNumber(*bitrate, "mbps", "bitrate.mbps"));
    if (!mbps) return Status::InvalidArgument("bitrate needs mbps");
    if (fixed_rate) {
      return Refuse("bitrate.mbps", value(*mbps),
                    "codec " + plan.codec +
                        " has its rate fixed by its profile or is lossless; leave bitrate out");
    }
    if (*mbps < 0.01 || *mbps > 4000) {
      return Refuse("bitrate.mbps", value(*mbps), "allowed: 0.01 to 4000");
    }
    plan.bitrate_mbps = *mbps;
  } else if (plan.codec == "xdcam") {
    plan.bitrate_mbps = 50;
  } else if (plan.codec == "dnxhd" && plan.profile.rfind("dnxhd_", 0) == 0) {
    plan.bitrate_mbps = *DnxhdBitrate(plan.profile, plan.width, plan.height, plan.fps);
  } else if (!fixed_rate) {
    double source_bps = source.video_bit_rate > 0 ? source.video_bit_rate : 8e6;
    double pixel_ratio = (static_cast<double>(plan.width) * plan.height * plan.fps) /
                         (static_cast<double>(source.width) * source.height * source.fps);
    double derived = source_bps * pixel_ratio * CodecCost(plan.codec) / CodecCost(source.codec);
    const double most =
        plan.codec == "mpeg2"
            ? Mpeg2LevelFor(plan.width, plan.height, plan.chroma == "4:2:2").max_bit_rate / 1e6
            : 400.0;
    plan.bitrate_mbps = std::clamp(derived / 1e6, 0.1, most);
    plan.bitrate_derived = true;
  }
  return Status::Ok();
}

// Refuses an MPEG-2 bitrate above what its encoder takes at the plan's frame rate.
Status CheckMpeg2BitsPerFrame(const object& request, const ProcessingPlan& plan) {
  // MPEG-2's buffer holds a frame, and FFmpeg counts it in an int: above
  // 2³¹ − 1 bits a frame the encoder refuses to open.
  if (plan.codec == "mpeg2" && plan.bitrate_mbps &&
      *plan.bitrate_mbps * 1e6 / plan.fps > INT32_MAX) {
    char limit[64];
    std::snprintf(limit, sizeof(limit), "%.6g", INT32_MAX * plan.fps / 1e6);
    const std::string why = std::string("codec mpeg2 takes at most 2147483647 bits a frame: at ") +
                            Rate(plan.fps) + " frames/s at most " + limit + " Mb/s";
    if (plan.bitrate_derived || !request.contains("bitrate")) {
      return Refuse("frameRate",
                    request.contains("frameRate") ? request.at("frameRate") : value(plan.fps), why);
    }
    return Refuse("bitrate.mbps", value(*plan.bitrate_mbps), why);
  }
  return Status::Ok();
}

// Decides the clip: the requested range, in whole milliseconds within the source and
// starting before its pictures end; the whole source when no range is given.
Status ResolveRange(const object& request, const SourceInfo& source, ProcessingPlan& plan) {
  plan.start_ms = 0;
  plan.end_ms = source.duration_ms;
  ASSIGN_OR_RETURN(const object* range, OptObject(request, "range"));
  if (!range) return Status::Ok();
  RETURN_IF_ERROR(
      CheckKeys(*range, "range", {"startPositionMilliseconds", "endPositionMilliseconds"}));
  ASSIGN_OR_RETURN(std::optional<double> start, OptNumber(*range, "startPositionMilliseconds",
                                                          "range.startPositionMilliseconds"));
  ASSIGN_OR_RETURN(std::optional<double> end,
                   OptNumber(*range, "endPositionMilliseconds", "range.endPositionMilliseconds"));
  std::string limits =
      "allowed: whole milliseconds, 0 <= start < end <= " + std::to_string(source.duration_ms) +
      " (the source duration)";
  // Whole milliseconds, as the reference's integers: truncated, 0.5 would be
  // taken as 0, and an end of 0.5 refused as "start 0 must be before end 0".
  if (start) {
    if (*start < 0 || *start >= static_cast<double>(source.duration_ms) ||
        *start != std::floor(*start)) {
      return Refuse("range.startPositionMilliseconds", value(*start), limits);
    }
    plan.start_ms = static_cast<int64_t>(*start);
  }
  if (end) {
    if (*end <= 0 || *end > static_cast<double>(source.duration_ms) || *end != std::floor(*end)) {
      return Refuse("range.endPositionMilliseconds", value(*end), limits);
    }
    plan.end_ms = static_cast<int64_t>(*end);
  }
  if (plan.start_ms >= plan.end_ms) {
    return Status::InvalidArgument("range: start " + std::to_string(plan.start_ms) +
                                   " must be before end " + std::to_string(plan.end_ms));
  }
  // Ranges that hold no picture: accepted, the job would fail once it ran
  // ("no picture came out").
  if (source.video_start_ms > 0 && plan.end_ms <= source.video_start_ms) {
    return Refuse("range.endPositionMilliseconds", value(plan.end_ms),
                  "the pictures start at " + std::to_string(source.video_start_ms) + " ms (" +
                      (source.has_audio ? "the sound starts before them"
                                        : "the file's first pictures do not decode") +
                      "); end the range after it");
  }
  const int64_t pictures_end = source.video_start_ms + source.video_duration_ms;
  if (source.video_duration_ms > 0 && plan.start_ms >= pictures_end) {
    return Refuse("range.startPositionMilliseconds", value(plan.start_ms),
                  "the pictures end at " + std::to_string(pictures_end) +
                      " ms (the file's duration is " + std::to_string(source.duration_ms) +
                      " ms); start the range before it");
  }
  plan.has_range = true;
  return Status::Ok();
}

// Refuses a clip too short to hold a source frame or an output frame.
Status CheckClipHoldsAFrame(const object& request, const SourceInfo& source,
                            const ProcessingPlan& plan) {
  // The output must hold a picture: a span shorter than one source frame
  // selects none, and one shorter than an output frame period makes none
  // (the job would fail after its attempts instead of being refused here).
  const double span_ms = static_cast<double>(plan.end_ms - plan.start_ms);
  const auto period_ms = [](double fps) { return 1000.0 / fps; };
  if (plan.has_range && source.fps > 0 && span_ms < period_ms(source.fps)) {
    return Refuse("range", request.at("range"),
                  "the range is " + std::to_string(plan.end_ms - plan.start_ms) +
                      " ms, shorter than one source frame (" +
                      Describe(value(period_ms(source.fps))) + " ms); select at least one frame");
  }
  if (plan.fps > 0 && span_ms < period_ms(plan.fps)) {
    const std::string frames = "at " + Describe(value(plan.fps)) + " fps an output frame lasts " +
                               Describe(value(period_ms(plan.fps))) + " ms, longer than the " +
                               std::to_string(plan.end_ms - plan.start_ms) + " ms processed";
    if (plan.requested_fps) return Refuse("frameRate", request.at("frameRate"), frames);
    if (plan.has_range) return Refuse("range", request.at("range"), frames);
    return Status::InvalidArgument("the source is too short for one output frame: " + frames);
  }
  return Status::Ok();
}

// The whole validation, step by step; the first refusal is the one returned, so the steps
// keep their order. `auto_progressive`: scanning auto resolves to progressive (the source's
// interlacing cannot be kept in the output format). `*scanning_auto` tells whether scanning
// was auto.
Result<ProcessingPlan> ResolvePlan(const object& request, const SourceInfo& source,
                                   bool auto_progressive, bool* scanning_auto) {
  RETURN_IF_ERROR(CheckKeys(
      request, "",
      {"mediaContainerCodec", "appleProresProfile", "dnxhdHrProfile", "scanning",
       "chromaSubsampling", "bitrate", "deinterlacer", "denoiser", "stabilizer", "scaler",
       "resolution", "clarityBoost", "frameRateConverter", "frameRate", "postProcessor", "range"}));
  ProcessingPlan plan = PlanFromSource(source);
  ASSIGN_OR_RETURN(const RequestedProfiles profiles,
                   ResolveContainerAndCodec(request, source, plan));
  RETURN_IF_ERROR(ResolveProfile(profiles, plan));
  RETURN_IF_ERROR(ResolveFilters(request, plan));
  RETURN_IF_ERROR(ResolveScanning(request, source, auto_progressive, plan, scanning_auto));
  RETURN_IF_ERROR(ResolveFrameRate(request, source, plan));
  ASSIGN_OR_RETURN(const FrameSize requested_size, ResolveRequestedSize(request, source));
  RETURN_IF_ERROR(ResolveChromaAndBits(request, source, plan));
  RETURN_IF_ERROR(PlaceFrameAndPicture(requested_size, source, plan));
  RETURN_IF_ERROR(CheckFormatLimits(request, plan));
  RETURN_IF_ERROR(ResolveBitrate(request, source, plan));
  RETURN_IF_ERROR(CheckMpeg2BitsPerFrame(request, plan));
  RETURN_IF_ERROR(ResolveRange(request, source, plan));
  RETURN_IF_ERROR(CheckClipHoldsAFrame(request, source, plan));
  return plan;
}

}  // namespace

Result<ProcessingPlan> ValidateProcessingRequest(const object& request, const SourceInfo& source) {
  bool scanning_auto = false;
  ASSIGN_OR_RETURN(ProcessingPlan plan, ResolvePlan(request, source, false, &scanning_auto));
  if (!plan.interlaced_output) return plan;
  std::string refusal = InterlacedOutputRefusal(plan);
  if (refusal.empty()) return plan;
  if (scanning_auto) {
    // Auto keeps the source's interlacing only where the format can carry it;
    // here it cannot, so the output is progressive (with a deinterlacer).
    return ResolvePlan(request, source, true, &scanning_auto);
  }
  return Refuse("scanning", request.at("scanning"), refusal);
}

std::vector<std::string> ProcessingPlan::OwnFilters() const {
  std::vector<std::string> own;
  for (const std::string* name :
       {&deinterlacer, &denoiser, &stabilizer, &scaler, &post_processor}) {
    if (*name == "deint" || *name == "denoise" || *name == "dejit" || *name == "pabsr1" ||
        *name == "dvres" || *name == "filmgrain") {
      own.push_back(*name);
    }
  }
  if (clarity_boost != "none") own.push_back("clarityBoost");
  return own;
}

object ProcessingPlan::ToProcessingParameters() const {
  object codec_properties;
  if (!profile.empty()) codec_properties["profile"] = profile;
  if (interlaced_output)
    codec_properties["fieldOrder"] = top_field_first ? "top_field" : "bottom_field";
  boost::json::array filters;
  auto add = [&filters](const std::string& name, object properties) {
    if (!name.empty())
      filters.push_back(object{{"name", name}, {"properties", std::move(properties)}});
  };
  add(deinterlacer, object{{"output", deinterlace_field_rate ? "field_rate" : "frame_rate"}});
  add(denoiser, object{});
  add(stabilizer, object{});
  const bool boxed = this->boxed();
  object scaler_properties{{"width", boxed ? picture_width : width},
                           {"height", boxed ? picture_height : height}};
  if (scaler == "pabsr1") scaler_properties["clarityBoost"] = clarity_boost;
  add(scaler, scaler_properties);
  object rate_properties;
  if (requested_fps) rate_properties["fps"] = *requested_fps;
  add(frame_rate_converter, rate_properties);
  add(post_processor, object{});
  if (boxed) {
    add("pad", object{{"width", width}, {"height", height}, {"x", picture_x}, {"y", picture_y}});
  }
  // Interlaced output is woven from progressive pictures, or the kept fields
  // are turned to the other order.
  const char* field_order = top_field_first ? "top_field" : "bottom_field";
  if (interlaced_output && !deinterlacer.empty()) {
    add("interlace", object{{"fieldOrder", field_order}});
  } else if (interlaced_output && source_interlaced && source_top_field_first != top_field_first) {
    add("fieldorder", object{{"fieldOrder", field_order}});
  }
  object target{
      {"preset", object{{"name", "custom"}}},
      {"container", object{{"name", container}, {"properties", object{}}}},
      {"codec", object{{"name", codec}, {"properties", codec_properties}}},
      {"pixelFormat", object{{"name", pixel_format},
                             {"chromaSubsampling", object{{"yuv", chroma}, {"bits", bits}}}}},
      {"bitrate", bitrate_mbps ? value(static_cast<int64_t>(std::llround(*bitrate_mbps * 1e6)))
                               : value(nullptr)},
      {"frameWidth", width},
      {"frameHeight", height},
      {"frameRate", fps},
      {"scanning", object{{"scanningType", interlaced_output ? "interlaced" : "progressive"},
                          {"interlacedFieldOrder",
                           interlaced_output ? value(top_field_first ? "top_field" : "bottom_field")
                                             : value(nullptr)}}},
      {"videoFilters", filters}};
  return object{{"sourceVideo", object{{"startPositionMilliseconds", start_ms},
                                       {"endPositionMilliseconds", end_ms}}},
                {"targetVideo", target}};
}

}  // namespace vidmill::videos
