#pragma once
// quality_bench's denoising subcommands (bench/quality/denoise_bench.cc).
// Each takes quality_bench's argv and returns its exit code (1 = usage).

namespace vidmill::filters {

int DenoiseCommand(int argc, char** argv);
int GrainCommand(int argc, char** argv);

}  // namespace vidmill::filters
