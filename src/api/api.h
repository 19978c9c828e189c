#pragma once
// The composition the route code needs, built once by the app (the only
// place that knows every concrete type) and handed to each Register*Routes.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "api/auth.h"
#include "common/clock.h"
#include "http/router.h"
#include "storage/blob_store.h"
#include "storage/database.h"

namespace vidmill::accounts {
class AccountService;
}  // namespace vidmill::accounts

namespace vidmill::api {

// Settings from `vidmill serve` flags that the routes honour.
struct ApiConfig {
  int64_t max_upload_bytes = int64_t{50} << 30;
  int max_concurrent_uploads = 64;  // uploads streaming at once, all accounts
  std::string media_dir;  // --media-dir (defaults to <data-dir>/media)
};

struct ApiContext {
  storage::Database* db = nullptr;
  const Clock* clock = nullptr;
  Authenticator* auth = nullptr;
  accounts::AccountService* accounts = nullptr;
  storage::BlobStore* blobs = nullptr;  // media files (storage/blob_store.h)
  // Whether one of Vidmill's own filters (deint, denoise, dejit, pabsr1,
  // dvres, filmgrain) is built into this server; unset means none is.
  std::function<bool(const std::string&)> own_filter_available;
  ApiConfig config;
};

// The request's caller, as every authenticated route asks for it first
// (Internal when the app configured no authenticator: a bug).
inline Result<Principal> Authenticate(const ApiContext& context, const http::Request& request) {
  if (context.auth == nullptr) return Status::Internal("no authenticator configured");
  return context.auth->Authenticate(request);
}

void RegisterHealthRoutes(http::Router& router, ApiContext& context);

// What a node answers while it waits for its database at start-up: /healthz
// 200 ({"status": "starting"}), /readyz and every other path 503.
void RegisterStartingRoutes(http::Router& router);

}  // namespace vidmill::api
