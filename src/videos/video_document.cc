#include "videos/video_document.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/clock.h"
#include "common/log.h"

namespace vidmill::videos {
namespace {

boost::json::value OptionalString(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  return boost::json::string(*text);
}

boost::json::value OptionalInt(const std::optional<int64_t>& number) {
  if (!number) return nullptr;
  return *number;
}

// Writers keep progress within 0–100; clamp anyway so a stray value never
// reaches a client's progress bar as -3 or 250, and NaN reads as 0.
// A progress in percent, to a hundredth (a fraction times 100 shows as
// 51.480000000000004 otherwise).
double Percent(double value) {
  if (!std::isfinite(value)) return 0;
  return std::round(std::clamp(value, 0.0, 100.0) * 100) / 100;
}

// FAILED: errorMessage says why. IN_PROGRESS after a failed attempt:
// retryMessage says what failed and when the next attempt starts (kept while
// it runs; gone once the job is DONE).
void AddError(boost::json::object& state, const std::string& status,
              const std::optional<std::string>& error, std::string_view what) {
  if (status == kStatusFailed) {
    state["errorMessage"] =
        error && !error->empty() ? *error : std::string(what) + " failed for an unknown reason";
  } else if (status == kStatusInProgress && error && !error->empty()) {
    state["retryMessage"] = *error;
  }
}

}  // namespace

boost::json::object ParseJsonColumn(const std::optional<std::string>& text, std::string_view column,
                                    const std::string& video_id) {
  if (!text || text->empty()) return {};
  boost::system::error_code error;
  boost::json::value value = boost::json::parse(*text, error);
  if (error || !value.is_object()) {
    LogWarning("video " + video_id + ": column " + std::string(column) +
               " does not hold a JSON object; reporting {}");
    return {};
  }
  return std::move(value.as_object());
}

boost::json::object UploadStateJson(const Video& video) {
  boost::json::object state{{"updatedAt", FormatApiDate(video.upload_updated_at)},
                            {"uploadStatus", video.upload_status}};
  AddError(state, video.upload_status, video.upload_error, "upload");
  return state;
}

boost::json::object IngestionStateJson(const Video& video) {
  boost::json::object state{
      {"updatedAt", FormatApiDate(video.ingestion_updated_at)},
      {"ingestionStatus", video.ingestion_status},
      {"videoMetadataAvailable", video.metadata_available},
      {"videoMetadataCommitted", video.metadata_committed},
      {"thumbnailsAvailable", video.thumbnail_count > 0},
      {"webVideoAvailable", video.web_video_available},
      {"processingProgressPercent", Percent(video.ingestion_progress)},
      {"etaSeconds", OptionalInt(video.ingestion_eta)},
  };
  AddError(state, video.ingestion_status, video.ingestion_error, "ingestion");
  return state;
}

boost::json::object ProcessingStateJson(const Video& video) {
  boost::json::object state{
      {"updatedAt", FormatApiDate(video.processing_updated_at)},
      {"processingStatus", video.processing_status},
      {"processingProgressPercent", Percent(video.processing_progress)},
      {"etaSeconds", OptionalInt(video.processing_eta)},
  };
  AddError(state, video.processing_status, video.processing_error, "processing");
  return state;
}

boost::json::object VideoDocument(const Video& video) {
  boost::json::object upload{
      {"uploadState", UploadStateJson(video)},
      {"hasFinishedUploading", video.has_finished_uploading()},
      {"fileName", OptionalString(video.file_name)},
      {"fileSize", OptionalInt(video.file_size)},
      {"fileType", OptionalString(video.file_type)},
      {"fileContainerName", OptionalString(video.file_container)},
  };
  boost::json::object ingestion{
      {"ingestionState", IngestionStateJson(video)},
      {"metadata", ParseJsonColumn(video.metadata, "metadata", video.id)},
      {"qualityAssessment", ParseJsonColumn(video.quality, "quality", video.id)},
  };
  boost::json::object processing{
      {"processingState", ProcessingStateJson(video)},
      {"processingParameters",
       ParseJsonColumn(video.processing_parameters, "processing_parameters", video.id)},
  };
  return boost::json::object{
      {"id", video.id},
      {"name", video.name},
      {"description", video.description},
      {"projectId", video.project_id},
      {"userId", video.user_id},
      {"teamId", video.team_id},
      {"parentId", OptionalString(video.parent_id)},
      {"upload", std::move(upload)},
      {"ingestion", std::move(ingestion)},
      {"processing", std::move(processing)},
      {"attributes", ParseJsonColumn(video.attributes, "attributes", video.id)},
      {"dateCreated", FormatApiDate(video.created_at)},
      {"timeLastUpdated", FormatApiDate(video.LastUpdated())},
  };
}

}  // namespace vidmill::videos
