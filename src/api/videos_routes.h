#pragma once
// The Videos service under /videos/v1 (docs/videos.md): projects, video
// items, listings, progress and deletion. The processing request
// (POST /videos/v1/process-video/{id}) is registered by its own file.
//
// Every route authenticates with context.auth and acts for the principal's
// team only: another team's ids answer 404 exactly like missing ones.

#include "api/api.h"
#include "http/router.h"

namespace vidmill::api {

void RegisterVideosRoutes(http::Router& router, ApiContext& context);

}  // namespace vidmill::api
