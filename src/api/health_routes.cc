#include "api/api.h"

namespace vidmill::api {

void RegisterHealthRoutes(http::Router& router, ApiContext& context) {
  // Liveness: the process answers. No database, no authentication, and not
  // queued behind handlers that wait on the database (Router::AddNonBlocking).
  router.AddNonBlocking("GET", std::string(kLivenessPath),
                        [](http::Request&) -> Result<http::Response> {
                          return http::Response::Json(boost::json::object{{"status", "ok"}});
                        });
  // Readiness: the database and the media store answer too (503 while the
  // database is down or the media share is gone), so a load balancer can take
  // an API node out during an outage.
  router.Add("GET", std::string(kReadinessPath),
             [&context](http::Request&) -> Result<http::Response> {
               Status ping = context.db->Ping();
               if (!ping.ok()) {
                 return Status::Unavailable("not ready: " + ping.message());
               }
               if (context.blobs != nullptr) {
                 if (Status media = context.blobs->CheckWritable(); !media.ok()) {
                   return Status::Unavailable("not ready: " + media.message());
                 }
               }
               return http::Response::Json(boost::json::object{{"status", "ready"}});
             });
}

void RegisterStartingRoutes(http::Router& router) {
  router.AddNonBlocking("GET", std::string(kLivenessPath),
                        [](http::Request&) -> Result<http::Response> {
                          return http::Response::Json(boost::json::object{{"status", "starting"}});
                        });
  router.Add("GET", std::string(kReadinessPath), [](http::Request&) -> Result<http::Response> {
    return Status::Unavailable("not ready: waiting for the database").WithRetryAfter(5);
  });
  router.SetUnmatched(
      Status::Unavailable("the server is starting: waiting for its database").WithRetryAfter(5));
}

}  // namespace vidmill::api
