#pragma once
// POST /videos/v1/process-video/{id}: validates the request against the
// source's metadata (videos/processing_request.h), creates the processed
// (child) video in the source's project with its processingParameters, and
// queues the "process" job, all in one transaction.

#include "api/api.h"

namespace vidmill::api {

void RegisterProcessingRoutes(http::Router& router, ApiContext& context);

}  // namespace vidmill::api
