#pragma once
// Ids a client names in a request, in the canonical form the store keeps.

#include <optional>
#include <string>
#include <string_view>

#include "common/ids.h"
#include "common/status.h"
#include "http/message.h"

namespace vidmill::api {

// The `{id}` of the path. A malformed id cannot name anything, so it is a 404
// like an id the team does not have (the message quotes at most 64 bytes).
inline Result<std::string> PathId(const http::Request& request, std::string_view kind) {
  std::string raw = request.Param("id");
  std::optional<std::string> id = CanonicalId(raw);
  if (!id) return Status::NotFound(kind, raw.substr(0, 64));
  return *id;
}

// An id a client gave as a query parameter or a body field (`name`): a
// malformed one is a 400.
inline Result<std::string> GivenId(std::string_view name, const std::string& raw) {
  std::optional<std::string> id = CanonicalId(raw);
  if (!id) return Status::InvalidArgument(std::string(name) + " '" + raw + "' is not a valid id");
  return *id;
}

}  // namespace vidmill::api
