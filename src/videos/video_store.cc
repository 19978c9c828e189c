#include "videos/video_store.h"

#include <algorithm>
#include <string>
#include <utility>

#include "common/ids.h"

namespace vidmill::videos {
namespace {

// The column list shared by every read, in the order RowToVideo expects.
constexpr std::string_view kVideoColumns =
    "id, team_id, project_id, user_id, parent_id, name, description, attributes, "
    "upload_status, upload_updated_at, upload_error, file_name, file_size, file_type, "
    "file_container, file_sha256, file_modified_at, "
    "ingestion_status, ingestion_updated_at, ingestion_error, ingestion_kind, "
    "ingestion_progress, ingestion_eta, metadata_available, metadata_committed, "
    "thumbnail_count, web_video_available, metadata, quality, "
    "processing_status, processing_updated_at, processing_error, processing_progress, "
    "processing_eta, processing_parameters, created_at, updated_at";

std::optional<int64_t> OptInt(const storage::Row& row, size_t column) {
  if (row.IsNull(column)) return std::nullopt;
  return row.Int(column);
}

Video RowToVideo(const storage::Row& row) {
  Video video;
  size_t c = 0;
  video.id = row.Text(c++);
  video.team_id = row.Text(c++);
  video.project_id = row.Text(c++);
  video.user_id = row.Text(c++);
  video.parent_id = row.OptText(c++);
  video.name = row.Text(c++);
  video.description = row.Text(c++);
  video.attributes = row.Text(c++);
  video.upload_status = row.Text(c++);
  video.upload_updated_at = row.Int(c++);
  video.upload_error = row.OptText(c++);
  video.file_name = row.OptText(c++);
  video.file_size = OptInt(row, c++);
  video.file_type = row.OptText(c++);
  video.file_container = row.OptText(c++);
  video.file_sha256 = row.OptText(c++);
  video.file_modified_at = OptInt(row, c++);
  video.ingestion_status = row.Text(c++);
  video.ingestion_updated_at = row.Int(c++);
  video.ingestion_error = row.OptText(c++);
  video.ingestion_kind = row.OptText(c++);
  video.ingestion_progress = row.Double(c++);
  video.ingestion_eta = OptInt(row, c++);
  video.metadata_available = row.Bool(c++);
  video.metadata_committed = row.Bool(c++);
  video.thumbnail_count = row.Int(c++);
  video.web_video_available = row.Bool(c++);
  video.metadata = row.OptText(c++);
  video.quality = row.OptText(c++);
  video.processing_status = row.Text(c++);
  video.processing_updated_at = row.Int(c++);
  video.processing_error = row.OptText(c++);
  video.processing_progress = row.Double(c++);
  video.processing_eta = OptInt(row, c++);
  video.processing_parameters = row.OptText(c++);
  video.created_at = row.Int(c++);
  video.updated_at = row.Int(c++);
  return video;
}

}  // namespace

bool IsKnownStatus(std::string_view status) {
  return status == kStatusInitial || status == kStatusInProgress || status == kStatusDone ||
         status == kStatusFailed;
}

int64_t Video::LastUpdated() const {
  return std::max({updated_at, upload_updated_at, ingestion_updated_at, processing_updated_at});
}

Result<Video> GetVideo(storage::Session& session, const std::string& team_id,
                       const std::string& video_id) {
  if (!IsValidId(video_id)) return Status::NotFound("video", video_id);
  std::string sql =
      "SELECT " + std::string(kVideoColumns) + " FROM videos WHERE id = ? AND team_id = ?";
  ASSIGN_OR_RETURN(storage::Rows rows, session.Query(sql, {video_id, team_id}));
  if (rows.empty()) return Status::NotFound("video", video_id);
  return RowToVideo(rows[0]);
}

Result<Video> GetVideoAnyTeam(storage::Session& session, const std::string& video_id) {
  if (!IsValidId(video_id)) return Status::NotFound("video", video_id);
  std::string sql = "SELECT " + std::string(kVideoColumns) + " FROM videos WHERE id = ?";
  ASSIGN_OR_RETURN(storage::Rows rows, session.Query(sql, {video_id}));
  if (rows.empty()) return Status::NotFound("video", video_id);
  return RowToVideo(rows[0]);
}

Result<Video> GetVideoProgress(storage::Session& session, const std::string& team_id,
                               const std::string& video_id) {
  if (!IsValidId(video_id)) return Status::NotFound("video", video_id);
  ASSIGN_OR_RETURN(
      storage::Rows rows,
      session.Query("SELECT id, team_id, project_id, parent_id, upload_status, upload_updated_at, "
                    "upload_error, ingestion_status, ingestion_updated_at, ingestion_error, "
                    "ingestion_progress, ingestion_eta, metadata_available, metadata_committed, "
                    "processing_status, processing_updated_at, processing_error, "
                    "processing_progress, processing_eta, thumbnail_count, web_video_available "
                    "FROM videos WHERE id = ? AND team_id = ?",
                    {video_id, team_id}));
  if (rows.empty()) return Status::NotFound("video", video_id);
  const storage::Row& row = rows[0];
  Video video;
  size_t c = 0;
  video.id = row.Text(c++);
  video.team_id = row.Text(c++);
  video.project_id = row.Text(c++);
  video.parent_id = row.OptText(c++);
  video.upload_status = row.Text(c++);
  video.upload_updated_at = row.Int(c++);
  video.upload_error = row.OptText(c++);
  video.ingestion_status = row.Text(c++);
  video.ingestion_updated_at = row.Int(c++);
  video.ingestion_error = row.OptText(c++);
  video.ingestion_progress = row.Double(c++);
  video.ingestion_eta = OptInt(row, c++);
  video.metadata_available = row.Bool(c++);
  video.metadata_committed = row.Bool(c++);
  video.processing_status = row.Text(c++);
  video.processing_updated_at = row.Int(c++);
  video.processing_error = row.OptText(c++);
  video.processing_progress = row.Double(c++);
  video.processing_eta = OptInt(row, c++);
  video.thumbnail_count = row.Int(c++);
  video.web_video_available = row.Bool(c++);
  return video;
}

Result<Page<Video>> ListVideos(storage::Session& session, const std::string& team_id,
                               const VideoFilter& filter, const PageRequest& request) {
  ListQuery query{"videos", std::string(kVideoColumns), "team_id = ?", {team_id}};
  if (filter.project_id) {
    if (!IsValidId(*filter.project_id)) return Status::NotFound("project", *filter.project_id);
    ASSIGN_OR_RETURN(storage::Rows project,
                     session.Query("SELECT id FROM projects WHERE id = ? AND team_id = ?",
                                   {*filter.project_id, team_id}));
    if (project.empty()) return Status::NotFound("project", *filter.project_id);
    query.where += " AND project_id = ?";
    query.params.emplace_back(*filter.project_id);
  }
  if (filter.parent_id) {
    if (!IsValidId(*filter.parent_id)) return Status::NotFound("video", *filter.parent_id);
    ASSIGN_OR_RETURN(storage::Rows parent,
                     session.Query("SELECT id FROM videos WHERE id = ? AND team_id = ?",
                                   {*filter.parent_id, team_id}));
    if (parent.empty()) return Status::NotFound("video", *filter.parent_id);
    query.where += " AND parent_id = ?";
    query.params.emplace_back(*filter.parent_id);
  }
  ASSIGN_OR_RETURN(Page<storage::Row> rows, ListRows(session, query, request));
  Page<Video> page;
  page.total = rows.total;
  page.anchor = std::move(rows.anchor);
  page.items.reserve(rows.items.size());
  for (const storage::Row& row : rows.items) page.items.push_back(RowToVideo(row));
  return page;
}

Status LockTeam(storage::Session& session, const std::string& team_id) {
  ASSIGN_OR_RETURN(
      int64_t changed,
      session.Execute("UPDATE teams SET updated_at = updated_at WHERE id = ?", {team_id}));
  if (changed == 0) return Status::NotFound("team", team_id);
  return Status::Ok();
}

Status LockOriginal(storage::Session& session, const std::string& video_id, bool shared) {
  if (session.dialect() != storage::Dialect::kPostgres) return Status::Ok();
  if (shared) {
    // A reader does not wait out a publication stalled on the media disk.
    RETURN_IF_ERROR(session.Execute("SET LOCAL lock_timeout = '5s'", {}).status());
  }
  const std::string sql = std::string("SELECT 1 FROM ") +
                          (shared ? "pg_advisory_xact_lock_shared" : "pg_advisory_xact_lock") +
                          "(hashtextextended(?, 0))";
  Status locked = session.Query(sql, {"vidmill original " + video_id}).status();
  if (shared && locked.code() == Code::kUnavailable &&
      locked.message().rfind("database busy", 0) == 0) {
    return Status::Unavailable("the media of video '" + video_id +
                               "' is being replaced; retry shortly")
        .WithRetryAfter(1);
  }
  return locked;
}

Result<int64_t> NextCreationTime(storage::Session& session, std::string_view table,
                                 const std::string& team_id, int64_t now_millis) {
  if (table != "videos" && table != "projects") {
    return Status::Internal("NextCreationTime: unexpected table " + std::string(table));
  }
  std::string sql = "SELECT MAX(created_at) FROM " + std::string(table) + " WHERE team_id = ?";
  ASSIGN_OR_RETURN(storage::Rows rows, session.Query(sql, {team_id}));
  if (rows.empty() || rows[0].IsNull(0)) return now_millis;
  return std::max(now_millis, rows[0].Int(0) + 1);
}

Result<Video> InsertVideo(storage::Session& session, const NewVideo& video, int64_t now_millis) {
  RETURN_IF_ERROR(LockTeam(session, video.team_id));
  if (!IsValidId(video.project_id)) return Status::NotFound("project", video.project_id);
  ASSIGN_OR_RETURN(storage::Rows projects,
                   session.Query("SELECT id FROM projects WHERE id = ? AND team_id = ?",
                                 {video.project_id, video.team_id}));
  if (projects.empty()) return Status::NotFound("project", video.project_id);
  if (video.parent_id) {
    // The parent must exist in the same team (GetVideo says NotFound otherwise).
    RETURN_IF_ERROR(GetVideo(session, video.team_id, *video.parent_id).status());
  }
  if (!IsKnownStatus(video.processing_status)) {
    return Status::Internal("InsertVideo: unknown processing status '" + video.processing_status +
                            "'");
  }
  ASSIGN_OR_RETURN(int64_t created_at,
                   NextCreationTime(session, "videos", video.team_id, now_millis));
  std::string id = NewId();
  RETURN_IF_ERROR(
      session
          .Execute("INSERT INTO videos (id, team_id, project_id, user_id, parent_id, name, "
                   "description, attributes, upload_updated_at, ingestion_updated_at, "
                   "processing_status, processing_updated_at, processing_parameters, "
                   "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   {id, video.team_id, video.project_id, video.user_id,
                    storage::OptionalText(video.parent_id), video.name, video.description,
                    video.attributes, created_at, created_at, video.processing_status, created_at,
                    storage::OptionalText(video.processing_parameters), created_at, created_at})
          .status());
  return GetVideo(session, video.team_id, id);
}

Status RenameVideo(storage::Session& session, const std::string& team_id,
                   const std::string& video_id, const std::string& name, int64_t now_millis) {
  if (!IsValidId(video_id)) return Status::NotFound("video", video_id);
  ASSIGN_OR_RETURN(int64_t changed, session.Execute("UPDATE videos SET name = ?, updated_at = ? "
                                                    "WHERE id = ? AND team_id = ?",
                                                    {name, now_millis, video_id, team_id}));
  if (changed == 0) return Status::NotFound("video", video_id);
  return Status::Ok();
}

Result<std::vector<std::string>> VideoAndDescendants(storage::Session& session,
                                                     const std::string& team_id,
                                                     const std::string& video_id) {
  RETURN_IF_ERROR(GetVideo(session, team_id, video_id).status());
  // Breadth-first over parent links; processed videos normally hang directly
  // off their original, but nothing below relies on that.
  std::vector<std::string> ids = {video_id};
  for (size_t next = 0; next < ids.size(); ++next) {
    ASSIGN_OR_RETURN(storage::Rows children,
                     session.Query("SELECT id FROM videos WHERE parent_id = ? AND team_id = ? "
                                   "ORDER BY created_at, id",
                                   {ids[next], team_id}));
    for (const storage::Row& child : children) {
      std::string child_id = child.Text(0);
      if (std::find(ids.begin(), ids.end(), child_id) == ids.end()) {
        ids.push_back(std::move(child_id));
      }
    }
  }
  return ids;
}

Result<std::vector<std::string>> DeleteVideoCascade(storage::Session& session,
                                                    const std::string& team_id,
                                                    const std::string& video_id,
                                                    int64_t now_millis) {
  // The team's lock first, as every other writer of its videos takes it (an
  // upload's publication, a processing request): on PostgreSQL a deletion
  // that cancelled jobs before it waited for a re-upload's row missed the
  // ingestion job that upload queued (it ran, then failed NotFound), and the
  // two transactions, locking in opposite orders, could deadlock; the upload's
  // retry then restored its replaced file into the deleted directory.
  RETURN_IF_ERROR(LockTeam(session, team_id));
  ASSIGN_OR_RETURN(std::vector<std::string> ids, VideoAndDescendants(session, team_id, video_id));

  for (const std::string& id : ids) {
    RETURN_IF_ERROR(session
                        .Execute("UPDATE jobs SET state = 'cancelled', error = ?, updated_at = ? "
                                 "WHERE video_id = ? AND state IN ('queued', 'running')",
                                 {std::string("the video was deleted"), now_millis, id})
                        .status());
  }
  // Children before parents: parent_id is a foreign key.
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    RETURN_IF_ERROR(
        session.Execute("DELETE FROM videos WHERE id = ? AND team_id = ?", {*it, team_id})
            .status());
  }
  return ids;
}

}  // namespace vidmill::videos
