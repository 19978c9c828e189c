#pragma once
// The videos table: its read model (Video, one field per column) and the
// writes the Videos service owns (creation, names, deletion).
//
// Column ownership. Each group of columns has one writer, who changes it
// through small functions of their own; everyone may read every column:
//   * upload_*, file_*                  the media service (uploads);
//   * ingestion_*, metadata_*, metadata, quality, thumbnail_count,
//     web_video_available               the ingestion jobs;
//   * processing_*                      the processing request and its jobs;
//   * everything else                   this file.
// A writer of a group also sets that group's *_updated_at. `updated_at` is
// bumped by this file only (names); readers that need "last changed" use
// Video::LastUpdated(), the latest of all four.
//
// Conventions every writer follows:
//   * statuses hold one of kStatusInitial/InProgress/Done/Failed;
//   * a FAILED status comes with its *_error column set to a message written
//     for a user ("cannot decode input: moov atom not found");
//   * *_progress is a percentage, 0.0–100.0;
//   * *_eta is whole seconds remaining, NULL when unknown;
//   * metadata, quality, processing_parameters and attributes hold JSON
//     text (an object), or NULL when not known yet (attributes is never NULL).
//
// Team isolation: every function that takes a team id treats a video of
// another team exactly like a missing one (NotFound), so a caller cannot learn
// that an id exists. Only workers, which act for no team, use *AnyTeam.
//
// Thread safety: free functions on a caller-supplied Session; the Session is
// used from one thread at a time.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/database.h"
#include "videos/paging.h"

namespace vidmill::videos {

// The one state vocabulary for upload, ingestion and processing.
inline constexpr std::string_view kStatusInitial = "INITIAL";
inline constexpr std::string_view kStatusInProgress = "IN_PROGRESS";
inline constexpr std::string_view kStatusDone = "DONE";
inline constexpr std::string_view kStatusFailed = "FAILED";

// True for one of the four statuses above.
bool IsKnownStatus(std::string_view status);

// One row of the videos table. Optional fields are NULL columns.
struct Video {
  std::string id;
  std::string team_id;
  std::string project_id;
  std::string user_id;                   // who created (or processed) it
  std::optional<std::string> parent_id;  // set for processed videos: the original
  std::string name;
  std::string description;
  std::string attributes = "{}";  // JSON object text

  // Upload (media service).
  std::string upload_status{kStatusInitial};
  int64_t upload_updated_at = 0;
  std::optional<std::string> upload_error;
  std::optional<std::string> file_name;
  std::optional<int64_t> file_size;
  std::optional<std::string> file_type;       // MIME type
  std::optional<std::string> file_container;  // container description
  std::optional<std::string> file_sha256;     // hex
  std::optional<int64_t> file_modified_at;

  // Ingestion (ingestion jobs).
  std::string ingestion_status{kStatusInitial};
  int64_t ingestion_updated_at = 0;
  std::optional<std::string> ingestion_error;
  std::optional<std::string> ingestion_kind;  // "full" or "light"
  double ingestion_progress = 0;              // percent
  std::optional<int64_t> ingestion_eta;       // seconds
  bool metadata_available = false;
  bool metadata_committed = false;
  int64_t thumbnail_count = 0;
  bool web_video_available = false;
  std::optional<std::string> metadata;  // JSON object text
  std::optional<std::string> quality;   // JSON object text

  // Processing (processing request and jobs).
  std::string processing_status{kStatusInitial};
  int64_t processing_updated_at = 0;
  std::optional<std::string> processing_error;
  double processing_progress = 0;                    // percent
  std::optional<int64_t> processing_eta;             // seconds
  std::optional<std::string> processing_parameters;  // JSON object text

  int64_t created_at = 0;  // epoch milliseconds
  int64_t updated_at = 0;

  bool is_processed() const { return parent_id.has_value(); }
  bool has_finished_uploading() const { return upload_status == kStatusDone; }
  // The latest of updated_at and the three *_updated_at.
  int64_t LastUpdated() const;
};

// The video `video_id` of team `team_id`. NotFound for a missing id, another
// team's id and a malformed id alike.
Result<Video> GetVideo(storage::Session& session, const std::string& team_id,
                       const std::string& video_id);

// The video `video_id`, whatever its team. For workers and internal callers
// only; never for a request made on behalf of a user.
Result<Video> GetVideoAnyTeam(storage::Session& session, const std::string& video_id);

// The video's identity and its three state groups only (id, team_id,
// project_id, parent_id, the upload_*/ingestion_*/processing_* status,
// updated_at, error, progress and eta columns, metadata_available and
// metadata_committed); other fields keep their defaults. One primary-key
// lookup that skips the large JSON columns, for the progress endpoints that
// clients poll. NotFound as GetVideo.
Result<Video> GetVideoProgress(storage::Session& session, const std::string& team_id,
                               const std::string& video_id);

struct VideoFilter {
  std::optional<std::string> project_id;  // only videos in this project
  std::optional<std::string> parent_id;   // only processed videos of this original
};

// The team's videos matching `filter`, newest first (see paging.h). Originals
// and processed videos alike unless filtered by parent. A filter naming a
// project or video that is not the team's is NotFound.
Result<Page<Video>> ListVideos(storage::Session& session, const std::string& team_id,
                               const VideoFilter& filter, const PageRequest& request);

// What a new row holds; every column not named here starts at its initial value.
struct NewVideo {
  std::string team_id;
  std::string project_id;  // must belong to team_id (checked)
  std::string user_id;
  std::optional<std::string> parent_id;  // must belong to team_id (checked)
  std::string name;
  std::string description;
  std::string attributes = "{}";
  std::optional<std::string> processing_parameters;
  std::string processing_status{kStatusInitial};
};

// Inserts a video with a fresh id and returns it as stored. Call inside
// Database::Transaction: it takes the team's write lock so that creation times
// are strictly increasing within a team (listings page by them; see
// NextCreationTime). NotFound when the project or parent is not the team's.
Result<Video> InsertVideo(storage::Session& session, const NewVideo& video, int64_t now_millis);

// Renames a video of the team. NotFound as GetVideo.
Status RenameVideo(storage::Session& session, const std::string& team_id,
                   const std::string& video_id, const std::string& name, int64_t now_millis);

// Deletes the video `video_id` of team `team_id` and, transitively, every
// video whose parent it is; marks the queued and running jobs of all of them
// 'cancelled' (workers notice at their next heartbeat). Returns the ids of the
// deleted rows, `video_id` first. Call inside Database::Transaction and delete
// the media files of the returned ids only after it has committed: a crash in
// between leaves an orphan file (swept later), never a row without its file.
// NotFound as GetVideo.
Result<std::vector<std::string>> DeleteVideoCascade(storage::Session& session,
                                                    const std::string& team_id,
                                                    const std::string& video_id,
                                                    int64_t now_millis);

// The ids DeleteVideoCascade would delete, `video_id` first, read only.
// NotFound as GetVideo.
Result<std::vector<std::string>> VideoAndDescendants(storage::Session& session,
                                                     const std::string& team_id,
                                                     const std::string& video_id);

// --- Helpers shared with project_store -------------------------------------

// Serialises writers of one team's projects and videos for the rest of the
// current transaction (a no-op row update on the team: a row lock on
// PostgreSQL; SQLite transactions are serialised already). NotFound when the
// team does not exist.
Status LockTeam(storage::Session& session, const std::string& team_id);

// Keeps a video's original file and its row together for a reader that
// needs both (a download): a publication holds it exclusively from its
// file's rename until its row commits, a reader shared while it reads the
// row and opens the file, waiting at most 5 s (then Unavailable). On
// PostgreSQL a transaction-scoped advisory lock on the video id, so it holds
// across API nodes, and takes no transaction id or row lock. On SQLite it
// does nothing: the one API process, the only publisher of originals there,
// locks in memory (api/media_routes.cc).
Status LockOriginal(storage::Session& session, const std::string& video_id, bool shared);

// A creation time for a new row of `table` ("videos" or "projects") of the
// team: `now_millis`, or one past the team's newest row when the clock has not
// moved past it. Together with LockTeam this makes (team, created_at) unique
// and increasing in insertion order, which keeps listing anchors stable.
Result<int64_t> NextCreationTime(storage::Session& session, std::string_view table,
                                 const std::string& team_id, int64_t now_millis);

}  // namespace vidmill::videos
