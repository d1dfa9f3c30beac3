// Mean and spread over seeds, the numbers an ablation's report is made of.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace pure16::ablation {

struct Summary {
  int64_t n = 0;
  double mean = 0;
  double std = 0;  // sample standard deviation (divides by n - 1); NaN when n < 2
  double min = 0, max = 0;
};

/// Mean, sample standard deviation, minimum and maximum of `values` (all NaN when empty). A NaN
/// value (a diverged run's loss) makes the mean and spread NaN: a study should not hide it.
Summary summarize(const std::vector<double>& values);

/// The summary of `a[seed] - b[seed]` over the seeds both have: a paired comparison, whose spread
/// leaves out what the seed does to both (initialization, data order).
Summary paired_difference(const std::map<uint64_t, double>& a, const std::map<uint64_t, double>& b);

}  // namespace pure16::ablation
