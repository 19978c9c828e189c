#pragma once
// HAL paging for the listing endpoints (GET /videos/v1/projects, /videos/v1/videos):
// the query parameters `page`, `page-size` and `anchor`, and the envelope
//
//   {"pageSize": 20, "page": 1,
//    "_links": {"self", "first", "last"[, "previous"][, "next"]},
//    "_embedded": {"<name>": [ … ]}}
//
// Pages start at 1; the default page size is 20, the maximum 100. A page or
// page size that is not a whole number in range is a 400. Link hrefs are
// absolute (request.base_url + path) and keep the request's other query
// parameters. Every link carries `anchor`, the (created_at, id) of the newest
// item the first page saw (see videos/paging.h), so pages a client has not
// read yet do not shift when items are added while it walks them. The anchor
// is opaque to clients: "<created_at millis>.<id>".
//
// "previous" is present on every page after the first (pointing at the last
// page when the request was beyond it); "next" only when a later page has items.
//
// Pure functions; thread-safe.

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/message.h"
#include "videos/paging.h"

namespace vidmill::api {

// Reads page, page-size and anchor from the query; InvalidArgument with a
// message naming the parameter for anything malformed or out of range.
Result<videos::PageRequest> ParsePageRequest(const http::Request& request);

std::string EncodeAnchor(const videos::ListAnchor& anchor);
Result<videos::ListAnchor> DecodeAnchor(std::string_view text);

// Percent-encodes a query component (everything but RFC 3986 unreserved).
std::string EncodeQueryComponent(std::string_view text);

// {"href": href}
boost::json::object Link(std::string href);

// The envelope above. `path` is the listing's canonical path
// ("/videos/v1/projects"); `items` goes under _embedded[embedded_name].
boost::json::object HalPage(const http::Request& request, std::string_view path,
                            const videos::PageRequest& page_request, int64_t page_count,
                            const std::optional<videos::ListAnchor>& anchor,
                            std::string_view embedded_name, boost::json::array items);

}  // namespace vidmill::api
