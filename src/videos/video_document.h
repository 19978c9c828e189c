#pragma once
// The API's JSON shapes of a video (the reference's "Retrieve video item
// details" document and its state objects), built from the read model.
//
// Every block and key is always present so clients can rely on the shape:
// values not known yet are null (file fields, eta), {} (metadata,
// qualityAssessment, processingParameters) or the INITIAL state. A FAILED
// state object carries "errorMessage". Dates are "YYYY-MM-DD hh:mm:ss" UTC.
//
// A JSON column that does not hold a JSON object (a bug in its writer) is
// reported as {} and logged, so one bad column never hides the whole video.
//
// Pure functions; thread-safe.

#include <boost/json.hpp>

#include "videos/video_store.h"

namespace vidmill::videos {

// {"updatedAt", "uploadStatus"[, "errorMessage"]}
boost::json::object UploadStateJson(const Video& video);

// {"updatedAt", "ingestionStatus", "videoMetadataAvailable",
//  "videoMetadataCommitted", "thumbnailsAvailable", "webVideoAvailable",
//  "processingProgressPercent", "etaSeconds"[, "errorMessage"]}
boost::json::object IngestionStateJson(const Video& video);

// {"updatedAt", "processingStatus", "processingProgressPercent",
//  "etaSeconds"[, "errorMessage"]}
boost::json::object ProcessingStateJson(const Video& video);

// The full document: {"id", "name", "description", "projectId", "userId",
// "teamId", "parentId", "upload", "ingestion", "processing", "attributes",
// "dateCreated", "timeLastUpdated"} (the value of the response's "video").
boost::json::object VideoDocument(const Video& video);

// Parses a JSON column: the object it holds, or {} (logged) when it is NULL
// or not a JSON object.
boost::json::object ParseJsonColumn(const std::optional<std::string>& text, std::string_view column,
                                    const std::string& video_id);

}  // namespace vidmill::videos
