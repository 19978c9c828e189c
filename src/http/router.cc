#include "http/router.h"

#include <set>

namespace vidmill::http {

std::vector<std::string> Router::Split(std::string_view path) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) segments.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return segments;
}

void Router::Add(std::string method, std::string pattern, Handler handler) {
  routes_.push_back({std::move(method), Split(pattern), std::move(handler), nullptr});
}

void Router::AddGetWithoutHead(std::string pattern, Handler handler) {
  routes_.push_back({"GET", Split(pattern), std::move(handler), nullptr, false});
}

void Router::AddNonBlocking(std::string method, std::string pattern, Handler handler) {
  routes_.push_back({std::move(method), Split(pattern), std::move(handler), nullptr, true, false});
}

void Router::AddStream(std::string method, std::string pattern, StreamHandler handler) {
  routes_.push_back({std::move(method), Split(pattern), nullptr, std::move(handler)});
}

Router::Match Router::Find(Request& request) const {
  Match match;
  std::vector<std::string> segments = Split(request.path);
  std::set<std::string> allowed;
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool fits = true;
    for (size_t i = 0; i < segments.size() && fits; ++i) {
      const std::string& pattern = route.segments[i];
      if (pattern.size() > 2 && pattern.front() == '{' && pattern.back() == '}') {
        params[pattern.substr(1, pattern.size() - 2)] = segments[i];
      } else {
        fits = pattern == segments[i];
      }
    }
    if (!fits) continue;
    const bool head = route.method == "GET" && route.answers_head;
    const bool method_fits = route.method == request.method || (head && request.method == "HEAD");
    if (!method_fits) {
      allowed.insert(route.method);
      if (head) allowed.insert("HEAD");
      continue;
    }
    request.params = std::move(params);
    match.handler = route.handler ? &route.handler : nullptr;
    match.stream = route.stream ? &route.stream : nullptr;
    match.blocks = route.blocks;
    return match;
  }
  if (allowed.empty() && unmatched_) {
    match.error = *unmatched_;
  } else if (allowed.empty()) {
    match.error = Status::NotFound("no such endpoint: " + request.path);
  } else {
    for (const std::string& method : allowed) {
      if (!match.allow.empty()) match.allow += ", ";
      match.allow += method;
    }
    match.error = Status::MethodNotAllowed("method " + request.method + " is not allowed on " +
                                           request.path + " (allowed: " + match.allow + ")");
  }
  return match;
}

}  // namespace vidmill::http
