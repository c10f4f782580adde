// tuner/stats.h - the statistics the search needs: medians and Welch's t-test.
#pragma once
#include <vector>

namespace kcc::tuner {

double mean(const std::vector<double> &x);
/// Unbiased sample variance (n - 1); 0 for fewer than two samples.
double variance(const std::vector<double> &x);
/// The median (mean of the two middle values for even sizes); 0 for no samples.
double median(std::vector<double> x);

/// The regularized incomplete beta function I_x(a, b) for a, b > 0 and x in [0, 1].
double incomplete_beta(double a, double b, double x);
/// P(T <= t) for Student's t distribution with `df` > 0 degrees of freedom (df may be fractional).
double student_t_cdf(double t, double df);

/// Welch's two-sample t-test (unequal variances). `two_sided_p` is the probability of a
/// difference of means at least this large in either direction if both samples came from
/// distributions with one mean. With fewer than two samples on a side, p = 1 (no evidence).
/// When both samples have zero variance, p = 0 if the means differ, else 1.
struct TTest {
  double t = 0;
  double df = 0;
  double two_sided_p = 1;
};
TTest welch_t_test(const std::vector<double> &a, const std::vector<double> &b);

}  // namespace kcc::tuner
