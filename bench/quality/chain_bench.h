#pragma once
// quality_bench's "chain" subcommand (bench/quality/chain_bench.cc).

namespace vidmill::filters {

// Takes quality_bench's argv; returns its exit code (1 = usage).
int ChainCommand(int argc, char** argv);

}  // namespace vidmill::filters
