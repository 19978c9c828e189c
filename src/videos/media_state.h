#pragma once
// The media columns of the videos table (upload_*, file_*): their only
// writers, and the small pure rules of the media service (which video may take
// an upload, what a stored file is called, what kind of file it is).
//
// Life of an upload: the media route streams the body into a blob writer; when
// the body is complete it opens a transaction, calls CheckUploadAllowed again
// (the video may have been deleted or started processing meanwhile), publishes
// the blob, calls RecordUpload, and enqueues the ingestion — all or nothing.
// Nothing is written to the row before the upload is complete, so an aborted
// upload leaves the row exactly as it was.
//
// Life of a processed file: the processing job publishes the blob
// storage::kProcessedBlob under the processed (child) video's id and calls
// RecordProcessedMedia in its completing transaction.
//
// Thread safety: free functions on a caller-supplied Session.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/blob_store.h"
#include "storage/database.h"
#include "videos/video_store.h"

namespace vidmill::videos {

// A published media file as the row records it.
struct MediaFile {
  std::string file_name;  // shown to users; see SanitizeFileName
  int64_t size = 0;
  std::string file_type;   // MIME type, e.g. "video/mp4"
  std::string container;   // e.g. "QuickTime / MOV"
  std::string sha256_hex;  // content hash: the download's strong ETag
  int64_t modified_at_ms = 0;
};

// Whether `video` may take an upload. Conflict (409) for a processed (child)
// video, for an original whose processing was requested (its own
// processing_status is not INITIAL, or it has processed children), with a
// message that says which.
Status UploadAllowed(storage::Session& session, const Video& video);

// GetVideo + UploadAllowed: NotFound for a missing / other team's video.
Result<Video> CheckUploadAllowed(storage::Session& session, const std::string& team_id,
                                 const std::string& video_id);

// Records a complete upload of the original by user `uploader_id`:
// upload_status DONE, upload_error cleared, the file_* columns set,
// upload_updated_at = now, and the video's user the uploader (the
// reference's userId is the "user id that uploaded or processed this video";
// a team member may upload to an item another one made). NotFound when the
// row is gone.
Status RecordUpload(storage::Session& session, const std::string& video_id, const MediaFile& file,
                    const std::string& uploader_id, int64_t now_millis);

// Records the processed media of a processed (child) video, the same columns
// as RecordUpload (so the child reads hasFinishedUploading with its own file
// name, size, type and hash). NotFound when the row is gone.
Status RecordProcessedMedia(storage::Session& session, const std::string& video_id,
                            const MediaFile& file, int64_t now_millis);

// A client-supplied filename made storable: invalid UTF-8 sequences and NUL
// bytes become U+FFFD (the PostgreSQL TEXT and JSON-safe form); everything else
// — "../", other control characters, quotes — is kept as given (it is never
// used as a path, and downloads neutralise it). Capped at 1024 bytes.
std::string SanitizeFileName(std::string_view file_name);

// What kind of file an upload is.
struct ContainerGuess {
  std::string mime_type;  // "video/mp4"
  std::string container;  // libavformat's long name, e.g. "QuickTime / MOV"
  std::string extension;  // without the dot: "mov"
};

// Recognises the container from the first bytes of the file (up to 64 are
// looked at: ISO BMFF/QuickTime ftyp, Matroska/WebM, AVI, MPEG-TS, MPEG-PS,
// FLV, MXF, ASF, Ogg), else from the filename's extension, else trusts the
// part's Content-Type when it is a well-formed video/* or audio/* type. The
// API process never decodes media: ingestion reports the real container.
// Unknown files are application/octet-stream, container "unknown".
ContainerGuess GuessContainer(std::string_view head, std::string_view file_name,
                              std::string_view declared_type);

// The file extension (without the dot) usual for a MIME type; "" if unknown.
std::string ExtensionForMimeType(std::string_view mime_type);

// The download name of a processed file: the original's name without its
// extension, "_processed", and the processed container's extension:
// ("tape 03.mov", "mp4") → "tape 03_processed.mp4". An empty extension keeps
// the original's.
std::string ProcessedFileName(std::string_view original_file_name, std::string_view extension);

// For a job whose completion was refused (kCancelled) after it had published
// files for `video_id`: when the video's row is gone (deleted while the job
// published: the DELETE removed the directory, then the job made it again),
// its media directory is removed. Nothing is done while the row exists.
// (Without this, a processed file of 58 MB would stay behind in 4 of 10 such
// deletes, until a restart's sweep.)
Status RemoveMediaOfDeletedVideo(storage::Database& db, storage::BlobStore& blobs,
                                 const std::string& video_id);

}  // namespace vidmill::videos
