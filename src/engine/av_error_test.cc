// How libav's error codes become a Status: the jobs layer retries by the
// code, so each context's classification is what decides whether a job
// fails at once, is retried, or waits out a fault of the machine.

#include "engine/av_error.h"

#include <gtest/gtest.h>

#include <cerrno>

extern "C" {
#include <libavutil/error.h>
}

namespace vidmill::engine {
namespace {

TEST(AvErrorTest, ReadingClassifiesByTheMediaOrTheMachine) {
  EXPECT_EQ(AvStatus(AVERROR_INVALIDDATA, "reading").code(), Code::kCorruptMedia);
  EXPECT_EQ(AvStatus(AVERROR(EIO), "reading").code(), Code::kUnavailable);
  EXPECT_EQ(AvStatus(AVERROR(ENOENT), "reading").code(), Code::kNotFound);
  EXPECT_EQ(AvStatus(AVERROR_EXIT, "reading").code(), Code::kCancelled);
  EXPECT_EQ(AvStatus(AVERROR(ENOMEM), "reading").code(), Code::kInternal);
  Status status = AvStatus(AVERROR_INVALIDDATA, "opening input", "moov atom not found\n");
  EXPECT_EQ(status.message(), "opening input: moov atom not found");
}

// Our own output file: any fault is the machine's and is waited out, the same
// in a processing job and in ingestion's web preview (ENOENT had failed a
// processing job for good, EACCES retried it as an internal error).
TEST(AvErrorTest, OurOwnOutputFilesFaultsAreTheMachines) {
  for (int error : {AVERROR(ENOENT), AVERROR(EACCES), AVERROR(EROFS), AVERROR(ENOSPC),
                    AVERROR(EIO), AVERROR_INVALIDDATA}) {
    Status status = AvOutputStatus(error, "creating the output file");
    EXPECT_EQ(status.code(), Code::kUnavailable) << AvErrorText(error);
    EXPECT_EQ(status.message().rfind("creating the output file: ", 0), 0u) << status.message();
  }
  EXPECT_EQ(AvOutputStatus(AVERROR_EXIT, "writing").code(), Code::kCancelled);
}

// An encoder refusing a plan's settings refuses them every time: permanent,
// and not the source's fault; running out of memory may pass.
TEST(AvErrorTest, AnEncoderRefusingItsSettingsIsPermanent) {
  for (int error : {AVERROR(EINVAL), AVERROR(ENOSYS), AVERROR_EXTERNAL, AVERROR(ERANGE)}) {
    EXPECT_EQ(AvEncoderOpenStatus(error, "opening the encoder").code(), Code::kInvalidArgument)
        << AvErrorText(error);
  }
  EXPECT_EQ(AvEncoderOpenStatus(AVERROR(ENOMEM), "opening the encoder").code(),
            Code::kInternal);
}

}  // namespace
}  // namespace vidmill::engine
