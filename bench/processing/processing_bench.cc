// processing_bench: runs one process-video request through Vidmill's own code
// path, minus the HTTP server and the job queue, for bench/processing/run.sh.
//
//   processing_bench plan <input> <request.json>
//   processing_bench run  <input> <request.json> <output>
//
// Both read the source the way the worker does (light ingestion's metadata →
// SourceFromMetadata), validate the request into a ProcessingPlan and map it
// onto the TranscodeSpec with the process job's own TranscodeSpecFromPlan
// (jobs/handlers/process_handler.h).
//
// `plan` prints the spec as shell-readable `key=value` lines, including the
// filter graph BuildVideoFilters makes, so the script can give the ffmpeg
// command line the same graph and encoder settings. The graph is printed with
// a source start time of 0: ffmpeg re-bases input timestamps to zero, and
// with the source's and output's colour filled in as Transcode fills them, so
// that the colour conversion Vidmill makes is in the ffmpeg graph too.
//
// `run` transcodes and prints one JSON line: the seconds spent in ingestion +
// validation and in engine::Transcode, and the frames written.

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "engine/colour.h"
#include "engine/ingestion.h"
#include "engine/transcode.h"
#include "filters/register_filters.h"
#include "jobs/handlers/process_handler.h"
#include "videos/processing_request.h"

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/log.h>
}

namespace {

using vidmill::Result;
using vidmill::engine::TranscodeSpec;

Result<TranscodeSpec> SpecFor(const std::string& input, const std::string& request_path) {
  std::ifstream file(request_path);
  std::stringstream text;
  text << file.rdbuf();
  boost::system::error_code ec;
  boost::json::value request = boost::json::parse(text.str(), ec);
  if (ec || !request.is_object()) {
    return vidmill::Status::InvalidArgument("cannot read the request " + request_path);
  }
  auto report = vidmill::engine::RunIngestion(input, vidmill::engine::IngestionKind::kLight, {},
                                              {}, nullptr, nullptr);
  if (!report.ok()) return report.status();
  std::string name = input.substr(input.rfind('/') + 1);
  auto source = vidmill::videos::SourceFromMetadata(report->metadata.ToJson(), name);
  if (!source.ok()) return source.status();
  auto plan = vidmill::videos::ValidateProcessingRequest(request.as_object(), *source);
  if (!plan.ok()) return plan.status();
  return vidmill::jobs::TranscodeSpecFromPlan(*plan);
}

// The source's colour as its stream says it (SourceColour on the decoded
// format, which for these sources is the stream's), and the output's.
vidmill::Status FillColour(const std::string& input, TranscodeSpec& spec) {
  AVFormatContext* format = nullptr;
  if (avformat_open_input(&format, input.c_str(), nullptr, nullptr) < 0) {
    return vidmill::Status::InvalidArgument("cannot open " + input);
  }
  const int stream = avformat_find_stream_info(format, nullptr) < 0
                         ? -1
                         : av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (stream >= 0) {
    const AVCodecParameters* par = format->streams[stream]->codecpar;
    spec.source_colour =
        vidmill::engine::SourceColour(par, static_cast<AVPixelFormat>(par->format));
    spec.output_colour = vidmill::engine::OutputColour(spec.source_colour, spec.width,
                                                       spec.height, spec.pixel_format);
  }
  avformat_close_input(&format);
  return stream >= 0 ? vidmill::Status::Ok()
                     : vidmill::Status::InvalidArgument("no video stream in " + input);
}

int PrintPlan(const TranscodeSpec& spec) {
  auto chain = vidmill::engine::BuildVideoFilters(spec, 0.0);
  if (!chain.ok()) {
    std::fprintf(stderr, "filter graph: %s\n", chain.status().ToString().c_str());
    return 1;
  }
  std::printf("container=%s\n", spec.container.c_str());
  std::printf("codec=%s\n", spec.codec.c_str());
  std::printf("profile=%s\n", spec.profile.c_str());
  std::printf("pixel_format=%s\n", spec.pixel_format.c_str());
  std::printf("bitrate_bps=%lld\n",
              spec.bitrate_mbps ? static_cast<long long>(std::llround(*spec.bitrate_mbps * 1e6))
                                : 0LL);
  std::printf("size=%dx%d\n", spec.width, spec.height);
  std::printf("rate=%s\n", vidmill::engine::RateString(spec.fps).c_str());
  std::printf("interlaced_output=%d\n", spec.interlaced_output ? 1 : 0);
  std::printf("top_field_first=%d\n", spec.top_field_first ? 1 : 0);
  std::printf("source_interlaced=%d\n", spec.source_interlaced ? 1 : 0);
  std::printf("keep_audio=%d\n", spec.keep_audio ? 1 : 0);
  std::printf("has_range=%d\n", spec.has_range ? 1 : 0);
  std::printf("range_ms=%lld-%lld\n", static_cast<long long>(spec.start_ms),
              static_cast<long long>(spec.end_ms));
  std::printf("filters=%s\n", chain->c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || (std::string(argv[1]) == "run" && argc < 5)) {
    std::fprintf(stderr,
                 "usage: %s plan <input> <request.json>\n"
                 "       %s run <input> <request.json> <output>\n",
                 argv[0], argv[0]);
    return 2;
  }
  av_log_set_level(AV_LOG_ERROR);  // encoder statistics are not results
  vidmill::filters::RegisterBuiltInFilters();  // Vidmill's own filters, as the worker has them
  const std::string mode = argv[1];
  const std::string input = argv[2];
  auto start = std::chrono::steady_clock::now();
  Result<TranscodeSpec> spec = SpecFor(input, argv[3]);
  if (!spec.ok()) {
    std::fprintf(stderr, "request: %s\n", spec.status().ToString().c_str());
    return 1;
  }
  if (mode == "plan") {
    if (vidmill::Status colour = FillColour(input, *spec); !colour.ok()) {
      std::fprintf(stderr, "colour: %s\n", colour.ToString().c_str());
      return 1;
    }
    return PrintPlan(*spec);
  }

  auto planned = std::chrono::steady_clock::now();
  auto result = vidmill::engine::Transcode(input, argv[4], *spec, {}, nullptr, nullptr);
  auto done = std::chrono::steady_clock::now();
  if (!result.ok()) {
    std::fprintf(stderr, "transcode: %s\n", result.status().ToString().c_str());
    return 1;
  }
  boost::json::object line{
      {"planSeconds", std::chrono::duration<double>(planned - start).count()},
      {"transcodeSeconds", std::chrono::duration<double>(done - planned).count()},
      {"videoFrames", result->video_frames},
      {"durationSeconds", result->duration_seconds},
      {"audio", result->has_audio}};
  std::cout << boost::json::serialize(line) << "\n";
  return 0;
}
