#include "api/api.h"

namespace vidmill::api {

void RegisterHealthRoutes(http::Router& router, ApiContext& context) {
  router.Add("GET", "/healthz", [](http::Request&) -> Result<http::Response> {
    return http::Response::Json(boost::json::object{{"status", "ok"}});
  });
}

}  // namespace vidmill::api
