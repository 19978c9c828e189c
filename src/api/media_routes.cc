#include "api/media_routes.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <utility>

#include "api/auth.h"
#include "api/path_id.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "http/content_disposition.h"
#include "http/multipart.h"
#include "http/range.h"
#include "jobs/ingestion_state.h"
#include "storage/blob_store.h"
#include "storage/migrations.h"
#include "videos/media_state.h"
#include "videos/video_store.h"

namespace vidmill::api {
namespace {

using http::Request;
using http::Response;

// Bytes of the file kept to recognise its container (videos::GuessContainer).
constexpr size_t kSniffBytes = 64;

Result<videos::Video> ReadVideo(storage::Database& db, const std::string& team_id,
                                const std::string& video_id) {
  std::optional<videos::Video> out;
  RETURN_IF_ERROR(db.Run([&](storage::Session& session) -> Status {
    ASSIGN_OR_RETURN(videos::Video video, videos::GetVideo(session, team_id, video_id));
    out = std::move(video);
    return Status::Ok();
  }));
  return std::move(*out);
}

// A blob reader seen as the HTTP layer's OpenFile.
class BlobFile final : public http::OpenFile {
 public:
  explicit BlobFile(std::unique_ptr<storage::BlobReader> reader) : reader_(std::move(reader)) {}
  Result<size_t> ReadAt(uint64_t offset, char* out, size_t size) override {
    return reader_->ReadAt(offset, out, size);
  }

 private:
  std::unique_ptr<storage::BlobReader> reader_;
};

// --- The original's publication lock ------------------------------------------

// The in-memory half of videos::LockOriginal, for SQLite, whose one API
// process is the only publisher of originals: a SQLite transaction would
// take the database's one write lock, and every download of an original
// would wait for every writer (audit 37 F1, F2). Striped by video id.
std::shared_timed_mutex& LocalOriginalLock(const std::string& video_id) {
  static std::array<std::shared_timed_mutex, 64> stripes;
  return stripes[std::hash<std::string>{}(video_id) % stripes.size()];
}

// How long a download waits for a publication of the same original.
constexpr auto kOriginalLockWait = std::chrono::seconds(5);

Status BeingReplaced(const std::string& video_id) {
  return Status::Unavailable("the media of video '" + video_id +
                             "' is being replaced; retry shortly")
      .WithRetryAfter(1);
}

// --- Upload ------------------------------------------------------------------

// Uploads one user may have streaming at once. Each costs a blob writer (two
// threads, up to 7 MiB of buffers) for as long as its client keeps sending, so
// without a cap one account could open thousands and exhaust the server's
// threads and memory. Many accounts together are capped by
// --max-concurrent-uploads (ApiConfig::max_concurrent_uploads).
constexpr int kMaxUploadsPerUser = 4;

// A user's claim on one of its upload slots and on one of the server's, held
// by the UploadSink for its whole life.
class UploadSlot {
 public:
  static Result<std::unique_ptr<UploadSlot>> Take(const std::string& user_id, int server_limit) {
    std::lock_guard lock(mu_);
    if (total_ >= server_limit) {
      // An overload limit: a slot comes back as soon as any upload ends.
      return Status::Unavailable("the server has " + std::to_string(server_limit) +
                                 " uploads in progress; retry shortly")
          .WithRetryAfter(1);
    }
    int& in_use = in_use_[user_id];
    if (in_use >= kMaxUploadsPerUser) {
      if (in_use == 0) in_use_.erase(user_id);
      return Status::TooManyRequests("this account already has " +
                                     std::to_string(kMaxUploadsPerUser) +
                                     " uploads in progress; retry when one has finished")
          .WithRetryAfter(5);
    }
    ++in_use;
    ++total_;
    return std::unique_ptr<UploadSlot>(new UploadSlot(user_id));
  }
  ~UploadSlot() {
    std::lock_guard lock(mu_);
    --total_;
    auto it = in_use_.find(user_id_);
    if (it != in_use_.end() && --it->second <= 0) in_use_.erase(it);
  }
  UploadSlot(const UploadSlot&) = delete;
  UploadSlot& operator=(const UploadSlot&) = delete;

 private:
  explicit UploadSlot(std::string user_id) : user_id_(std::move(user_id)) {}
  static inline std::mutex mu_;
  static inline std::map<std::string, int> in_use_;
  static inline int total_ = 0;
  std::string user_id_;
};

// Receives one upload's body: multipart parsing, the first file part into a
// blob writer, everything else discarded. Write/Abort run on the server's I/O
// thread, Finish on a handler thread; never two at once.
class UploadSink final : public http::BodySink, private http::MultipartReceiver {
 public:
  UploadSink(ApiContext& context, Principal principal, videos::Video video, std::string boundary,
             jobs::IngestionKind kind, std::unique_ptr<UploadSlot> slot)
      : slot_(std::move(slot)),
        context_(context),
        principal_(std::move(principal)),
        video_(std::move(video)),
        kind_(kind),
        parser_(std::move(boundary), this) {
    // A signed upload: its Content-Digest covers the raw body, which only
    // exists as it streams through here.
    if (principal_.pending_body_sha256) body_digest_.emplace();
  }

  Status Write(std::string_view chunk) override {
    received_ += chunk.size();
    if (body_digest_) body_digest_->Update(chunk);
    if (received_ > static_cast<uint64_t>(context_.config.max_upload_bytes)) {
      writer_.reset();
      return TooLarge();
    }
    return parser_.Feed(chunk);
  }

  void Abort() override {
    if (writer_) {
      LogInfo("upload to video " + video_.id + " aborted after " + std::to_string(received_) +
              " bytes; nothing published");
    }
    writer_.reset();
  }

  Result<Response> Finish(Request& request) override {
    if (body_digest_ && body_digest_->HexDigest() != HexEncode(*principal_.pending_body_sha256)) {
      writer_.reset();  // nothing is published
      return Status::Unauthenticated("Content-Digest does not match the uploaded body")
          .WithException("InvalidRequestSignatureException");
    }
    RETURN_IF_ERROR(parser_.Finish());
    if (!file_seen_) {
      return Status::InvalidArgument(
          "the upload has no file part (a multipart/form-data part named \"file\" or with a "
          "filename)");
    }
    if (!writer_ || writer_->size() == 0) {
      return Status::InvalidArgument("the uploaded file is empty");
    }
    // The slow part (fsync of the whole file) before taking the database lock.
    const auto sync_started = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(writer_->Sync());
    const auto sync_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - sync_started)
                             .count();

    videos::ContainerGuess guess = videos::GuessContainer(head_, file_name_, part_type_);
    videos::MediaFile file;
    file.file_name = file_name_.empty() ? video_.name : file_name_;
    file.size = static_cast<int64_t>(writer_->size());
    file.file_type = guess.mime_type;
    file.container = guess.container;
    file.sha256_hex = writer_->Sha256Hex();

    // The transaction may run more than once (contention retries); the blob
    // is published by the first run that gets that far.
    std::optional<storage::BlobInfo> published;
    // Readers of the original wait from the rename until the row commits.
    std::unique_lock<std::shared_timed_mutex> publishing(LocalOriginalLock(video_.id),
                                                         std::defer_lock);
    const bool lock_in_memory = context_.db->dialect() == storage::Dialect::kSqlite;
    Status status = context_.db->Transaction([&](storage::Session& session) -> Status {
      // Serialises with other writers of the team's videos (deletion,
      // processing requests, a concurrent upload), so the order in which
      // uploads publish their blob is the order in which their rows commit.
      RETURN_IF_ERROR(videos::LockTeam(session, principal_.team_id));
      ASSIGN_OR_RETURN(videos::Video current,
                       videos::CheckUploadAllowed(session, principal_.team_id, video_.id));
      video_ = std::move(current);
      RETURN_IF_ERROR(videos::LockOriginal(session, video_.id, /*shared=*/false));
      if (lock_in_memory && !publishing.owns_lock()) publishing.lock();
      if (!published) {
        ASSIGN_OR_RETURN(storage::BlobInfo info, writer_->Commit());
        published = info;
      } else {
        // A run after the first (the transaction retried): between the two
        // the locks were let go, and the media sweep may have taken the file
        // for a crashed upload's and put the previous one back. Recorded
        // anyway, the row had named a file that was not there (audit 42 F1).
        RETURN_IF_ERROR(writer_->StillPublished());
      }
      file.modified_at_ms = published->modified_at_ms;
      file.sha256_hex = published->sha256_hex;
      const int64_t now = context_.clock->NowMillis();
      RETURN_IF_ERROR(videos::RecordUpload(session, video_.id, file, principal_.user_id, now));
      return jobs::EnqueueIngestion(session, video_.id, kind_, *context_.clock).status();
    });
    if (!status.ok()) {
      if (status.code() == Code::kNotFound) {
        // The video (or its team) was deleted while its file arrived: its
        // media goes with it, published or not. Kept, the part would make its
        // directory again after the deletion removed it (left, empty, for the
        // hourly sweep), and putting a replaced file back would restore a
        // deleted video's original into the directory being emptied.
        writer_->Discard();
        Status removed = context_.blobs->Delete(video_.id);
        LogInfo("upload to video " + video_.id + " not recorded (" + status.ToString() +
                "); its media removed" + (removed.ok() ? "" : ": " + removed.ToString()));
      } else if (published) {
        RevertPublication(status);
      }
      writer_.reset();
      return status;
    }
    writer_.reset();
    LogInfo("upload to video " + video_.id + ": " + std::to_string(file.size) + " bytes, " +
            file.container + ", sha256 " + file.sha256_hex + ", fsync " + std::to_string(sync_ms) +
            " ms");
    const std::string& base = request.base_url;
    return Response::Json(boost::json::object{
        {"projectId", video_.project_id},
        {"videoId", video_.id},
        {"checkIngestProgressUrl", base + "/videos/v1/check-ingest-video-progress/" + video_.id},
        {"processVideoUrl", base + "/videos/v1/process-video/" + video_.id},
    });
  }

 private:
  // The new file is in place but its transaction failed (at COMMIT, say, on a
  // full disk), so the row still describes the previous upload: put that one
  // back, under the team's lock so that no other upload publishes meanwhile.
  // The lock is what matters, not whether this transaction commits. When even
  // the lock cannot be had, downloads notice the size mismatch and answer 503
  // until the next successful upload.
  void RevertPublication(const Status& failure) {
    std::optional<Status> reverted;
    Status locked = context_.db->Transaction([&](storage::Session& session) -> Status {
      RETURN_IF_ERROR(videos::LockTeam(session, principal_.team_id));
      RETURN_IF_ERROR(videos::LockOriginal(session, video_.id, /*shared=*/false));
      if (!reverted) reverted = writer_->Revert();
      return Status::Ok();
    });
    if (reverted && reverted->ok()) {
      LogWarning("upload to video " + video_.id +
                 " not recorded, its publication reverted: " + failure.ToString());
      return;
    }
    LogError("upload to video " + video_.id + " published but not recorded: " + failure.ToString() +
             "; cannot put the previous file back: " +
             (reverted ? reverted->ToString() : locked.ToString()));
  }

  Status TooLarge() const {
    return Status::PayloadTooLarge("upload larger than the limit of " +
                                   std::to_string(context_.config.max_upload_bytes) + " bytes");
  }

  Status OnPartBegin(const http::MultipartPart& part) override {
    in_file_ = false;
    if (file_seen_) return Status::Ok();  // only the first file part is kept
    if (!part.filename && part.name != "file") return Status::Ok();
    file_seen_ = true;
    in_file_ = true;
    file_name_ = part.filename.value_or("");
    part_type_ = part.content_type;
    ASSIGN_OR_RETURN(writer_, context_.blobs->Create(video_.id, storage::kOriginalBlob));
    return Status::Ok();
  }

  Status OnPartData(std::string_view data) override {
    if (!in_file_) return Status::Ok();
    if (head_.size() < kSniffBytes) {
      head_.append(data.substr(0, kSniffBytes - head_.size()));
    }
    return writer_->Append(data);
  }

  Status OnPartEnd() override {
    in_file_ = false;
    return Status::Ok();
  }

  std::unique_ptr<UploadSlot> slot_;  // declared first: released after the writer is gone
  ApiContext& context_;
  const Principal principal_;
  std::optional<storage::Sha256> body_digest_;  // signed uploads only
  videos::Video video_;
  const jobs::IngestionKind kind_;
  http::MultipartParser parser_;
  std::unique_ptr<storage::BlobWriter> writer_;
  uint64_t received_ = 0;
  bool file_seen_ = false;
  bool in_file_ = false;
  std::string file_name_;
  std::string part_type_;
  std::string head_;
};

// The StreamHandler: everything that can be refused before the first body
// byte is refused here (401, 404, 409, 415/400, 413).
Result<std::unique_ptr<http::BodySink>> OpenUpload(ApiContext& context, Request& request,
                                                   jobs::IngestionKind kind) {
  ASSIGN_OR_RETURN(Principal principal, Authenticate(context, request));
  ASSIGN_OR_RETURN(std::string id, PathId(request, "video"));
  std::optional<videos::Video> video;
  RETURN_IF_ERROR(context.db->Run([&](storage::Session& session) -> Status {
    ASSIGN_OR_RETURN(videos::Video found,
                     videos::CheckUploadAllowed(session, principal.team_id, id));
    video = std::move(found);
    return Status::Ok();
  }));
  ASSIGN_OR_RETURN(std::string boundary,
                   http::FormDataBoundary(request.headers.Get("Content-Type")));
  if (std::optional<std::string> length = request.headers.Get("Content-Length")) {
    uint64_t declared = 0;
    auto [end, error] = std::from_chars(length->data(), length->data() + length->size(), declared);
    if (error == std::errc::result_out_of_range ||
        (error == std::errc() &&
         declared > static_cast<uint64_t>(context.config.max_upload_bytes))) {
      return Status::PayloadTooLarge("upload of " + *length +
                                     " bytes is larger than the limit of " +
                                     std::to_string(context.config.max_upload_bytes) + " bytes");
    }
  }
  if (context.blobs == nullptr) return Status::Internal("no media storage configured");
  ASSIGN_OR_RETURN(std::unique_ptr<UploadSlot> slot, UploadSlot::Take(principal.user_id, context.config.max_concurrent_uploads));
  return std::unique_ptr<http::BodySink>(new UploadSink(context, std::move(principal),
                                                        std::move(*video), std::move(boundary),
                                                        kind, std::move(slot)));
}

// --- Download ----------------------------------------------------------------

Result<std::unique_ptr<storage::BlobReader>> OpenBlob(ApiContext& context,
                                                      const std::string& video_id,
                                                      std::string_view name,
                                                      std::string_view what) {
  if (context.blobs == nullptr) return Status::Internal("no media storage configured");
  Result<std::unique_ptr<storage::BlobReader>> reader = context.blobs->Open(video_id, name);
  if (!reader.ok() && reader.status().code() == Code::kNotFound) {
    return Status::NotFound("the " + std::string(what) + " of video '" + video_id +
                            "' is missing from the media storage");
  }
  return reader;
}

std::string QuotedTag(std::string_view tag) { return "\"" + std::string(tag) + "\""; }

void AddCommonHeaders(Response& response) {
  response.headers.Set("Cache-Control", "private, no-cache");
  response.headers.Set("X-Content-Type-Options", "nosniff");
}

// The original or processed file of `video`, opened as `reader`, as recorded
// in its file_* columns.
Result<Response> ServeRecordedFile(const Request& request, const videos::Video& video,
                                   std::unique_ptr<storage::BlobReader> reader,
                                   const std::string& download_name) {
  if (!video.file_size || static_cast<uint64_t>(*video.file_size) != reader->size() ||
      !video.file_sha256) {
    return BeingReplaced(video.id);
  }
  http::FileRepresentation rep;
  rep.size = reader->size();
  rep.content_type = video.file_type.value_or("application/octet-stream");
  rep.etag = QuotedTag(*video.file_sha256);
  rep.last_modified =
      FormatHttpDate(video.file_modified_at.value_or(reader->modified_at_ms()) / 1000);
  rep.content_disposition = http::AttachmentDisposition(download_name);
  rep.file = std::make_shared<BlobFile>(std::move(reader));
  Response response = http::FileResponse(request, rep);
  AddCommonHeaders(response);
  return response;
}

// An ingestion artifact (thumbnail, web preview): validators from the file.
Result<Response> ServeArtifact(ApiContext& context, const Request& request,
                               const std::string& video_id, std::string_view blob_name,
                               std::string_view what, std::string content_type) {
  ASSIGN_OR_RETURN(std::unique_ptr<storage::BlobReader> reader,
                   OpenBlob(context, video_id, blob_name, what));
  http::FileRepresentation rep;
  rep.size = reader->size();
  rep.content_type = std::move(content_type);
  rep.etag = QuotedTag(reader->VersionTag());
  rep.last_modified = FormatHttpDate(reader->modified_at_ms() / 1000);
  rep.file = std::make_shared<BlobFile>(std::move(reader));
  Response response = http::FileResponse(request, rep);
  AddCommonHeaders(response);
  return response;
}

class MediaRoutes {
 public:
  explicit MediaRoutes(ApiContext& context) : context_(context) {}

  Result<Response> DownloadOriginal(Request& request) {
    ASSIGN_OR_RETURN(Principal principal, Authenticate(context_, request));
    ASSIGN_OR_RETURN(std::string id, PathId(request, "video"));
    // A re-upload puts its file in place a moment before its row commits,
    // holding the original's lock meanwhile. The row is read and the file
    // opened under that lock too (shared), so they belong to the same upload:
    // read apart, a replacement of the same size had been served under the
    // previous upload's ETag and name (and an If-Range resume spliced the two
    // files; audit 36 F1). The open file is read after the lock is let go.
    std::optional<videos::Video> video;
    std::unique_ptr<storage::BlobReader> reader;
    auto read = [&](storage::Session& session) -> Status {
      RETURN_IF_ERROR(videos::LockOriginal(session, id, /*shared=*/true));
      ASSIGN_OR_RETURN(video, videos::GetVideo(session, principal.team_id, id));
      if (video->is_processed()) {
        return Status::NotFound("video '" + id +
                                "' is a processed video; download its media from "
                                "/media/v1/download/processed/" +
                                id);
      }
      if (!video->has_finished_uploading()) {
        return Status::NotFound("video '" + id + "' has no media: nothing has been uploaded yet");
      }
      ASSIGN_OR_RETURN(reader, OpenBlob(context_, id, storage::kOriginalBlob, "media"));
      return Status::Ok();
    };
    if (context_.db->dialect() == storage::Dialect::kPostgres) {
      RETURN_IF_ERROR(context_.db->Transaction(read));  // for the advisory lock
    } else {
      std::shared_lock<std::shared_timed_mutex> held(LocalOriginalLock(id), kOriginalLockWait);
      if (!held.owns_lock()) return BeingReplaced(id);
      RETURN_IF_ERROR(context_.db->Run(read));
    }
    return ServeRecordedFile(request, *video, std::move(reader),
                             video->file_name.value_or(video->name));
  }

  Result<Response> DownloadProcessed(Request& request) {
    ASSIGN_OR_RETURN(Principal principal, Authenticate(context_, request));
    ASSIGN_OR_RETURN(std::string id, PathId(request, "video"));
    ASSIGN_OR_RETURN(videos::Video video, ReadVideo(*context_.db, principal.team_id, id));
    if (!video.is_processed()) {
      return Status::NotFound("video '" + id +
                              "' is an original, not a processed video; use the "
                              "processedVideoId of its process-video request");
    }
    if (video.processing_status == videos::kStatusFailed) {
      return Status::Conflict("processing of video '" + id +
                              "' failed: " + video.processing_error.value_or("no details"));
    }
    if (video.processing_status != videos::kStatusDone) {
      char percent[16];
      std::snprintf(percent, sizeof(percent), "%.1f", video.processing_progress);
      return Status::Conflict("video '" + id + "' has not finished processing (" +
                              video.processing_status + ", " + percent + "%)");
    }
    if (!video.has_finished_uploading()) {
      return Status::NotFound("video '" + id + "' has no processed media");
    }
    std::string name = video.file_name.value_or("");
    if (name.empty()) {
      // Derived from the original's name, with the processed container's extension.
      Result<videos::Video> parent = ReadVideo(*context_.db, principal.team_id, *video.parent_id);
      std::string original = parent.ok() ? parent->file_name.value_or(parent->name) : video.name;
      name = videos::ProcessedFileName(original,
                                       videos::ExtensionForMimeType(video.file_type.value_or("")));
    }
    ASSIGN_OR_RETURN(std::unique_ptr<storage::BlobReader> reader,
                     OpenBlob(context_, id, storage::kProcessedBlob, "media"));
    return ServeRecordedFile(request, video, std::move(reader), name);
  }

  // Why `video` has no thumbnails or web preview: only a full ingestion of an
  // upload draws them, so a processed video or a light one never gets them.
  static std::string WhyNoPreviews(const videos::Video& video) {
    if (video.is_processed()) {
      return ": a processed video gets none (its source's are at its parentId)";
    }
    if (video.ingestion_kind == "light") return ": light ingestion draws none";
    if (video.ingestion_status == videos::kStatusFailed) {
      return ": its ingestion failed" +
             (video.ingestion_error ? " (" + *video.ingestion_error + ")" : std::string());
    }
    return " (yet): they come with its full ingestion";
  }

  Result<Response> DownloadThumbnail(Request& request) {
    ASSIGN_OR_RETURN(Principal principal, Authenticate(context_, request));
    ASSIGN_OR_RETURN(std::string id, PathId(request, "video"));
    int64_t index = 0;
    if (std::optional<std::string> text = request.Query("index")) {
      auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), index);
      if (error != std::errc() || end != text->data() + text->size() || index < 0) {
        return Status::InvalidArgument("'index' must be a thumbnail number (0, 1, …)");
      }
    }
    ASSIGN_OR_RETURN(videos::Video video, ReadVideo(*context_.db, principal.team_id, id));
    if (index >= video.thumbnail_count) {
      return Status::NotFound(
          video.thumbnail_count == 0
              ? "video '" + id + "' has no thumbnails" + WhyNoPreviews(video)
              : "video '" + id + "' has " + std::to_string(video.thumbnail_count) +
                    " thumbnails; index " + std::to_string(index) + " does not exist");
    }
    return ServeArtifact(context_, request, id, storage::ThumbnailBlobName(static_cast<int>(index)),
                         "thumbnail", "image/jpeg");
  }

  Result<Response> DownloadWeb(Request& request) {
    ASSIGN_OR_RETURN(Principal principal, Authenticate(context_, request));
    ASSIGN_OR_RETURN(std::string id, PathId(request, "video"));
    ASSIGN_OR_RETURN(videos::Video video, ReadVideo(*context_.db, principal.team_id, id));
    if (!video.web_video_available) {
      return Status::NotFound("video '" + id + "' has no web preview" + WhyNoPreviews(video));
    }
    return ServeArtifact(context_, request, id, storage::kWebPreviewBlob, "web preview",
                         "video/mp4");
  }

 private:
  ApiContext& context_;
};

// An upload whose API process stopped between putting its file in place and
// recording it (a crash, a kill -9) left the new file under the previous
// upload's row, and the previous file kept aside by its writer for a revert:
// downloads would serve the new bytes under the recorded name and ETag (or a
// 503 where the sizes differ), and the sweep would remove the recorded file
// with the stale temporary files after a day. Each original's kept version
// is settled under the upload's own locks, so no upload publishes meanwhile
// and no download reads between: the recorded file is put back, or, where
// the row was recorded after all (the process stopped before its clean-up),
// the kept copy goes.
void SettleInterruptedUploads(ApiContext& context) {
  Result<std::vector<storage::KeptVersion>> kept =
      context.blobs->KeptVersions(storage::kOriginalBlob);
  if (!kept.ok()) {
    LogWarning("media sweep: cannot look for interrupted uploads: " + kept.status().ToString());
    return;
  }
  const bool lock_in_memory = context.db->dialect() == storage::Dialect::kSqlite;
  for (const storage::KeptVersion& version : *kept) {
    std::optional<storage::KeptVersionOutcome> outcome;
    std::optional<videos::Video> video;
    std::unique_lock<std::shared_timed_mutex> publishing(LocalOriginalLock(version.video_id),
                                                         std::defer_lock);
    Status status = context.db->Transaction([&](storage::Session& session) -> Status {
      ASSIGN_OR_RETURN(video, videos::GetVideoAnyTeam(session, version.video_id));
      RETURN_IF_ERROR(videos::LockTeam(session, video->team_id));
      RETURN_IF_ERROR(videos::LockOriginal(session, version.video_id, /*shared=*/false));
      if (lock_in_memory && !publishing.owns_lock()) publishing.lock();
      ASSIGN_OR_RETURN(video, videos::GetVideoAnyTeam(session, version.video_id));  // locked
      if (!video->file_size || !video->file_sha256) return Status::Ok();  // nothing recorded
      storage::BlobInfo recorded;
      recorded.size = static_cast<uint64_t>(*video->file_size);
      recorded.sha256_hex = *video->file_sha256;
      recorded.modified_at_ms = video->file_modified_at.value_or(0);
      ASSIGN_OR_RETURN(outcome, context.blobs->SettleKeptVersion(version, recorded));
      return Status::Ok();
    });
    const std::string about = "video " + version.video_id + ": ";
    if (!status.ok()) {
      // A video deleted meanwhile takes its directory with it.
      if (status.code() != Code::kNotFound) {
        LogWarning("media sweep: " + about + "cannot settle the interrupted upload's " +
                   version.file_name + ": " + status.ToString());
      }
      continue;
    }
    if (outcome == storage::KeptVersionOutcome::kRestored) {
      LogWarning("media sweep: " + about +
                 "an upload's file had been put in place but not recorded (its API process "
                 "stopped between the two, or its transaction was being retried); the recorded "
                 "file is back");
    } else if (outcome == storage::KeptVersionOutcome::kRecorded) {
      LogInfo("media sweep: " + about + "removed " + version.file_name +
              ", the previous file an upload kept aside (its API process stopped after "
              "recording it)");
    } else if (outcome != storage::KeptVersionOutcome::kGone) {
      LogWarning("media sweep: " + about + "neither its original nor " + version.file_name +
                 " (the previous file an interrupted upload kept aside) is the file its row "
                 "records; both are left as they are");
    }
  }
}

}  // namespace

Status SweepMediaOrphans(ApiContext& context) {
  if (context.blobs == nullptr) return Status::Internal("no media storage configured");
  std::set<std::string> known;
  RETURN_IF_ERROR(context.db->Run([&](storage::Session& session) -> Status {
    ASSIGN_OR_RETURN(storage::Rows rows, session.Query("SELECT id FROM videos", {}));
    for (const storage::Row& row : rows) known.insert(row.Text(0));
    return Status::Ok();
  }));
  // Only this installation's media is swept: the marker names the database
  // that owns the directory. A node on a fresh or mistyped database would
  // otherwise remove every video's media (and, after one upload of its own, a
  // store of up to 17 directories would get past the orphan-count guard below).
  ASSIGN_OR_RETURN(std::string installation, storage::InstallationId(*context.db));
  ASSIGN_OR_RETURN(std::string owner, context.blobs->MarkerOwner());
  if (owner.empty()) {
    // A store made before the marker named its owner is taken only when it
    // is plainly this database's: every video directory in it has a row here
    // (or there are none yet). Otherwise nothing is swept until an operator
    // says whose it is.
    ASSIGN_OR_RETURN(std::vector<std::string> ids, context.blobs->VideoIds());
    const size_t unknown = static_cast<size_t>(std::count_if(
        ids.begin(), ids.end(), [&](const std::string& id) { return known.count(id) == 0; }));
    if (unknown > 0) {
      LogWarning("media sweep: nothing removed: the media directory names no installation, and " +
                 std::to_string(unknown) + " of its " + std::to_string(ids.size()) +
                 " video directories have no row in this database (a fresh or wrong "
                 "--database?). Once --database and --media-dir are right, delete the "
                 "directories no video row names by hand and add the line \"installation " +
                 installation + "\" to its .vidmill-media file");
      return Status::Ok();
    }
    RETURN_IF_ERROR(context.blobs->SetMarkerOwner(installation));
    LogInfo("media directory claimed by installation " + installation);
    owner = installation;
  }
  if (owner != installation) {
    LogWarning("media sweep: nothing removed: the media directory belongs to installation " +
               owner + ", and this database is installation " + installation +
               " (check --database and --media-dir)");
    return Status::Ok();
  }
  SettleInterruptedUploads(context);
  ASSIGN_OR_RETURN(storage::SweepStats stats,
                   context.blobs->SweepOrphans(known, context.clock->Now()));
  if (stats.orphan_directories_kept > 0) {
    LogWarning("media sweep: kept " + std::to_string(stats.orphan_directories_kept) + " of " +
               std::to_string(stats.video_directories) +
               " video directories that no row of this database names: too many to be a "
               "crash's leftovers (a database restored from an older backup?), so nothing was "
               "removed. Directories no video row names can be deleted by hand");
  }
  if (stats.orphan_directories_removed > 0 || stats.temp_files_removed > 0) {
    LogInfo("media sweep: removed " + std::to_string(stats.orphan_directories_removed) +
            " orphan video directories and " + std::to_string(stats.temp_files_removed) +
            " stale temporary files");
  }
  return Status::Ok();
}

void RegisterMediaRoutes(http::Router& router, ApiContext& context) {
  router.AddStream("POST", "/media/v1/upload/{id}", [&context](Request& request) {
    return OpenUpload(context, request, jobs::IngestionKind::kFull);
  });
  router.AddStream("POST", "/media/v1/upload/light/{id}", [&context](Request& request) {
    return OpenUpload(context, request, jobs::IngestionKind::kLight);
  });
  auto routes = std::make_shared<MediaRoutes>(context);
  auto bind = [routes](Result<Response> (MediaRoutes::*method)(Request&)) {
    return [routes, method](Request& request) { return ((*routes).*method)(request); };
  };
  router.Add("GET", "/media/v1/download/original/{id}", bind(&MediaRoutes::DownloadOriginal));
  router.Add("GET", "/media/v1/download/processed/{id}", bind(&MediaRoutes::DownloadProcessed));
  router.Add("GET", "/media/v1/download/thumbnail/{id}", bind(&MediaRoutes::DownloadThumbnail));
  router.Add("GET", "/media/v1/download/web/{id}", bind(&MediaRoutes::DownloadWeb));
}

}  // namespace vidmill::api
