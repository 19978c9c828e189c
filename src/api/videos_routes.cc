#include "api/videos_routes.h"

#include <sys/stat.h>

#include <boost/json.hpp>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/auth.h"
#include "api/hal.h"
#include "api/path_id.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "jobs/queue.h"
#include "videos/project_store.h"
#include "videos/video_document.h"
#include "videos/video_store.h"

namespace vidmill::api {
namespace {

using http::Request;
using http::Response;

constexpr std::string_view kProjectPath = "/videos/v1/project/";
constexpr std::string_view kProjectsPath = "/videos/v1/projects";
constexpr std::string_view kVideoPath = "/videos/v1/video/";
constexpr std::string_view kVideosPath = "/videos/v1/videos";

// Runs `fn` (Session& → Result<T>) in a transaction and hands back its value.
// The database may run `fn` more than once; only the last run's value counts.
template <typename T, typename Fn>
Result<T> InTransaction(storage::Database& db, Fn&& fn) {
  std::optional<T> out;
  Status status = db.Transaction([&](storage::Session& session) -> Status {
    out.reset();
    ASSIGN_OR_RETURN(T value, fn(session));
    out = std::move(value);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return std::move(*out);
}

// The same for reads, in autocommit mode.
template <typename T, typename Fn>
Result<T> InSession(storage::Database& db, Fn&& fn) {
  std::optional<T> out;
  Status status = db.Run([&](storage::Session& session) -> Status {
    ASSIGN_OR_RETURN(T value, fn(session));
    out = std::move(value);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return std::move(*out);
}

// The request body as a JSON object; an empty body reads as {} when
// `allow_empty` (PUT /video, whose fields are all optional).
Result<boost::json::object> BodyObject(const Request& request, bool allow_empty) {
  if (allow_empty && request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return boost::json::object{};
  }
  return http::ParseJsonObject(request);
}

// InvalidArgument naming the first field of `body` that is not in `allowed`,
// so a misspelt field ("projectID") is reported instead of silently ignored.
Status OnlyFields(const boost::json::object& body,
                  std::initializer_list<std::string_view> allowed) {
  for (const auto& field : body) {
    bool known = false;
    for (std::string_view name : allowed) known = known || field.key() == name;
    if (!known) {
      std::string list;
      for (std::string_view name : allowed) list += (list.empty() ? "" : ", ") + std::string(name);
      return Status::InvalidArgument("unknown field '" + std::string(field.key()) +
                                     "'; this request takes: " + list);
    }
  }
  return Status::Ok();
}

// body[name] as a string: nullopt when absent or null, InvalidArgument when
// it is another type.
Result<std::optional<std::string>> OptionalStringField(const boost::json::object& body,
                                                       std::string_view name) {
  const boost::json::value* value = body.if_contains(name);
  if (value == nullptr || value->is_null()) return std::optional<std::string>();
  if (!value->is_string()) {
    return Status::InvalidArgument("'" + std::string(name) + "' must be a string");
  }
  return std::optional<std::string>(std::string(value->as_string()));
}

// The required, normalised "name" of a project or video.
Result<std::string> RequiredName(const boost::json::object& body) {
  ASSIGN_OR_RETURN(std::optional<std::string> name, OptionalStringField(body, "name"));
  if (!name) return Status::InvalidArgument("'name' is required");
  return videos::NormalizeName(*name, "name");
}

// A video's normalised name: a video may have none, so an absent, null or
// blank name is the empty one (projects must be named: RequiredName).
Result<std::string> VideoName(const std::optional<std::string>& raw_name) {
  if (!raw_name || raw_name->find_first_not_of(" \t\r\n\f\v") == std::string::npos) {
    return std::string();
  }
  return videos::NormalizeName(*raw_name, "name");
}

boost::json::object ProjectJson(const videos::Project& project) {
  return boost::json::object{
      {"id", project.id},
      {"name", project.name},
      {"teamId", project.team_id},
      {"dateCreated", FormatApiDate(project.created_at)},
      {"timeLastUpdated", FormatApiDate(project.updated_at)},
  };
}

Response ProjectResponse(const videos::Project& project) {
  return Response::Json(boost::json::object{{"project", ProjectJson(project)}});
}

// An id taken from a query parameter: malformed is a 400. The canonical form
// replaces the one sent, so the links an answer builds from the query carry it.
Result<std::optional<std::string>> QueryId(Request& request, const std::string& name) {
  std::optional<std::string> raw = request.Query(name);
  if (!raw) return std::optional<std::string>();
  ASSIGN_OR_RETURN(std::string id, GivenId(name, *raw));
  request.query[name] = id;
  return std::optional<std::string>(std::move(id));
}

// Removes every media file of `video_id` from the blob store. Runs after the
// rows are gone; a failure leaves an orphan for the start-up sweep
// (BlobStore::SweepOrphans), so it is logged rather than reported.
void RemoveMedia(const ApiContext& context, const std::string& video_id) {
  if (context.blobs == nullptr) {
    LogWarning("no blob store configured; media of video " + video_id + " left for the sweep");
    return;
  }
  Status status = context.blobs->Delete(video_id);
  if (!status.ok()) {
    LogWarning("deleting media of video " + video_id + ": " + status.message() +
               " (left for the orphan sweep)");
  }
}

class VideosRoutes {
 public:
  explicit VideosRoutes(ApiContext& context) : context_(context) {}

  // --- Projects -------------------------------------------------------------

  Result<Response> CreateProject(Request& request) {
    ASSIGN_OR_RETURN(Principal principal, Authenticate(context_, request));
    ASSIGN_OR_RETURN(boost::json::object body, BodyObject(request, false));
    RETURN_IF_ERROR(OnlyFields(body, {"name"}));
    ASSIGN_OR_RETURN(std::string name, RequiredName(body));
    ASSIGN_OR_RETURN(videos::Project project,
                     InTransaction<videos::Project>(db(), [&](storage::Session& session) {
                       return videos::CreateProject(session, principal.team_id, name, Now());
                     }));
    return ProjectResponse(project);
  }

  Result<Response> GetProject(Request& request) {
    ASSIGN_OR_RETURN(Principal principal, Authenticate(context_, request));
    ASSIGN_OR_RETURN(std::string id, PathId(request, "project"));
    ASSIGN_OR_RETURN(videos::Project project,
                     InSession<videos::Project>(db(), [&](storage::Session& session) {
                       return videos::GetProject(session, principal.team_id, id);
                     }));
    return ProjectResponse(project);
  }

  Result<Response> RenameProject(Request& request) {
    ASSIGN_OR_RETURN(Principal principal, Authenticate(context_, request));
    ASSIGN_OR_RETURN(std::string id, PathId(request, "project"));
    ASSIGN_OR_RETURN(boost::json::object body, BodyObject(request, false));
    RETURN_IF_ERROR(OnlyFields(body, {"name"}));
    ASSIGN_OR_RETURN(std::string name, RequiredName(body));
    ASSIGN_OR_RETURN(videos::Project project,
                     InTransaction<videos::Project>(db(), [&](storage::Session& session) {
                       return videos::RenameProject(session, principal.team_id, id, name, Now());
                     }));
    return ProjectResponse(project);
  }

  Result<Response> DeleteProject(Request& request) {
    ASSIGN_OR_RETURN(Principal principal, Authenticate(context_, request));
    ASSIGN_OR_RETURN(std::string id, PathId(request, "project"));
    ASSIGN_OR_RETURN(videos::Project project,
                     InTransaction<videos::Project>(db(), [&](storage::Session& session) {
                       return videos::DeleteProject(session, principal.team_id, id);
                     }));
    return ProjectResponse(project);
  }

  Result<Response> ListProjects(Request& request) {
    ASSIGN_OR_RETURN(Principal principal, Authenticate(context_, request));
    ASSIGN_OR_RETURN(videos::PageRequest page_request, ParsePageRequest(request));
    ASSIGN_OR_RETURN(videos::Page<videos::Project> page,
                     InSession<videos::Page<videos::Project>>(db(), [&](storage::Session& s) {
                       return videos::ListProjects(s, principal.team_id, page_request);
                     }));
    boost::json::array items;
    for (const videos::Project& project : page.items) {
      boost::json::object item{
          {"_links", boost::json::object{{"self", Link(request.base_url +
                                                       std::string(kProjectPath) + project.id)}}}};
      for (auto& field : ProjectJson(project)) item[field.key()] = field.value();
      items.push_back(std::move(item));
    }
    return Response::Json(HalPage(request, kProjectsPath, page_request,
                                  page.page_count(page_request.page_size), page.anchor, "projects",
                                  std::move(items)));
  }

  // --- Videos ---------------------------------------------------------------

  Result<Response> CreateVideo(Request& request) {
    ASSIGN_OR_RETURN(Principal principal, Authenticate(context_, request));
    ASSIGN_OR_RETURN(boost::json::object body, BodyObject(request, true));
    RETURN_IF_ERROR(OnlyFields(body, {"name", "projectId"}));
    ASSIGN_OR_RETURN(std::optional<std::string> raw_name, OptionalStringField(body, "name"));
    ASSIGN_OR_RETURN(std::string name, VideoName(raw_name));
    ASSIGN_OR_RETURN(std::optional<std::string> project_id, OptionalStringField(body, "projectId"));
    if (project_id) {
      ASSIGN_OR_RETURN(project_id, GivenId("projectId", *project_id));
    }

    ASSIGN_OR_RETURN(
        videos::Video video,
        InTransaction<videos::Video>(db(), [&](storage::Session& session) -> Result<videos::Video> {
          int64_t now = Now();
          videos::NewVideo spec;
          spec.team_id = principal.team_id;
          spec.user_id = principal.user_id;
          spec.name = name;
          if (project_id) {
            ASSIGN_OR_RETURN(videos::Project project,
                             videos::GetProject(session, principal.team_id, *project_id));
            spec.project_id = project.id;
          } else {
            ASSIGN_OR_RETURN(videos::Project project,
                             videos::GetOrCreateDefaultProject(session, principal.team_id, now));
            spec.project_id = project.id;
          }
          return videos::InsertVideo(session, spec, now);
        }));
    return Response::Json(boost::json::object{
        {"projectId", video.project_id},
        {"videoId", video.id},
        {"uploadMediaUrl", request.base_url + "/media/v1/upload/" + video.id},
        {"uploadLightMediaUrl", request.base_url + "/media/v1/upload/light/" + video.id},
        {"processVideoUrl", request.base_url + "/videos/v1/process-video/" + video.id},
    });
  }

  Result<Response> GetVideo(Request& request) {
    ASSIGN_OR_RETURN(Principal principal, Authenticate(context_, request));
    ASSIGN_OR_RETURN(std::string id, PathId(request, "video"));
    ASSIGN_OR_RETURN(videos::Video video,
                     InSession<videos::Video>(db(), [&](storage::Session& session) {
                       return videos::GetVideo(session, principal.team_id, id);
                     }));
    boost::json::object document = videos::VideoDocument(video);
    RETURN_IF_ERROR(AddJobsAhead(document["ingestion"].as_object()["ingestionState"].as_object(),
                                 video, video.ingestion_status, kIngestKinds));
    RETURN_IF_ERROR(AddJobsAhead(document["processing"].as_object()["processingState"].as_object(),
                                 video, video.processing_status, kProcessKinds));
    return Response::Json(boost::json::object{{"video", std::move(document)}});
  }

  Result<Response> RenameVideo(Request& request) {
    ASSIGN_OR_RETURN(Principal principal, Authenticate(context_, request));
    ASSIGN_OR_RETURN(std::string id, PathId(request, "video"));
    ASSIGN_OR_RETURN(boost::json::object body, BodyObject(request, false));
    RETURN_IF_ERROR(OnlyFields(body, {"name"}));
    ASSIGN_OR_RETURN(std::optional<std::string> raw_name, OptionalStringField(body, "name"));
    if (!raw_name) return Status::InvalidArgument("'name' is required");
    ASSIGN_OR_RETURN(std::string name, VideoName(raw_name));
    ASSIGN_OR_RETURN(
        videos::Video video,
        InTransaction<videos::Video>(db(), [&](storage::Session& session) -> Result<videos::Video> {
          RETURN_IF_ERROR(videos::RenameVideo(session, principal.team_id, id, name, Now()));
          return videos::GetVideo(session, principal.team_id, id);
        }));
    return Response::Json(boost::json::object{{"video", videos::VideoDocument(video)}});
  }

  Result<Response> ListVideos(Request& request) {
    ASSIGN_OR_RETURN(Principal principal, Authenticate(context_, request));
    ASSIGN_OR_RETURN(videos::PageRequest page_request, ParsePageRequest(request));
    videos::VideoFilter filter;
    ASSIGN_OR_RETURN(filter.project_id, QueryId(request, "project-id"));
    ASSIGN_OR_RETURN(filter.parent_id, QueryId(request, "parent-id"));
    ASSIGN_OR_RETURN(videos::Page<videos::Video> page,
                     InSession<videos::Page<videos::Video>>(db(), [&](storage::Session& s) {
                       return videos::ListVideos(s, principal.team_id, filter, page_request);
                     }));
    boost::json::array items;
    for (const videos::Video& video : page.items) {
      items.push_back(boost::json::object{
          {"_links", boost::json::object{{"self", Link(request.base_url + std::string(kVideoPath) +
                                                       video.id)}}},
          {"id", video.id},
          {"parentId", video.parent_id ? boost::json::value(*video.parent_id) : nullptr},
          {"projectId", video.project_id},
          {"name", video.name},
          {"filename", video.file_name ? boost::json::value(*video.file_name) : nullptr},
          {"dateCreated", FormatApiDate(video.created_at)},
          {"timeLastUpdated", FormatApiDate(video.LastUpdated())},
      });
    }
    return Response::Json(HalPage(request, kVideosPath, page_request,
                                  page.page_count(page_request.page_size), page.anchor, "videos",
                                  std::move(items)));
  }

  Result<Response> CheckIngestProgress(Request& request) {
    ASSIGN_OR_RETURN(videos::Video video, ProgressOf(request));
    boost::json::object state = videos::IngestionStateJson(video);
    RETURN_IF_ERROR(AddJobsAhead(state, video, video.ingestion_status, kIngestKinds));
    return Response::Json(boost::json::object{
        {"videoId", video.id},
        {"projectId", video.project_id},
        {"ingestionState", std::move(state)},
    });
  }

  Result<Response> CheckProcessProgress(Request& request) {
    ASSIGN_OR_RETURN(videos::Video video, ProgressOf(request));
    boost::json::object state = videos::ProcessingStateJson(video);
    RETURN_IF_ERROR(AddJobsAhead(state, video, video.processing_status, kProcessKinds));
    return Response::Json(boost::json::object{
        {"videoId", video.id},
        {"projectId", video.project_id},
        {"processingState", std::move(state)},
    });
  }

  Result<Response> DeleteVideo(Request& request) {
    ASSIGN_OR_RETURN(Principal principal, Authenticate(context_, request));
    ASSIGN_OR_RETURN(std::string id, PathId(request, "video"));
    auto delete_rows = [&] {
      return InTransaction<std::vector<std::string>>(db(), [&](storage::Session& s) {
        return videos::DeleteVideoCascade(s, principal.team_id, id, Now());
      });
    };
    Result<std::vector<std::string>> rows_deleted = delete_rows();
    if (!rows_deleted.ok() && storage::IsDiskFull(rows_deleted.status()) &&
        MediaSharesTheDatabasesDisk()) {
      // The database cannot write the deletion for a full disk that it
      // shares with the media (SQLite's default layout), and users must still
      // be able to free space through the API: the media they asked to delete
      // goes first, to make the room; then the rows.
      ASSIGN_OR_RETURN(std::vector<std::string> ids,
                       InSession<std::vector<std::string>>(db(), [&](storage::Session& s) {
                         return videos::VideoAndDescendants(s, principal.team_id, id);
                       }));
      LogWarning("deleting video " + id + " on a full disk: its media (" +
                 std::to_string(ids.size()) + " videos) goes before its rows");
      for (const std::string& video_id : ids) RemoveMedia(context_, video_id);
      rows_deleted = delete_rows();
    }
    ASSIGN_OR_RETURN(std::vector<std::string> deleted, std::move(rows_deleted));
    // The rows are committed away; only now do their files go.
    boost::json::array list;
    for (const std::string& video_id : deleted) {
      RemoveMedia(context_, video_id);
      list.push_back(boost::json::object{{"videoId", video_id}});
    }
    return Response::Json(boost::json::object{{"deletedVideos", std::move(list)}});
  }

 private:
  // Whether the database is a local file on the media directory's
  // filesystem, so that removing media makes room for its writes.
  bool MediaSharesTheDatabasesDisk() {
    std::optional<std::string> file = db().LocalFile();
    struct stat database_st {
    }, media_st{};
    return file && ::stat(file->c_str(), &database_st) == 0 &&
           ::stat(context_.config.media_dir.c_str(), &media_st) == 0 &&
           database_st.st_dev == media_st.st_dev;
  }

  inline static const std::vector<std::string> kIngestKinds = {std::string(jobs::kKindIngestFull),
                                                               std::string(jobs::kKindIngestLight)};
  inline static const std::vector<std::string> kProcessKinds = {std::string(jobs::kKindProcess)};

  // An IN_PROGRESS state whose job still waits for a worker says how many
  // queued jobs go first (jobsAhead); otherwise it would read
  // "0 %, ETA unknown" for as long as the queue takes (97 s for the 50th of 50 jobs).
  Status AddJobsAhead(boost::json::object& state, const videos::Video& video,
                      const std::string& status, const std::vector<std::string>& kinds) {
    if (status != videos::kStatusInProgress) return Status::Ok();
    ASSIGN_OR_RETURN(std::optional<int64_t> ahead,
                     InSession<std::optional<int64_t>>(db(), [&](storage::Session& session) {
                       return jobs::QueuedAhead(session, video.id, kinds);
                     }));
    if (ahead) state["jobsAhead"] = *ahead;
    return Status::Ok();
  }

  Result<videos::Video> ProgressOf(const Request& request) {
    ASSIGN_OR_RETURN(Principal principal, Authenticate(context_, request));
    ASSIGN_OR_RETURN(std::string id, PathId(request, "video"));
    return InSession<videos::Video>(db(), [&](storage::Session& session) {
      return videos::GetVideoProgress(session, principal.team_id, id);
    });
  }

  storage::Database& db() { return *context_.db; }
  int64_t Now() const { return context_.clock->NowMillis(); }

  ApiContext& context_;
};

}  // namespace

void RegisterVideosRoutes(http::Router& router, ApiContext& context) {
  // Lives as long as the router's handlers, which share it.
  auto routes = std::make_shared<VideosRoutes>(context);
  auto bind = [routes](Result<Response> (VideosRoutes::*method)(Request&)) {
    return [routes, method](Request& request) { return ((*routes).*method)(request); };
  };
  router.Add("PUT", "/videos/v1/project", bind(&VideosRoutes::CreateProject));
  router.Add("GET", "/videos/v1/project/{id}", bind(&VideosRoutes::GetProject));
  router.Add("POST", "/videos/v1/project/{id}", bind(&VideosRoutes::RenameProject));
  router.Add("DELETE", "/videos/v1/project/{id}", bind(&VideosRoutes::DeleteProject));
  router.Add("GET", "/videos/v1/projects", bind(&VideosRoutes::ListProjects));
  router.Add("PUT", "/videos/v1/video", bind(&VideosRoutes::CreateVideo));
  router.Add("GET", "/videos/v1/video/{id}", bind(&VideosRoutes::GetVideo));
  router.Add("POST", "/videos/v1/video/{id}", bind(&VideosRoutes::RenameVideo));
  router.Add("DELETE", "/videos/v1/video/{id}", bind(&VideosRoutes::DeleteVideo));
  router.Add("GET", "/videos/v1/videos", bind(&VideosRoutes::ListVideos));
  router.Add("GET", "/videos/v1/check-ingest-video-progress/{id}",
             bind(&VideosRoutes::CheckIngestProgress));
  router.Add("GET", "/videos/v1/check-process-video-progress/{id}",
             bind(&VideosRoutes::CheckProcessProgress));
}

}  // namespace vidmill::api
