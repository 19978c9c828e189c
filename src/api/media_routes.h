#pragma once
// The Media service under /media/v1 (docs/media.md):
//
//   POST     /media/v1/upload/{id}                 multipart upload, full ingestion
//   POST     /media/v1/upload/light/{id}           multipart upload, light ingestion
//   GET/HEAD /media/v1/download/original/{id}      the uploaded file
//   GET/HEAD /media/v1/download/processed/{id}     a processed video's file
//   GET/HEAD /media/v1/download/thumbnail/{id}?index=N   ingestion thumbnails (JPEG)
//   GET/HEAD /media/v1/download/web/{id}           ingestion web preview (MP4)
//
// Uploads stream: the request body is parsed as it arrives and the file part
// written to a blob writer (hashed on the way); the blob is published and the
// row updated — with the ingestion job enqueued — in one transaction only
// after the closing boundary. Anything less (disconnect, short body, malformed
// multipart, shutdown, over --max-upload-bytes) discards the temporary file and
// leaves the row untouched. Downloads stream from the blob with Range, HEAD,
// ETag (the SHA-256 for originals and processed files) and If-None-Match /
// If-Range (http/range.h).
//
// Every route authenticates with context.auth and acts for the principal's
// team: another team's ids answer 404 like missing ones. Needs context.db,
// context.clock, context.auth and context.blobs.

#include "api/api.h"
#include "http/router.h"

namespace vidmill::api {

void RegisterMediaRoutes(http::Router& router, ApiContext& context);

// Housekeeping of the media storage, run at start-up and every
// --media-sweep-seconds: removes the directories of videos that have no row
// (older than an hour, so a video created meanwhile by another node is
// spared) and temporary files older than a day. Logs what it removed; errors
// are returned for the caller to log (serving may go on).
Status SweepMediaOrphans(ApiContext& context);

}  // namespace vidmill::api
