#include "api/processing_routes.h"

#include "api/path_id.h"
#include "common/ids.h"
#include "jobs/queue.h"
#include "videos/processing_request.h"
#include "videos/video_store.h"

namespace vidmill::api {
namespace {

// What a processing request makes of `source`: its plan's document (the
// child's processingParameters), or why it cannot be processed.
Result<std::string> PlanParameters(const ApiContext& context, const videos::Video& source,
                                   const boost::json::object& body) {
  const std::string& source_id = source.id;
  // A processed video is processed again from its own file (passes chained:
  // denoise, then upscale), once that file is there.
  if (source.is_processed() && source.processing_status != videos::kStatusDone) {
    return Status::Conflict("video '" + source_id + "' is a processed video whose processing " +
                            (source.processing_status == videos::kStatusFailed
                                 ? std::string("failed")
                                 : "has not finished (" + source.processing_status + ")") +
                            "; only a processed video that is DONE can be processed again");
  }
  if (source.upload_status != videos::kStatusDone && !source.is_processed()) {
    return Status::Conflict("video '" + source_id + "' has no media yet; upload it first");
  }
  if (source.ingestion_status == videos::kStatusFailed) {
    return Status::Conflict("video '" + source_id + "' cannot be processed: its ingestion failed (" +
                            source.ingestion_error.value_or("unknown error") + ")");
  }
  if (source.ingestion_status != videos::kStatusDone || !source.metadata_committed ||
      !source.metadata) {
    return Status::Conflict("video '" + source_id +
                            "' is still being ingested; retry when its ingestion is DONE");
  }
  boost::system::error_code ec;
  boost::json::value metadata = boost::json::parse(*source.metadata, ec);
  if (ec || !metadata.is_object()) {
    return Status::Conflict("video '" + source_id + "' has unreadable metadata");
  }
  ASSIGN_OR_RETURN(videos::SourceInfo info,
                   videos::SourceFromMetadata(metadata.as_object(), source.file_name.value_or("")));
  ASSIGN_OR_RETURN(videos::ProcessingPlan plan, videos::ValidateProcessingRequest(body, info));
  std::string missing;
  for (const std::string& name : plan.OwnFilters()) {
    // clarityBoost is a setting of pabsr1, which is checked on its own.
    if (name == "clarityBoost") continue;
    if (!context.own_filter_available || !context.own_filter_available(name)) {
      missing += (missing.empty() ? "" : ", ") + name;
    }
  }
  if (!missing.empty()) {
    return Status::NotImplemented("Vidmill's own filters (" + missing +
                                  ") are not built into this server yet; choose stock filters "
                                  "(yadif, bwdif, weston3f, hqdn3d, scale)");
  }
  return boost::json::serialize(plan.ToProcessingParameters());
}

Result<http::Response> ProcessVideo(ApiContext& context, http::Request& request) {
  ASSIGN_OR_RETURN(Principal principal, Authenticate(context, request));
  ASSIGN_OR_RETURN(std::string source_id, PathId(request, "video"));
  boost::json::object body;
  if (!request.body.empty()) {
    ASSIGN_OR_RETURN(body, http::ParseJsonObject(request));
  }
  const std::string job_params =
      boost::json::serialize(boost::json::object{{"sourceVideoId", source_id}, {"request", body}});
  videos::Video source;
  videos::Video child;
  RETURN_IF_ERROR(context.db->Transaction([&](storage::Session& session) -> Status {
    // The source is read, checked and planned under the team's lock, which a
    // re-upload's publication takes too: the child is made from the media it
    // was planned on, and once it exists the media can no longer be replaced.
    // Read before the lock, a re-upload publishing in between would be
    // accepted as well; the child would describe the old file, and be made
    // from the new one (or fail on a range the API accepted).
    RETURN_IF_ERROR(videos::LockTeam(session, principal.team_id));
    ASSIGN_OR_RETURN(source, videos::GetVideo(session, principal.team_id, source_id));
    ASSIGN_OR_RETURN(std::string parameters, PlanParameters(context, source, body));
    videos::NewVideo fresh;
    fresh.team_id = principal.team_id;
    fresh.project_id = source.project_id;
    fresh.user_id = principal.user_id;
    fresh.parent_id = source.id;
    fresh.name = source.name;
    fresh.processing_parameters = std::move(parameters);
    // IN_PROGRESS at 0 % from the moment it is accepted, as ingestion is:
    // INITIAL, which an original that was never sent keeps, would last until a
    // worker takes the job, and a client could not tell queued from not asked.
    fresh.processing_status = std::string(videos::kStatusInProgress);
    ASSIGN_OR_RETURN(child, videos::InsertVideo(session, fresh, context.clock->NowMillis()));
    return jobs::Enqueue(session,
                         jobs::NewJob{std::string(jobs::kKindProcess), child.id, job_params},
                         *context.clock)
        .status();
  }));
  return http::Response::Json(boost::json::object{
      {"sourceVideoId", source.id},
      {"processedVideoId", child.id},
      {"projectId", child.project_id},
      {"checkProgressUrl", request.base_url + "/videos/v1/check-process-video-progress/" + child.id},
      {"downloadMediaUrl", request.base_url + "/media/v1/download/processed/" + child.id}});
}

}  // namespace

void RegisterProcessingRoutes(http::Router& router, ApiContext& context) {
  router.Add("POST", "/videos/v1/process-video/{id}",
             [&context](http::Request& request) { return ProcessVideo(context, request); });
}

}  // namespace vidmill::api
