// ingest_bench: runs Vidmill's ingestion on one file and prints what it took.
//
//   ingest_bench full|light <input> <output-dir> [repeat]
//
// Full ingestion writes 5 thumbnails and the web preview into <output-dir>.
// Prints one JSON object per run: {"kind", "seconds", "steps": {...},
// "totalFrames", "heuristics", "overallSubjectiveScore"}.

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/ingestion.h"

extern "C" {
#include <libavutil/log.h>
}

int main(int argc, char** argv) {
  using vidmill::engine::IngestionKind;
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s full|light <input> <output-dir> [repeat]\n", argv[0]);
    return 2;
  }
  const std::string kind_name = argv[1];
  const IngestionKind kind = kind_name == "light" ? IngestionKind::kLight : IngestionKind::kFull;
  const std::string input = argv[2];
  const std::string out_dir = argv[3];
  const int repeat = argc > 4 ? std::atoi(argv[4]) : 1;
  av_log_set_level(AV_LOG_ERROR);  // libx264's statistics are not results

  vidmill::engine::IngestionOutputs outputs;
  for (int thumb_idx = 0; thumb_idx < 5; ++thumb_idx) {
    outputs.thumbnail_paths.push_back(out_dir + "/thumb" + std::to_string(thumb_idx) + ".jpg");
  }
  outputs.web_preview_path = out_dir + "/web.mp4";

  for (int run_idx = 0; run_idx < repeat; ++run_idx) {
    auto start = std::chrono::steady_clock::now();
    auto report = vidmill::engine::RunIngestion(input, kind, outputs, {}, nullptr, nullptr);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!report.ok()) {
      std::fprintf(stderr, "ingestion failed: %s\n", report.status().ToString().c_str());
      return 1;
    }
    boost::json::object line;
    line["kind"] = kind_name;
    line["seconds"] = seconds;
    boost::json::object steps;
    for (const auto& [step, step_seconds] : report->step_seconds) {
      steps[step] = step_seconds;
    }
    line["steps"] = std::move(steps);
    line["totalFrames"] = report->metadata.total_frames;
    line["totalFramesExact"] = report->metadata.total_frames_exact;
    line["framesAnalysed"] = report->frames_analysed;
    if (report->metadata.scanning_heuristics) {
      line["heuristics"] = report->metadata.scanning_heuristics->ToString();
    }
    if (report->quality) {
      line["overallSubjectiveScore"] = report->quality->overall_subjective_score;
    }
    std::printf("%s\n", boost::json::serialize(line).c_str());
  }
  return 0;
}
