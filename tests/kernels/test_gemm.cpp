// GEMM variants against a float64 computation from the same (already rounded) inputs.
//
// Error budget (Higham ch. 3, with the contract in include/pure16/kernels/gemm.h): a sum of K
// products in an accumulator of unit roundoff u_acc, scaled by alpha and added to beta * C_old
// (two more roundings), then rounded once to the storage type (u_store):
//   |C - exact| <= gamma(K + 2, u_acc) * (|alpha| sum_p |a_ip b_pj| + |beta c_ij|) + u_store |exact|
// Any summation order (blocked, vectorized, K pairs of vdpbf16ps) is a sequence of K roundings
// per element, so the same bound covers every variant.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pure16/kernels/gemm.h"
#include "pure16/kernels/isa.h"
#include "pure16/tensor/tensor.h"
#include "support/reference.h"

namespace pure16 {
namespace {

using kernels::Accumulation;
using kernels::GemmArgs;
using kernels::Isa;

struct Kind {
  DType dtype;
  Accumulation acc;
  // The levels with a variant of their own for this kind; gemm_variant must name the highest
  // one at or below the active level, or "scalar".
  std::vector<Isa> levels;
};

std::string kind_name(const Kind& kind) {
  std::string name = std::string(dtype_name(kind.dtype)) + "_acc_" + std::string(kernels::accumulation_name(kind.acc));
  for (char& c : name)
    if (c == '-') c = '_';
  return name;
}

// The relative bound on the sum over K plus the alpha/beta epilogue (two more terms), see gemm.h.
double sum_error_factor(const Kind& kind, int64_t k) {
  if (kind.dtype == DType::f64) return testing::gamma(k + 2, traits(DType::f64).unit_roundoff);
  return testing::accumulation_gamma(k + 2, kind.acc);
}

const std::vector<Kind>& all_kinds() {
  static const std::vector<Kind> kinds = {
      {DType::f32, Accumulation::f32, {Isa::avx2, Isa::avx512}},
      {DType::f16, Accumulation::f32, {Isa::avx2, Isa::avx512}},
      // avx2 and avx512 emulate the fp16 sums in binary32, avx512fp16 has native fp16 FMAs
      {DType::f16, Accumulation::f16, {Isa::avx2, Isa::avx512, Isa::avx512fp16}},
      {DType::f16, Accumulation::f16_block, {Isa::avx2, Isa::avx512, Isa::avx512fp16}},
      // avx512fp16 re-registers the widening kernel (vdpbf16ps is slow there; gemm_avx512fp16.cpp)
      {DType::bf16, Accumulation::f32, {Isa::avx2, Isa::avx512, Isa::avx512bf16, Isa::avx512fp16}},
      {DType::f64, Accumulation::f32, {}},
  };
  return kinds;
}

// Raw storage of one dtype, addressed by flat index, read and written as double.
class Buffer {
 public:
  Buffer(DType dtype, int64_t n) : dtype_(dtype), bytes_(size_t(n) * dtype_size(dtype)) {}
  void set(int64_t i, double v) {
    dispatch(dtype_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T x = from_double<T>(v);
      std::memcpy(bytes_.data() + size_t(i) * sizeof(T), &x, sizeof(T));
    });
  }
  double get(int64_t i) const {
    return dispatch(dtype_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T x;
      std::memcpy(&x, bytes_.data() + size_t(i) * sizeof(T), sizeof(T));
      return as_double(x);
    });
  }
  void* data() { return bytes_.data(); }

 private:
  DType dtype_;
  std::vector<std::byte> bytes_;
};

// One problem in one dtype: op(A) (M, K), op(B) (K, N), C_old (M, N), all exactly representable,
// and the float64 sums the bound needs, computed once and shared by every variant and layout.
struct Problem {
  int64_t m, n, k;
  std::vector<double> a, b, c;
  std::vector<double> sum, abs_sum;  // (M, N): sum_p a_ip b_pj and sum_p |a_ip b_pj|
};

Problem make_problem(DType dtype, int64_t m, int64_t n, int64_t k, uint64_t seed) {
  Problem p{m, n, k, testing::random_values(m * k, seed), testing::random_values(k * n, seed + 1),
            testing::random_values(m * n, seed + 2), std::vector<double>(size_t(m * n)),
            std::vector<double>(size_t(m * n))};
  for (auto* v : {&p.a, &p.b, &p.c}) {
    Buffer round(dtype, 1);
    for (double& x : *v) {
      round.set(0, x);
      x = round.get(0);
    }
  }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0, s_abs = 0;
      for (int64_t q = 0; q < k; ++q) {
        const double t = p.a[size_t(i * k + q)] * p.b[size_t(q * n + j)];
        s += t;
        s_abs += std::abs(t);
      }
      p.sum[size_t(i * n + j)] = s;
      p.abs_sum[size_t(i * n + j)] = s_abs;
    }
  return p;
}

// Stores the (rows, cols) row-major values `v` as a matrix of leading dimension ld, transposed
// if asked; everything outside the matrix is NaN, so reading it shows up in the result.
Buffer store_matrix(DType dtype, const std::vector<double>& v, int64_t rows, int64_t cols, bool transposed,
                    int64_t ld) {
  const int64_t stored_rows = transposed ? cols : rows;
  Buffer buf(dtype, stored_rows * ld);
  for (int64_t i = 0; i < stored_rows * ld; ++i) buf.set(i, std::numeric_limits<double>::quiet_NaN());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) buf.set(transposed ? j * ld + i : i * ld + j, v[size_t(i * cols + j)]);
  return buf;
}

// Leading dimensions of the stored matrices: past the rows, so reading or writing there shows.
int64_t padded_ldc(const Problem& p) { return p.n + 7; }

// Runs one GEMM of the active variant on the problem stored in the given layout with padded rows
// and returns C. C starts as C_old, or as all NaN for beta == 0, which must ignore it.
Buffer run_gemm(const Problem& p, const Kind& kind, bool trans_a, bool trans_b, float alpha, float beta) {
  const int64_t lda = (trans_a ? p.m : p.k) + 3, ldb = (trans_b ? p.k : p.n) + 5, ldc = padded_ldc(p);
  Buffer a = store_matrix(kind.dtype, p.a, p.m, p.k, trans_a, lda);
  Buffer b = store_matrix(kind.dtype, p.b, p.k, p.n, trans_b, ldb);
  // beta == 0 must ignore C's old contents, so then C starts as all NaN.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Buffer c = beta == 0.0f ? store_matrix(kind.dtype, std::vector<double>(size_t(p.m * p.n), nan), p.m, p.n, false, ldc)
                          : store_matrix(kind.dtype, p.c, p.m, p.n, false, ldc);
  GemmArgs args;
  args.trans_a = trans_a;
  args.trans_b = trans_b;
  args.m = p.m;
  args.n = p.n;
  args.k = p.k;
  args.a = a.data();
  args.lda = lda;
  args.b = b.data();
  args.ldb = ldb;
  args.c = c.data();
  args.ldc = ldc;
  args.alpha = alpha;
  args.beta = beta;
  kernels::gemm(kind.dtype, kind.acc, args);
  return c;
}

// Runs one GEMM of the active variant and checks every element against the bound, and that
// C's padding was not written. Returns false (after reporting) on the first failing matrix.
bool check_gemm(const Problem& p, const Kind& kind, bool trans_a, bool trans_b, float alpha, float beta) {
  const Buffer c = run_gemm(p, kind, trans_a, trans_b, alpha, beta);
  const int64_t ldc = padded_ldc(p);
  const double gamma = sum_error_factor(kind, p.k);
  const double u_store = traits(kind.dtype).unit_roundoff;
  int64_t failures = 0;
  std::ostringstream first;
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.n; ++j) {
      const size_t e = size_t(i * p.n + j);
      const double old = beta == 0.0f ? 0.0 : p.c[e];
      const double exact = double(alpha) * p.sum[e] + double(beta) * old;
      const double bound = gamma * (std::abs(double(alpha)) * p.abs_sum[e] + std::abs(double(beta) * old)) +
                           u_store * std::abs(exact);
      const double got = c.get(i * ldc + j);
      if (!(std::abs(got - exact) <= bound)) {
        if (failures++ == 0)
          first << "C(" << i << ", " << j << ") = " << got << ", exact " << exact << ", error "
                << std::abs(got - exact) << " > bound " << bound;
      }
    }
    for (int64_t j = p.n; j < ldc; ++j)
      if (!std::isnan(c.get(i * ldc + j)) && failures++ == 0) first << "padding C(" << i << ", " << j << ") written";
  }
  EXPECT_EQ(failures, 0) << kind_name(kind) << " variant " << kernels::gemm_variant(kind.dtype, kind.acc)
                         << " trans_a " << trans_a << " trans_b " << trans_b << " M N K " << p.m << " " << p.n << " "
                         << p.k << " alpha " << alpha << " beta " << beta << ": " << first.str();
  return failures == 0;
}

struct Shape3 {
  int64_t m, n, k;
};

// Tails in every dimension, K spanning several cache blocks (19x35x777), more rows than one
// thread's row block (1600x20x260) and more columns than one column block (12x1100x8). fp16
// accumulation on avx512fp16 takes its 6 x 128 tile for 13x250x300 and 6x1300x270 (K over two
// cache blocks, tails, more columns than the block used when partial sums stay in C), its
// 12 x 64 tile for the others.
constexpr Shape3 kShapes[] = {{1, 1, 1},       {37, 53, 29},     {67, 129, 65}, {19, 35, 777}, {12, 1100, 8},
                              {256, 192, 300}, {1600, 20, 260},  {5, 3, 0},     {13, 250, 300}, {6, 1300, 270}};
// Every C element is summed over K in the same blocked order whatever the thread split. Also
// with more parts than threads, cut along rows (3100 = four row blocks) and along columns
// (2100 = four column blocks), which the threads take dynamically.
constexpr Shape3 kThreadShapes[] = {{131, 97, 300}, {3100, 20, 300}, {5, 2100, 100}};
constexpr float kBetas[] = {0.0f, 1.0f, 0.5f};

class GemmKinds : public ::testing::TestWithParam<Kind> {};

TEST_P(GemmKinds, MatchesFloat64WithinBound) {
  const Kind& kind = GetParam();
  std::set<std::string> tested;  // a variant inherited by a higher level is checked once
  for (size_t s = 0; s < std::size(kShapes); ++s) {
    const Shape3 shape = kShapes[s];
    const Problem p = make_problem(kind.dtype, shape.m, shape.n, shape.k, 1000 + s);
    tested.clear();
    testing::for_each_isa([&](Isa) {
      const std::string variant(kernels::gemm_variant(kind.dtype, kind.acc));
      if (!tested.insert(variant).second) return;
      // Every transpose x beta on the small shapes; on the large ones beta cycles with the layout.
      // The large shapes exercise cache blocking and threads, which the scalar reference (a plain
      // loop, and slow with fp16 accumulation) does not have.
      const bool small = shape.m * shape.n * shape.k < (1 << 20);
      if (!small && variant == "scalar") return;
      for (int t = 0; t < 4; ++t) {
        for (size_t ib = 0; ib < std::size(kBetas); ++ib) {
          if (!small && ib != (s + size_t(t)) % std::size(kBetas)) continue;
          if (!check_gemm(p, kind, t & 1, t & 2, -1.25f, kBetas[ib])) return;
        }
      }
    });
  }
}

TEST_P(GemmKinds, DispatchesTheExpectedVariant) {
  const Kind& kind = GetParam();
  testing::for_each_isa([&](Isa level) {
    Isa expected = Isa::scalar;
    for (Isa l : kind.levels)
      if (l <= level) expected = l;
    EXPECT_EQ(kernels::gemm_variant(kind.dtype, kind.acc), kernels::isa_name(expected))
        << kind_name(kind) << " at level " << kernels::isa_name(level);
  });
}

TEST_P(GemmKinds, ResultDoesNotDependOnThreadCount) {
  const Kind& kind = GetParam();
  for (const Shape3 shape : kThreadShapes) {
    const Problem p = make_problem(kind.dtype, shape.m, shape.n, shape.k, 7);
    testing::for_each_isa([&](Isa) {
      if (kernels::gemm_variant(kind.dtype, kind.acc) == "scalar") return;  // one sum per element, no blocking
      std::vector<std::vector<std::byte>> results;
      for (int threads : {1, omp_get_max_threads()}) {
        Buffer a = store_matrix(kind.dtype, p.a, p.m, p.k, false, p.k);
        Buffer b = store_matrix(kind.dtype, p.b, p.k, p.n, true, p.k);
        Buffer c(kind.dtype, p.m * p.n);
        GemmArgs args;
        args.trans_b = true;
        args.m = p.m;
        args.n = p.n;
        args.k = p.k;
        args.a = a.data();
        args.lda = p.k;
        args.b = b.data();
        args.ldb = p.k;
        args.c = c.data();
        args.ldc = p.n;
        const int saved = omp_get_max_threads();
        omp_set_num_threads(threads);
        kernels::gemm(kind.dtype, kind.acc, args);
        omp_set_num_threads(saved);
        const auto* bytes = static_cast<const std::byte*>(c.data());
        results.emplace_back(bytes, bytes + p.m * p.n * int64_t(dtype_size(kind.dtype)));
      }
      EXPECT_TRUE(results[0] == results[1]) << kind_name(kind) << " " << kernels::gemm_variant(kind.dtype, kind.acc)
                                            << " M N K " << p.m << " " << p.n << " " << p.k;
    });
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, GemmKinds, ::testing::ValuesIn(all_kinds()),
                         [](const ::testing::TestParamInfo<Kind>& info) { return kind_name(info.param); });

// fp16 accumulation is one fused multiply-add rounded to fp16 per K step, in K order, whatever
// the tile, the cache blocks and where the partial sums wait between them (C itself when beta is
// 0); blocked fp16 accumulation restarts the fp16 sum at every multiple of 64 in K and adds each
// block to a binary32 total, in K order. With alpha 1 the epilogue is exact for beta 0, and for
// fp16 accumulation also for beta 1 (an fp16 C_old plus an fp16 sum is exact in binary32 unless
// the smaller is below half an fp16 ulp of the larger), so every variant must give the
// reference's bits. The error bound alone cannot see a lost beta * C_old here: with K in the
// hundreds it is larger than C_old. Checked on every shape the other tests use (the avx2 and avx512
// levels emulate fp16 sums in binary32, which must agree bit for bit everywhere), and 61x200x530.
TEST(Gemm, Fp16AccumulationsGiveTheReferenceBitsWithAlphaOne) {
  std::vector<Shape3> shapes(std::begin(kShapes), std::end(kShapes));
  shapes.insert(shapes.end(), std::begin(kThreadShapes), std::end(kThreadShapes));
  shapes.push_back({61, 200, 530});
  for (const Kind& kind : {Kind{DType::f16, Accumulation::f16, {}}, Kind{DType::f16, Accumulation::f16_block, {}}})
  for (const Shape3 shape : shapes) {
    const Problem p = make_problem(kind.dtype, shape.m, shape.n, shape.k, 11);
    for (int t = 0; t < 8; ++t) {
      const bool trans_a = t & 1, trans_b = t & 2;
      const float beta = t & 4 ? 1.0f : 0.0f;
      if (kind.acc == Accumulation::f16_block && beta != 0.0f) continue;  // binary32 total + C_old rounds twice
      std::vector<std::vector<std::byte>> results;
      std::vector<std::string> variants;
      testing::for_each_isa([&](Isa) {
        const std::string variant(kernels::gemm_variant(kind.dtype, kind.acc));
        if (std::find(variants.begin(), variants.end(), variant) != variants.end()) return;  // inherited
        Buffer c = run_gemm(p, kind, trans_a, trans_b, 1.0f, beta);
        const auto* bytes = static_cast<const std::byte*>(c.data());
        results.emplace_back(bytes, bytes + p.m * padded_ldc(p) * int64_t(sizeof(fp16)));
        variants.push_back(variant);
      });
      for (size_t v = 1; v < results.size(); ++v)
        EXPECT_TRUE(results[v] == results[0]) << kind_name(kind) << " " << variants[v] << " vs " << variants[0]
                                              << " trans_a " << trans_a << " trans_b " << trans_b << " beta " << beta
                                              << " M N K " << p.m << " " << p.n << " " << p.k;
    }
  }
}

// One fp16 multiply-add, c + x * y rounded once to fp16, where the exact sum lies just off an
// fp16 midpoint, within half a binary32 ulp of it: rounding the sum to binary32 first lands on
// the midpoint, and the tie then goes to the even neighbour, on the wrong side. With c's last
// bit odd and x * y = (1 + 2^-10)(1 - 2^-10) 2^e = (1 - 2^-20) 2^e, 2^e half of c's ulp, the sum
// is 2^(e-20) short of c's midpoint toward the odd c, and the rounding through binary32 moves it
// to the even neighbour: for c = 1 + 2^-10, 1 + 3 * 2^-11 - 2^-31 gives 1 + 2^-9 instead of c.
// Such cases among normal sums, subnormal ones, and at 65504 (whose even neighbour is infinity).
// Alongside them, exact cancellation (+0, and -0 from a negative sum below half the smallest
// subnormal), overflow past 65504 and infinities (inf - inf is NaN). Op(A) row i is
// (c_i, x_i), op(B) column j is (1, y_j), so C(i, j) = round(c_i + x_i y_j). The expected value
// is computed here in double, where c + x * y is exact or far from every fp16 midpoint, so its
// one rounding to fp16 is the correct one; each variant must give it, and so the reference's bits.
// Also with the pair at K steps 255 and 256, either side of the first K cache block boundary,
// where fp16 partial sums are stored and reloaded (against the reference only: for blocked
// accumulation the pair then lies in two blocks).
TEST(Gemm, Fp16AccumulationRoundsEachSumOnceEvenWhereBinary32WouldRoundTwice) {
  const double inf = std::numeric_limits<double>::infinity();
  const double near_one = 1 - std::ldexp(1.0, -10), above_one = 1 + std::ldexp(1.0, -10);
  const double tiny = std::ldexp(1.0, -24);  // the smallest fp16 subnormal
  std::vector<double> cs = {0.0, inf, -inf, 65504.0, -65504.0, 1023 * tiny, -513 * tiny, 3 * tiny};
  for (int e : {-14, -7, 0, 5, 15})
    for (int odd : {1, 511, 1023})
      for (double sign : {1.0, -1.0}) cs.push_back(sign * std::ldexp(1 + odd * std::ldexp(1.0, -10), e));
  std::vector<double> xs = {1.0, -1.0, 0.0, inf};
  for (int e : {-12, -5, 0, 2})
    for (double sign : {1.0, -1.0}) xs.push_back(sign * std::ldexp(above_one, e));
  std::vector<double> ys = {1.0, -1.0, 0.0, -inf, 16.0, 15.5};
  for (int e = -13; e <= 2; ++e)
    for (double sign : {1.0, -1.0}) ys.push_back(sign * std::ldexp(near_one, e));
  // Cancellation: rows with x = -c meet the column y = 1.
  for (size_t i = 0, count = cs.size(); i < count; ++i)
    if (std::isfinite(cs[i])) xs.push_back(-cs[i]);

  const int64_t m = int64_t(cs.size() * xs.size()), n = int64_t(ys.size());
  std::vector<double> c_of(static_cast<size_t>(m)), x_of(static_cast<size_t>(m));
  for (size_t i = 0; i < size_t(m); ++i) {
    c_of[i] = cs[i / xs.size()];
    x_of[i] = xs[i % xs.size()];
  }
  const auto bits = [](double v) { return from_double<fp16>(v).bits; };
  for (const auto* values : {&cs, &xs, &ys})
    for (double v : *values) ASSERT_EQ(as_double(fp16::from_bits(bits(v))), v) << "not an fp16 value";
  int hard[3] = {};  // sums that rounding through binary32 gets wrong: subnormal c, normal, +-65504
  std::vector<uint16_t> expected(size_t(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double c = c_of[size_t(i)], sum = c + x_of[size_t(i)] * ys[size_t(j)];
      expected[size_t(i * n + j)] = bits(sum);
      if (!std::isnan(sum) && bits(sum) != bits(double(float(sum))))
        ++hard[std::abs(c) < 1024 * tiny ? 0 : std::abs(c) < 65504 ? 1 : 2];
    }
  for (int group : {0, 1, 2})
    ASSERT_GT(hard[group], 0) << "no sum that rounding through binary32 gets wrong in group " << group;

  for (const int64_t offset : {0, 255}) {
    const int64_t k = offset + 2;
    Problem p{m, n, k, std::vector<double>(size_t(m * k)), std::vector<double>(size_t(k * n)),
              std::vector<double>(size_t(m * n)), {}, {}};
    for (int64_t i = 0; i < m; ++i) {
      p.a[size_t(i * p.k + offset)] = c_of[size_t(i)];
      p.a[size_t(i * p.k + offset + 1)] = x_of[size_t(i)];
    }
    for (int64_t j = 0; j < n; ++j) {
      p.b[size_t(offset * n + j)] = 1.0;
      p.b[size_t((offset + 1) * n + j)] = ys[size_t(j)];
    }
    for (Accumulation acc : {Accumulation::f16, Accumulation::f16_block})
    for (int t = 0; t < 4; ++t) {
      const Kind kind{DType::f16, acc, {}};
      const bool trans_a = t & 1, trans_b = t & 2;
      std::vector<uint16_t> reference;
      testing::for_each_isa([&](Isa) {
        const Buffer c = run_gemm(p, kind, trans_a, trans_b, 1.0f, 0.0f);
        std::vector<uint16_t> got(size_t(m * n));
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) got[size_t(i * n + j)] = bits(c.get(i * padded_ldc(p) + j));
        if (reference.empty()) reference = got;
        int64_t wrong = 0;
        std::ostringstream first;
        for (size_t e = 0; e < got.size(); ++e) {
          // Blocked accumulation adds the fp16 sum to a binary32 total from +0, which turns -0 to +0.
          const uint16_t want = offset != 0 ? reference[e]
                                : acc == Accumulation::f16_block && expected[e] == 0x8000 ? uint16_t(0)
                                                                                          : expected[e];
          if (got[e] != want && wrong++ == 0)
            first << "C(" << e / size_t(n) << ", " << e % size_t(n) << ") = " << c_of[e / size_t(n)] << " + "
                  << x_of[e / size_t(n)] << " * " << ys[e % size_t(n)] << ": bits " << std::hex << got[e]
                  << ", expected " << want << std::dec;
        }
        EXPECT_EQ(wrong, 0) << kind_name(kind) << " variant " << kernels::gemm_variant(DType::f16, acc) << " K "
                            << p.k << " trans_a " << trans_a << " trans_b " << trans_b << ": " << first.str();
      });
    }
  }
}

TEST(Gemm, BetaZeroIgnoresNanInC) {
  testing::for_each_isa([&](Isa level) {
    for (const Kind& kind : all_kinds()) {
      const int64_t m = 20, n = 40, k = 10;
      Buffer a(kind.dtype, m * k), b(kind.dtype, k * n), c(kind.dtype, m * n);
      for (int64_t i = 0; i < m * k; ++i) a.set(i, 0.5);
      for (int64_t i = 0; i < k * n; ++i) b.set(i, 0.25);
      for (int64_t i = 0; i < m * n; ++i) c.set(i, std::numeric_limits<double>::quiet_NaN());
      GemmArgs args;
      args.m = m;
      args.n = n;
      args.k = k;
      args.a = a.data();
      args.lda = k;
      args.b = b.data();
      args.ldb = n;
      args.c = c.data();
      args.ldc = n;
      args.alpha = 2.0f;
      kernels::gemm(kind.dtype, kind.acc, args);
      for (int64_t i = 0; i < m * n; ++i)
        ASSERT_EQ(c.get(i), 2.5) << kind_name(kind) << " at level " << kernels::isa_name(level) << ", element " << i;
    }
  });
}

// Two sums of 4096 terms that tell the accumulations apart, which the error bound alone does not:
//  - 4096 ones: fp16 accumulation stalls at 2048 (2048 + 1 rounds back to 2048, in any order of
//    sequential sums); blocks of 64 sum to 64 exactly, so blocked and binary32 reach 4096.
//  - per block of 64, a 1 then 63 terms of 2^-11: in fp16, 1 + 2^-11 is a tie that rounds back
//    to 1, so each block sums to 1 and the fp16 and blocked totals are 64; binary32 keeps them,
//    64 + 4032 * 2^-11 = 65.96875, which fp16 storage rounds (a tie, to even) to 66.
TEST(Gemm, AccumulatesInTheRequestedPrecision) {
  const int64_t m = 3, n = 70, k = 4096;
  std::set<std::string> tested;
  testing::for_each_isa([&](Isa level) {
    for (Accumulation acc : {Accumulation::f16, Accumulation::f16_block, Accumulation::f32})
    for (bool ones : {true, false}) {
      if (!tested.insert(std::string(kernels::gemm_variant(DType::f16, acc)) + kernels::accumulation_name(acc).data() +
                         (ones ? "ones" : "ties"))
               .second)
        continue;
      Buffer a(DType::f16, m * k), b(DType::f16, k * n), c(DType::f16, m * n);
      for (int64_t i = 0; i < m * k; ++i) a.set(i, ones || i % 64 == 0 ? 1.0 : std::ldexp(1.0, -11));
      for (int64_t i = 0; i < k * n; ++i) b.set(i, 1.0);
      GemmArgs args;
      args.m = m;
      args.n = n;
      args.k = k;
      args.a = a.data();
      args.lda = k;
      args.b = b.data();
      args.ldb = n;
      args.c = c.data();
      args.ldc = n;
      kernels::gemm(DType::f16, acc, args);
      const double expected = ones ? (acc == Accumulation::f16 ? 2048.0 : 4096.0) : (acc == Accumulation::f32 ? 66.0 : 64.0);
      for (int64_t i = 0; i < m * n; ++i)
        ASSERT_EQ(c.get(i), expected) << "accumulation " << kernels::accumulation_name(acc) << " variant "
                                      << kernels::gemm_variant(DType::f16, acc) << " at level "
                                      << kernels::isa_name(level) << ", element " << i;
    }
  });
}

TEST(Gemm, RejectsInvalidAccumulation) {
  GemmArgs args;
  args.m = args.n = args.k = 1;
  float a = 1, b = 1, c = 0;
  args.a = &a;
  args.b = &b;
  args.c = &c;
  args.lda = args.ldb = args.ldc = 1;
  EXPECT_THROW(kernels::gemm(DType::f32, Accumulation::f16, args), std::invalid_argument);
  EXPECT_THROW(kernels::gemm(DType::bf16, Accumulation::f16, args), std::invalid_argument);
  EXPECT_THROW(kernels::gemm_variant(DType::f32, Accumulation::f16), std::invalid_argument);
  args.k = -1;
  EXPECT_THROW(kernels::gemm(DType::f32, Accumulation::f32, args), std::invalid_argument);
}

TEST(Gemm, TensorFormChecksShapes) {
  Tensor a = Tensor::from_doubles({1, 2, 3, 4, 5, 6}, {2, 3}, DType::f32);
  Tensor b = Tensor::from_doubles({1, 0, 0, 1, 1, 1}, {3, 2}, DType::f32);
  Tensor c = Tensor::zeros({2, 2}, DType::f32);
  kernels::gemm(c, a, false, b, false, 1.0f, 0.0f, Accumulation::f32);
  EXPECT_EQ(c.to_doubles(), (std::vector<double>{4, 5, 10, 11}));
  // op(A)^T op(B)^T: (3, 2) x (2, 3) -> (3, 3)
  Tensor c33 = Tensor::zeros({3, 3}, DType::f32);
  kernels::gemm(c33, a, true, b, true, 1.0f, 0.0f, Accumulation::f32);
  EXPECT_EQ(c33.to_doubles(), (std::vector<double>{1, 4, 5, 2, 5, 7, 3, 6, 9}));

  Tensor wrong_c = Tensor::zeros({2, 3}, DType::f32);
  EXPECT_THROW(kernels::gemm(wrong_c, a, false, b, false, 1.0f, 0.0f, Accumulation::f32), std::invalid_argument);
  EXPECT_THROW(kernels::gemm(c, a, true, b, false, 1.0f, 0.0f, Accumulation::f32), std::invalid_argument);
  Tensor b16 = Tensor::from_doubles({1, 0, 0, 1, 1, 1}, {3, 2}, DType::f16);
  EXPECT_THROW(kernels::gemm(c, a, false, b16, false, 1.0f, 0.0f, Accumulation::f32), std::invalid_argument);
  Tensor vec = Tensor::zeros({3}, DType::f32);
  EXPECT_THROW(kernels::gemm(c, a, false, vec, false, 1.0f, 0.0f, Accumulation::f32), std::invalid_argument);
}

}  // namespace
}  // namespace pure16
