#pragma once
// Line jitter: the horizontal shift of single lines that an analogue player's
// time-base error leaves (each line starts a little early or late), as
// opposed to frame jitter, which moves the whole picture. dejit measures and
// removes it before it stabilises the frame (dejit.h).
//
// Measurement. The line shifts s(y) of a luma plane are those that make each
// corrected line C(y) = L(y)(x + s(y)) agree best with
//  * the mean of its corrected neighbours above and below (spatial term:
//    natural pictures are locally straight along y, so the midpoint of the
//    two neighbours predicts a line without bias where the picture is
//    locally linear), and
//  * where given, a reference picture R of the same instant: the previous
//    corrected frame warped onto this one by the global motion (temporal
//    term: the jitter of two frames is independent, so a corrected frame
//    pins the lines of the next one).
// Both are linearised around the current shifts (C(y) + δ(y)·∂C/∂x); the
// least-squares δ solves a pentadiagonal system (the spatial term couples a
// line with its neighbours), with a small ridge towards zero shift that
// decides what the picture alone cannot: a shift common to many lines (a
// skew, or the whole picture) is left to the frame stabiliser. Residuals are
// Huber-weighted, so moving objects and occlusions pull the fit little.
// A first pass uses the picture alone: when the line jitter it finds
// (LineJitterRms) is under 0.1 px the picture is taken to have none and
// all shifts are 0. Otherwise three more passes with the reference follow,
// each resampling the lines by the shifts so far.
//
// Correction: each line resampled by its shift, Catmull-Rom, edge samples
// replicated; chroma lines by the mean shift of the luma lines they cover,
// scaled by the horizontal subsampling.

#include <functional>
#include <vector>

#include "filters/filter.h"

namespace vidmill::filters {

// The shifts (pixels) of the lines of `luma` (8–16 bits): each line is
// corrected by resampling it at x + shift. `fill_reference`, when set, is
// called (only when line jitter was found) to write the reference:
// luma.width × luma.height samples (rows packed) in 8-bit units, NaN where
// there is none. Deterministic, and the same with the AVX2 loops or the
// portable ones; two threads on large planes.
std::vector<float> EstimateLineShifts(const PlaneView& luma,
                                      const std::function<void(float*)>& fill_reference);

// RMS of `shifts` minus their centred 15-line moving average: the part of
// the shifts that is line jitter rather than a slow bend or skew.
double LineJitterRms(const std::vector<float>& shifts);

// A map q ↦ A q + t between two frames' pixels.
struct AffineMap {
  double a[2][2] = {{1, 0}, {0, 1}};
  double t[2] = {0, 0};
};

// out (plane.width × plane.height, rows packed) = plane(map(q)), bilinear,
// in 8-bit units; NaN where map(q) falls outside the plane: the temporal
// reference. Two threads on large planes; the AVX2 and portable loops give
// the same values.
void WarpReference(const PlaneView& plane, const AffineMap& map, float* out);

// Resamples each row y of `plane` at x + shifts[y] (in place).
void ShiftLines(const PlaneView& plane, const std::vector<float>& shifts);

}  // namespace vidmill::filters
