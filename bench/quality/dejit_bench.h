#pragma once
// The stabilisation half of quality_bench (see quality_bench.cc for the file
// conventions: raw planar 8-bit 4:2:0).
//
//   dejit IN.yuv W H OUT.yuv
//       Vidmill's dejit on every frame; prints "fps F cpu_ms_per_frame C",
//       measured around the filter calls only. The environment variables
//       DEJIT_SMOOTHING, DEJIT_LINES and DEJIT_FIELDS set the filter's
//       properties smoothing, lines and fields (for experiments).
//   jitter REF.yuv TEST.yuv W H
//       The residual jitter of TEST against the smooth ground truth REF. Per
//       frame, 35 blocks of 48×48 luma over the central 80 % of TEST are found
//       in REF (integer search on a 4× downscale, ±48 px, then full-pixel and
//       1/8-pixel refinement with Catmull-Rom interpolation and a parabola on
//       the last step), and a similarity (translation at the centre, scale,
//       rotation) is fitted to their displacements by least squares with one
//       outlier-rejection pass. The translation series minus its centred
//       15-frame moving average (the slow part a stabiliser may legitimately
//       keep: a smooth offset or drift) is the jitter; its RMS (vector length,
//       pixels) over the frames with a full window is printed as "jitter".
//       Also: "crop" = 1 − scale² (median over frames: the fraction of the
//       picture area not shown), "black" = frames with a black edge (an edge
//       line ≥ 25 % at Y ≤ 20 where the same edge of REF has < 5 %), and
//       "psnr" = Y-PSNR of TEST against REF warped by the fitted similarity,
//       on the central 90 % (alignment removes the offset; what remains is
//       jitter left within a frame, blur and artefacts). "lines" = the line
//       jitter left: per row of that central 90 %, the horizontal shift
//       of TEST against the aligned REF (an integer search over ±4 px, then
//       Gauss-Newton with Catmull-Rom sampling; rows whose mean |horizontal
//       gradient| is under 1 code value are left out), less the mean of the
//       measured shifts within ±7 rows (a slow skew or bend), RMS over the
//       rows of every frame.
// The measurement shares no code with the filter.

namespace vidmill::filters {

int DejitCommand(int argc, char** argv);
int JitterCommand(int argc, char** argv);

}  // namespace vidmill::filters
