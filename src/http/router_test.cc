#include "http/router.h"

#include <gtest/gtest.h>

namespace vidmill::http {
namespace {

Result<Response> Ok(Request&) { return Response::Json(boost::json::object{{"ok", true}}); }

struct Case {
  std::string method;
  std::string path;
  int want;  // 0 = matched, else the error's HTTP status
  std::string id;
};

TEST(RouterTest, MatchesPatternsMethodsAndCaptures) {
  Router router;
  router.Add("GET", "/videos/v1/video/{id}", Ok);
  router.Add("DELETE", "/videos/v1/video/{id}", Ok);
  router.Add("PUT", "/videos/v1/video", Ok);
  router.Add("GET", "/healthz", Ok);
  const std::vector<Case> cases = {
      {"GET", "/videos/v1/video/abc", 0, "abc"},
      {"HEAD", "/videos/v1/video/abc", 0, "abc"},
      {"DELETE", "/videos/v1/video/x", 0, "x"},
      {"POST", "/videos/v1/video/x", 405, ""},
      {"GET", "/videos/v1/video", 405, ""},
      {"GET", "/videos/v1/video/a/b", 404, ""},
      {"GET", "/nope", 404, ""},
      {"GET", "/healthz", 0, ""},
      {"GET", "/healthz/", 0, ""},
  };
  for (const Case& c : cases) {
    Request request;
    request.method = c.method;
    request.path = c.path;
    Router::Match match = router.Find(request);
    if (c.want == 0) {
      EXPECT_NE(match.handler, nullptr) << c.method << " " << c.path;
      EXPECT_EQ(request.Param("id"), c.id);
    } else {
      EXPECT_EQ(match.handler, nullptr) << c.method << " " << c.path;
      EXPECT_EQ(HttpStatusFor(match.error.code()), c.want) << c.method << " " << c.path;
    }
  }
}

TEST(RouterTest, MethodNotAllowedListsAllowedMethods) {
  Router router;
  router.Add("GET", "/a/{id}", Ok);
  router.Add("DELETE", "/a/{id}", Ok);
  Request request;
  request.method = "PATCH";
  request.path = "/a/1";
  Router::Match match = router.Find(request);
  EXPECT_EQ(match.allow, "DELETE, GET, HEAD");
}

TEST(ErrorResponseTest, HasTheApiShape) {
  Response r = ErrorResponse(
      Status::Unauthenticated("token expired").WithException("ExpiredJWTTokenException"));
  EXPECT_EQ(r.status, 401);
  auto doc = boost::json::parse(r.body).as_object();
  EXPECT_EQ(doc["exception"].as_string(), "ExpiredJWTTokenException");
  EXPECT_EQ(doc["errorMessage"].as_string(), "token expired");
  EXPECT_EQ(ErrorResponse(Status::Conflict("x")).status, 409);
}

TEST(SerializeJsonTest, NumbersReadAsWritten) {
  boost::json::value doc = boost::json::object{
      {"fps", 25.0}, {"ntsc", 29.97}, {"zero", 0.0}, {"small", 0.001}, {"int", 42},
      {"nested", boost::json::array{1.5, "x\"y", nullptr, true}}};
  std::string text = SerializeJson(doc);
  EXPECT_EQ(text,
            R"({"fps":25,"ntsc":29.97,"zero":0,"small":0.001,"int":42,"nested":[1.5,"x\"y",null,true]})");
  boost::json::value back = boost::json::parse(text);  // same numbers when parsed back
  EXPECT_EQ(back.at("ntsc").to_number<double>(), 29.97);
  EXPECT_EQ(back.at("small").to_number<double>(), 0.001);
}

}  // namespace
}  // namespace vidmill::http
