#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/clock.h"
#include "common/flags.h"
#include "common/ids.h"
#include "common/periodic.h"
#include "common/status.h"
#include "common/thread_name.h"
#include "common/utf8.h"

namespace vidmill {
namespace {

TEST(IdsTest, NewIdIsValidAndUnique) {
  std::string a = NewId();
  std::string b = NewId();
  EXPECT_TRUE(IsValidId(a)) << a;
  EXPECT_NE(a, b);
  EXPECT_EQ(a[14], '4');
}

TEST(IdsTest, RejectsMalformedIds) {
  for (const char* bad : {"", "abc", "../../etc/passwd", "3F2B0000-0000-4000-8000-000000000000",
                          "3f2b0000x0000-4000-8000-000000000000"}) {
    EXPECT_FALSE(IsValidId(bad)) << bad;
  }
}

TEST(IdsTest, CanonicalIdLowerCasesAndRejectsMalformed) {
  EXPECT_EQ(CanonicalId("3F2B0000-ABCD-4000-8000-00000000000E"),
            "3f2b0000-abcd-4000-8000-00000000000e");
  std::string id = NewId();
  EXPECT_EQ(CanonicalId(id), id);
  for (const char* bad :
       {"", "3G2B0000-0000-4000-8000-000000000000", "3f2b0000-0000-4000-8000-00000000000",
        "3f2b0000_0000-4000-8000-000000000000"}) {
    EXPECT_FALSE(CanonicalId(bad)) << bad;
  }
}

TEST(ClockTest, FormatsApiDateInUtc) {
  EXPECT_EQ(FormatApiDate(0), "1970-01-01 00:00:00");
  EXPECT_EQ(FormatApiDate(1625227200123), "2021-07-02 12:00:00");
  EXPECT_EQ(FormatHttpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
}

Result<int> Half(int n) {
  if (n % 2 != 0) return Status::InvalidArgument("odd");
  return n / 2;
}

Status UseHalf(int n, int* out) {
  ASSIGN_OR_RETURN(int h, Half(n));
  *out = h;
  return Status::Ok();
}

TEST(StatusTest, MacrosPropagate) {
  int out = 0;
  EXPECT_TRUE(UseHalf(4, &out).ok());
  EXPECT_EQ(out, 2);
  Status s = UseHalf(3, &out);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "odd");
}

TEST(FlagsTest, CommandLineBeatsEnvironmentBeatsDefault) {
  std::vector<FlagSpec> specs = {{"listen", "127.0.0.1:8080", "address"},
                                 {"token-ttl", "900", "ttl"},
                                 {"workers", "1", "n"}};
  setenv("VIDMILL_TOKEN_TTL", "60", 1);
  setenv("VIDMILL_WORKERS", "4", 1);
  const char* argv[] = {"vidmill", "serve", "--workers=2", "--listen", "0.0.0.0:1"};
  auto flags = Flags::Parse(specs, 5, const_cast<char**>(argv), 2);
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->Get("listen"), "0.0.0.0:1");
  EXPECT_EQ(flags->Get("token-ttl"), "60");
  EXPECT_EQ(flags->Get("workers"), "2");
  unsetenv("VIDMILL_TOKEN_TTL");
  unsetenv("VIDMILL_WORKERS");
}

// A switch is asked for on the command line only: VIDMILL_HELP=0 in a
// service's environment had replaced serve by its help.
// VIDMILL_ONE_THREAD=0 turns the switch off; it had turned it on, as any
// value did (audit 27 F7).
TEST(FlagsTest, AnEnvironmentSwitchIsOnlyOnForAnAffirmativeValue) {
  const char* name = "VIDMILL_TEST_SWITCH";
  unsetenv(name);
  EXPECT_FALSE(EnvironmentSwitchOn(name));
  for (const char* off : {"", "0", "false", "No", "OFF"}) {
    setenv(name, off, 1);
    EXPECT_FALSE(EnvironmentSwitchOn(name)) << off;
  }
  for (const char* on : {"1", "yes", "true", "on"}) {
    setenv(name, on, 1);
    EXPECT_TRUE(EnvironmentSwitchOn(name)) << on;
  }
  unsetenv(name);
}

TEST(FlagsTest, SwitchesAreNotReadFromTheEnvironment) {
  std::vector<FlagSpec> specs = {{"help", "", "print this help", true}, {"workers", "1", "n"}};
  setenv("VIDMILL_HELP", "0", 1);
  const char* argv[] = {"vidmill", "serve"};
  auto flags = Flags::Parse(specs, 2, const_cast<char**>(argv), 2);
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_FALSE(flags->Has("help"));
  const char* asked[] = {"vidmill", "serve", "--help"};
  flags = Flags::Parse(specs, 3, const_cast<char**>(asked), 2);
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_TRUE(flags->Has("help"));
  unsetenv("VIDMILL_HELP");
  // And the usage does not offer the variable.
  const std::string usage = Flags::Usage(specs);
  EXPECT_EQ(usage.find("VIDMILL_HELP"), std::string::npos) << usage;
  EXPECT_NE(usage.find("VIDMILL_WORKERS"), std::string::npos) << usage;
}

// Runs every interval until stopped; after Stop() returns no run starts.
TEST(PeriodicTaskTest, RunsEveryIntervalUntilStopped) {
  std::atomic<int> runs{0};
  PeriodicTask task(std::chrono::milliseconds(20), [&] { ++runs; });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (runs.load() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(runs.load(), 3);
  task.Stop();
  const int after_stop = runs.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(runs.load(), after_stop);
}

TEST(FlagsTest, UnknownFlagIsAnError) {
  const char* argv[] = {"vidmill", "--nope", "1"};
  auto flags = Flags::Parse({{"a", "", ""}}, 3, const_cast<char**>(argv), 1);
  EXPECT_FALSE(flags.ok());
}

TEST(Utf8Test, Table) {
  const std::vector<std::pair<std::string, bool>> cases = {
      {"", true},
      {"plain", true},
      {"\xC3\xA9", true},
      {"\xF0\x9F\x8E\xA5", true},   // U+1F3A5
      {"\xC3", false},              // truncated
      {"\xC0\xAF", false},          // overlong
      {"\xE0\x80\xAF", false},      // overlong
      {"\xED\xA0\x80", false},      // surrogate
      {"\xF4\x90\x80\x80", false},  // > U+10FFFF
      {"\xFF", false},
  };
  for (const auto& [text, valid] : cases) {
    EXPECT_EQ(IsValidUtf8(text), valid) << testing::PrintToString(text);
  }
}

TEST(Utf8Test, InvalidBytesAreReplaced) {
  EXPECT_EQ(ValidUtf8("ok \xC3\xA9"), "ok \xC3\xA9");
  EXPECT_EQ(ValidUtf8("/nope\xFF\xFE"), "/nope\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ValidUtf8("\xC3"), "\xEF\xBF\xBD");
  EXPECT_TRUE(IsValidUtf8(ValidUtf8("\xED\xA0\x80 \xF4\x90\x80\x80")));
}

TEST(ThreadNameTest, NamesTheCallingThreadWithinLinuxsFifteenBytes) {
  std::string seen;
  std::thread named([&] {
    NameThisThread("vm-a-name-longer-than-fifteen");
    char name[32] = {};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    seen = name;
  });
  named.join();
  EXPECT_EQ(seen, "vm-a-name-longe");
}

}  // namespace
}  // namespace vidmill
