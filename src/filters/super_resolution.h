#pragma once
// pabsr1 and dvres: Vidmill's learned scalers (the engine is raisr.h).
//
//  * pabsr1 (Super Resolution): luma through the RAISR filters learned on
//    clean pictures (AREA-downscaled → original), then clarityBoost
//    (clarity.h).
//  * dvres (Deep Restoration): temporal, spatial, then temporal again. First
//    Vidmill's motion-compensated denoise (denoise.h; five pictures, its
//    noise estimate × 1.5 for coding noise), which averages out coding
//    artefacts that differ from picture to picture; then the same engine as
//    pabsr1 with filters learned on compressed low-resolution pictures
//    (low-bitrate MPEG-2 and H.264) → clean high resolution, so it removes
//    what is left of the artefacts while it scales; at the same size it runs
//    its 1× model (restoration only). Last, when it scales up, picture
//    fusion (fusion.h) on the output: each picture takes detail from
//    neighbours that kept more of it, moved onto it by the camera's global
//    motion. Property "temporal" = 0
//    skips the first and last stages (single-picture dvres, no delay);
//    "fusion" = 0 only the last.
//  * pabsr1's 2× refinement network (refine_net.h) follows the 2× filters of
//    both; property "refine" = 0 leaves it out.
//
// Any output size: pabsr1's learned scale s is the smallest of 2 and 4 whose
// s × input covers the output in both directions (4 beyond that); dvres has a
// 1× model (output no larger than the input) and a 2× one (anything larger).
// The s× picture is then resampled to the exact size with Catmull-Rom
// (resample.h), widened when shrinking. pabsr1 at the input size or smaller
// only resamples (and boosts clarity). Chroma is resampled with Catmull-Rom
// straight from the input.
//
// Property "fields" = 1 (the engine sets it for interlaced material that stays
// interlaced): each field is scaled on its own and woven back (a plane with
// an odd number of rows gives its top field one more); dvres's denoise then
// works on each field stream too (its "interlaced" mode) where the fields of
// every plane have the same height (in 4:2:0 a multiple of 4 rows; else
// dvres is the single-picture one); its picture fusion is left out.
//
// Input: planar Y'CbCr 8–16 bits, any chroma; output: the same depth and
// chroma at config.output_width × output_height (0 = input size). One output
// per input with the input's pts; pabsr1 (and dvres with "temporal" = 0) with
// no delay, dvres two pictures late, 2 + kFusionRadius with its fusion
// (scaling up, whole pictures, outputs of at least kFusionMinSize in both
// directions):
// Pull returns nothing while the look-ahead fills; Flush releases the rest.
// Deterministic; two threads per frame.
//
// Thread safety: one instance per pipeline.

#include <memory>
#include <string_view>

#include "filters/filter.h"

namespace vidmill::filters {

// family: "pabsr1" or "dvres". kInvalidArgument for bad sizes or properties;
// kNotImplemented when this binary carries no trained model for the family.
Result<std::unique_ptr<VideoFilter>> MakeSuperResolution(std::string_view family,
                                                         const FilterConfig& config);

// The learned scale used for an input → output size (0 when pabsr1 only
// resamples). Exposed for tests and the documentation.
int LearnedScaleFor(std::string_view family, int in_width, int in_height, int out_width,
                    int out_height);

}  // namespace vidmill::filters
