#include "api/hal.h"

#include <charconv>
#include <string>

#include "common/ids.h"

namespace vidmill::api {
namespace {

constexpr std::string_view kPageParam = "page";
constexpr std::string_view kPageSizeParam = "page-size";
constexpr std::string_view kAnchorParam = "anchor";

// A whole number written in plain decimal digits ("12"; not "+12", "1e3",
// " 12" or "12.0"); nullopt otherwise or when it overflows int64.
std::optional<int64_t> ParseWholeNumber(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Result<int64_t> ParseIntParam(const http::Request& request, std::string_view name, int64_t fallback,
                              int64_t max) {
  std::optional<std::string> text = request.Query(std::string(name));
  if (!text) return fallback;
  std::optional<int64_t> value = ParseWholeNumber(*text);
  if (!value || *value < 1 || *value > max) {
    return Status::InvalidArgument(std::string(name) + " must be a whole number from 1 to " +
                                   std::to_string(max) + ", got '" + *text + "'");
  }
  return *value;
}

}  // namespace

std::string EncodeAnchor(const videos::ListAnchor& anchor) {
  return std::to_string(anchor.created_at) + "." + anchor.id;
}

Result<videos::ListAnchor> DecodeAnchor(std::string_view text) {
  auto invalid = [&] {
    return Status::InvalidArgument("anchor '" + std::string(text) +
                                   "' is not one this server handed out; start again from "
                                   "the first page without it");
  };
  size_t dot = text.find('.');
  if (dot == std::string_view::npos) return invalid();
  std::optional<int64_t> created_at = ParseWholeNumber(text.substr(0, dot));
  std::string_view id = text.substr(dot + 1);
  if (!created_at || *created_at < 0 || !IsValidId(id)) return invalid();
  return videos::ListAnchor{*created_at, std::string(id)};
}

Result<videos::PageRequest> ParsePageRequest(const http::Request& request) {
  videos::PageRequest page_request;
  ASSIGN_OR_RETURN(page_request.page, ParseIntParam(request, kPageParam, 1, videos::kMaxPage));
  ASSIGN_OR_RETURN(
      page_request.page_size,
      ParseIntParam(request, kPageSizeParam, videos::kDefaultPageSize, videos::kMaxPageSize));
  if (std::optional<std::string> anchor = request.Query(std::string(kAnchorParam))) {
    ASSIGN_OR_RETURN(page_request.anchor, DecodeAnchor(*anchor));
  }
  return page_request;
}

std::string EncodeQueryComponent(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

boost::json::object Link(std::string href) {
  return boost::json::object{{"href", std::move(href)}};
}

boost::json::object HalPage(const http::Request& request, std::string_view path,
                            const videos::PageRequest& page_request, int64_t page_count,
                            const std::optional<videos::ListAnchor>& anchor,
                            std::string_view embedded_name, boost::json::array items) {
  // The request's other parameters, in a stable (sorted) order.
  std::string kept;
  for (const auto& [name, value] : request.query) {
    if (name == kPageParam || name == kPageSizeParam || name == kAnchorParam) continue;
    kept += EncodeQueryComponent(name) + "=" + EncodeQueryComponent(value) + "&";
  }
  std::string anchor_suffix =
      anchor ? "&" + std::string(kAnchorParam) + "=" + EncodeQueryComponent(EncodeAnchor(*anchor))
             : "";
  auto href = [&](int64_t page) {
    return request.base_url + std::string(path) + "?" + kept + std::string(kPageParam) + "=" +
           std::to_string(page) + "&" + std::string(kPageSizeParam) + "=" +
           std::to_string(page_request.page_size) + anchor_suffix;
  };

  int64_t page = page_request.page;
  boost::json::object links{
      {"self", Link(href(page))},
      {"first", Link(href(1))},
      {"last", Link(href(page_count))},
  };
  if (page > 1) links["previous"] = Link(href(std::min(page - 1, page_count)));
  if (page < page_count) links["next"] = Link(href(page + 1));

  boost::json::object embedded;
  embedded[embedded_name] = std::move(items);
  return boost::json::object{
      {"pageSize", page_request.page_size},
      {"page", page},
      {"_links", std::move(links)},
      {"_embedded", std::move(embedded)},
  };
}

}  // namespace vidmill::api
