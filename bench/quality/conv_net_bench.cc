// conv_net_bench [SECONDS_PER_CASE [ONLY]]
//   Speed of ConvNet (src/filters/conv_net.h) on the refinement nets the
//   super-resolution filters use or tried: 5→16→16→16→4, 5→24→24→24→4 and
//   5→24→24→24→24→4, all 3×3, PReLU on the hidden layers, random weights
//   (speed does not depend on them), at 640×360, 1280×720 and 1920×1080,
//   on every instruction set the CPU has, threaded (two halves) and not. Per
//   case it prints the median wall ms per frame, CPU ms per frame (all
//   threads), and GMAC/s (multiply-adds of the convolutions per wall second)
//   and GMAC per CPU-second. For scale it first measures the FMA peak of one
//   core (independent register-only float AVX-512, or AVX2, FMAs, per thread
//   CPU second); of_peak is GMAC per CPU-second against it (amx, which does
//   not use the FMA units, and avx512fp16, whose vectors hold twice as many
//   values, can exceed 100 %; so can the float paths by Winograd, the
//   default for these all-3×3 networks, whose multiply-adds are counted as
//   the direct convolution's: a quarter of them are done; "-direct" rows
//   compute directly, in the same run). The load average is printed before and after;
//   other work on the machine lowers the wall numbers but hardly the CPU ones.
//   ONLY, if given, keeps the cases whose "net size isa" label contains it
//   (e.g. "16x3-4 1280x720 avx512", for profiling). Not part of ctest.

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "filters/conv_net.h"

namespace vidmill::filters {
namespace {

std::string LoadAverage() {
  std::ifstream file("/proc/loadavg");
  std::string one, five, fifteen;
  file >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Multiply-adds per second of `iterations` rounds of independent FMA chains
// (24 zmm or 12 ymm registers, more than latency × throughput): the most this
// core's FMA units deliver. Written in assembly so no compiler spills or
// reorders it.
#define VIDMILL_FMA8(a, b, c, d, e, f, g, h, reg)                    \
  "vfmadd231ps %1, %2, %%" reg #a "\n vfmadd231ps %1, %2, %%" reg #b \
  "\n"                                                               \
  "vfmadd231ps %1, %2, %%" reg #c "\n vfmadd231ps %1, %2, %%" reg #d \
  "\n"                                                               \
  "vfmadd231ps %1, %2, %%" reg #e "\n vfmadd231ps %1, %2, %%" reg #f \
  "\n"                                                               \
  "vfmadd231ps %1, %2, %%" reg #g "\n vfmadd231ps %1, %2, %%" reg #h "\n"

#define VIDMILL_ZERO1(insn, reg, a) insn " %%" reg #a ", %%" reg #a ", %%" reg #a "\n"
#define VIDMILL_ZERO4(insn, reg, a, b, c, d) \
  VIDMILL_ZERO1(insn, reg, a)                \
  VIDMILL_ZERO1(insn, reg, b) VIDMILL_ZERO1(insn, reg, c) VIDMILL_ZERO1(insn, reg, d)

__attribute__((target("avx512f"))) double FmaPeakAvx512(long iterations) {
  const __m512 a = _mm512_set1_ps(1e-9f);
  const __m512 b = _mm512_set1_ps(1e-9f);
  long count = iterations;
  const double start = ThreadCpuSeconds();
  asm volatile(
      VIDMILL_ZERO4("vpxord", "zmm", 0, 1, 2, 3) VIDMILL_ZERO4("vpxord", "zmm", 4, 5, 6, 7)
          VIDMILL_ZERO4("vpxord", "zmm", 8, 9, 10, 11) VIDMILL_ZERO4(
              "vpxord", "zmm", 12, 13, 14, 15) VIDMILL_ZERO4("vpxord", "zmm", 16, 17, 18, 19)
              VIDMILL_ZERO4("vpxord", "zmm", 20, 21, 22, 23) "1:\n" VIDMILL_FMA8(
                  0, 1, 2, 3, 4, 5, 6, 7, "zmm") VIDMILL_FMA8(8, 9, 10, 11, 12, 13, 14, 15, "zmm")
                  VIDMILL_FMA8(16, 17, 18, 19, 20, 21, 22, 23, "zmm") "dec %0\n jnz 1b\n"
      : "+r"(count)
      : "v"(a), "v"(b)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20",
        "xmm21", "xmm22", "xmm23", "cc");
  return iterations * 24.0 * 16 / (ThreadCpuSeconds() - start);
}

__attribute__((target("avx2,fma"))) double FmaPeakAvx2(long iterations) {
  const __m256 a = _mm256_set1_ps(1e-9f);
  const __m256 b = _mm256_set1_ps(1e-9f);
  long count = iterations;
  const double start = ThreadCpuSeconds();
  asm volatile(VIDMILL_ZERO4("vxorps", "ymm", 0, 1, 2, 3) VIDMILL_ZERO4("vxorps", "ymm", 4, 5, 6, 7)
                   VIDMILL_ZERO4("vxorps", "ymm", 8, 9, 10, 11) "1:\n" VIDMILL_FMA8(0, 1, 2, 3, 4,
                                                                                    5, 6, 7, "ymm")
                       VIDMILL_FMA8(8, 9, 10, 11, 0, 1, 2, 3, "ymm") "dec %0\n jnz 1b\n"
               : "+r"(count)
               : "x"(a), "x"(b)
               : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                 "xmm10", "xmm11", "cc");
  return iterations * 16.0 * 8 / (ThreadCpuSeconds() - start);
}

double FmaPeak(bool avx512) {
  constexpr long kIterations = 20'000'000;
  return avx512 ? FmaPeakAvx512(kIterations) : FmaPeakAvx2(kIterations);
}

struct Net {
  std::string name;
  std::vector<std::vector<float>> storage;
  std::vector<ConvLayer> layers;
};

// 5 → hidden (× maps) → 4, named like "5-24x3-4".
Net MakeNet(int hidden, int maps, std::mt19937& rng) {
  Net net;
  net.name = "5-" + std::to_string(hidden) + "x" + std::to_string(maps) + "-4";
  std::vector<int> channels(maps + 2, hidden);
  channels.front() = 5;
  channels.back() = 4;
  net.storage.reserve(3 * (maps + 1));
  for (int i = 0; i <= maps; ++i) {
    const int in = channels[i];
    const int out = channels[i + 1];
    std::normal_distribution<float> weight(0.0f, 1.0f / std::sqrt(in * 9.0f));
    std::vector<float>& w = net.storage.emplace_back(static_cast<size_t>(out) * in * 9);
    for (float& v : w) v = weight(rng);
    std::vector<float>& b = net.storage.emplace_back(out, 0.01f);
    ConvLayer layer{in, out, 3, w.data(), b.data(), nullptr};
    if (i < maps) {
      layer.prelu = net.storage.emplace_back(out, 0.1f).data();
    }
    net.layers.push_back(layer);
  }
  return net;
}

int Main(int argc, char** argv) {
  const double seconds_per_case = argc > 1 ? std::atof(argv[1]) : 1.0;
  const std::string only = argc > 2 ? argv[2] : "";
  std::printf("load average before: %s\n", LoadAverage().c_str());
  const bool avx512 = ConvNet::IsaSupported(ConvNetIsa::kAvx512);
  const bool avx2 = ConvNet::IsaSupported(ConvNetIsa::kAvx2);
  // Per core, from the measuring thread's CPU time, so other work on the
  // machine does not lower it; of_peak below compares the same kind of rate.
  double peak = 0;
  if (avx512 || avx2) {
    peak = FmaPeak(avx512);
    std::printf("FMA peak (%s, register-only): %.1f GMAC/s per core\n", avx512 ? "avx512" : "avx2",
                peak * 1e-9);
  }
  std::printf("%-10s %-9s %-10s %-7s %8s %8s %8s %10s %7s\n", "net", "size", "isa", "threads",
              "wall_ms", "cpu_ms", "GMAC/s", "GMAC/cpu-s", "of_peak");
  std::mt19937 rng(1);
  std::vector<Net> nets;
  nets.push_back(MakeNet(16, 3, rng));
  nets.push_back(MakeNet(24, 3, rng));
  nets.push_back(MakeNet(24, 4, rng));
  const std::pair<int, int> sizes[] = {{640, 360}, {1280, 720}, {1920, 1080}};
  // Every path, the float ones by Winograd (their default for these
  // networks) and directly ("-direct").
  std::vector<std::pair<ConvNetIsa, bool>> algorithms;
  for (ConvNetIsa isa : ConvNet::SupportedIsas()) {
    algorithms.emplace_back(isa, ComputesInFloat(isa));
    if (ComputesInFloat(isa)) algorithms.emplace_back(isa, false);
  }
  for (const Net& spec : nets) {
    ConvNet net(spec.layers);
    for (const auto& [width, height] : sizes) {
      const size_t plane = static_cast<size_t>(width) * height;
      std::vector<float> in(plane * net.in_channels());
      std::uniform_real_distribution<float> value(0.0f, 1.0f);
      for (float& v : in) v = value(rng);
      std::vector<float> out(plane * net.out_channels());
      const double macs = static_cast<double>(net.macs_per_pixel()) * plane;
      for (const auto& [isa, winograd] : algorithms) {
        // The portable path is only a fallback; one size shows its speed.
        if (isa == ConvNetIsa::kPortable && width != 640) continue;
        const std::string isa_name =
            std::string(ConvNetIsaName(isa)) + (winograd || !ComputesInFloat(isa) ? "" : "-direct");
        const std::string label =
            spec.name + " " + std::to_string(width) + "x" + std::to_string(height) + " " + isa_name;
        if (label.find(only) == std::string::npos) continue;
        net.ForceIsaForTesting(isa);
        net.UseWinogradForTesting(winograd);
        for (bool threaded : {false, true}) {
          auto run = [&] {
            net.Run(in.data(), width, plane, width, height, out.data(), width, plane, threaded);
          };
          run();  // warm-up: page faults, caches
          std::vector<double> walls;
          const double cpu_start = CpuSeconds();
          const double case_start = WallSeconds();
          while (walls.size() < 3 ||
                 (WallSeconds() - case_start < seconds_per_case && walls.size() < 200)) {
            const double start = WallSeconds();
            run();
            walls.push_back(WallSeconds() - start);
          }
          const double cpu_ms = (CpuSeconds() - cpu_start) * 1e3 / walls.size();
          std::sort(walls.begin(), walls.end());
          const double wall = walls[walls.size() / 2];
          const double gmacs = macs / wall * 1e-9;
          const double gmacs_per_cpu = macs / cpu_ms * 1e-6;
          std::printf("%-10s %4dx%-4d %-10s %-7d %8.2f %8.2f %8.1f %10.1f %6.0f%%\n",
                      spec.name.c_str(), width, height, isa_name.c_str(), threaded ? 2 : 1,
                      wall * 1e3, cpu_ms, gmacs, gmacs_per_cpu,
                      peak > 0 ? 100 * gmacs_per_cpu * 1e9 / peak : 0.0);
          std::fflush(stdout);
        }
      }
    }
  }
  std::printf("load average after: %s\n", LoadAverage().c_str());
  return 0;
}

}  // namespace
}  // namespace vidmill::filters

int main(int argc, char** argv) { return vidmill::filters::Main(argc, argv); }
