// The median the filters' robust estimates take (noise levels, match levels,
// brightness ratios and drifts): blocks that motion or a scene change did not
// explain are a minority and do not move it much.
#ifndef VIDMILL_FILTERS_MEDIAN_H_
#define VIDMILL_FILTERS_MEDIAN_H_

#include <algorithm>
#include <cstddef>
#include <vector>

namespace vidmill::filters {

// The upper median (element size / 2 in order) of non-empty `values`.
inline float Median(std::vector<float> values) {
  auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

}  // namespace vidmill::filters

#endif  // VIDMILL_FILTERS_MEDIAN_H_
