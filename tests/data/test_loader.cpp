// Loader: epoch order, batching, sharding across ranks, dtype conversion and validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "pure16/data/loader.h"

namespace pure16::data {
namespace {

// n samples of shape {2, 3}; sample i holds i + j / 8 (exact in fp16 for i < 256)
// and label i % classes.
Dataset make_dataset(int64_t n, int64_t classes = 5) {
  Dataset d;
  d.name = "loader-test";
  d.sample_shape = {2, 3};
  d.num_classes = classes;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < 6; ++j) d.inputs.push_back(float(i) + float(j) / 8);
    d.labels.push_back(int32_t(i % classes));
  }
  return d;
}

// The dataset indices of one epoch, batch after batch.
std::vector<int64_t> epoch_order(Loader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<int64_t> order;
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    const std::vector<int64_t> indices = loader.batch_indices(b);
    order.insert(order.end(), indices.begin(), indices.end());
  }
  return order;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), int64_t(0));
  return v;
}

TEST(Loader, NaturalOrderWithoutShuffle) {
  const Dataset d = make_dataset(103);
  Loader loader(d, 10, false, 123);
  EXPECT_EQ(loader.shard_size(), 103);
  EXPECT_EQ(loader.num_batches(), 11);
  EXPECT_EQ(epoch_order(loader, 0), iota(103));
  EXPECT_EQ(epoch_order(loader, 5), iota(103));  // the epoch does not matter without shuffle
}

TEST(Loader, EverySampleOncePerEpochAndLastPartialBatchKept) {
  const Dataset d = make_dataset(103);
  Loader loader(d, 10, true, 7);
  EXPECT_EQ(loader.num_batches(), 11);
  for (int64_t epoch = 0; epoch < 4; ++epoch) {
    loader.start_epoch(epoch);
    std::vector<int64_t> seen;
    for (int64_t b = 0; b < loader.num_batches(); ++b) {
      const Batch batch = loader.batch(b, DType::f32);
      const int64_t rows = b + 1 < loader.num_batches() ? 10 : 3;
      ASSERT_EQ(batch.inputs.shape(), (Shape{rows, 2, 3}));
      ASSERT_EQ(int64_t(batch.labels.size()), rows);
      // The sample index can be read back from its first input value.
      const float* x = batch.inputs.data<float>();
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t sample = int64_t(x[r * 6]);
        EXPECT_EQ(batch.labels[size_t(r)], sample % 5);
        seen.push_back(sample);
      }
    }
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, iota(103)) << "epoch " << epoch;
  }
  // Batch size equal to, and larger than, the dataset.
  EXPECT_EQ(Loader(d, 103, true, 7).num_batches(), 1);
  Loader big(d, 1000, true, 7);
  EXPECT_EQ(big.num_batches(), 1);
  EXPECT_EQ(big.batch(0, DType::f16).inputs.shape(), (Shape{103, 2, 3}));
}

TEST(Loader, OrderIsAPureFunctionOfSeedAndEpoch) {
  const Dataset d = make_dataset(200);
  Loader a(d, 16, true, 99), b(d, 16, true, 99), other_seed(d, 16, true, 100);
  const std::vector<int64_t> a0 = epoch_order(a, 0), a1 = epoch_order(a, 1);
  EXPECT_NE(a0, iota(200));
  EXPECT_NE(a0, a1);
  EXPECT_EQ(epoch_order(b, 1), a1);  // a fresh loader, jumping straight to epoch 1
  EXPECT_EQ(epoch_order(b, 0), a0);  // and back
  EXPECT_EQ(epoch_order(a, 0), a0);
  EXPECT_NE(epoch_order(other_seed, 0), a0);
  // A new loader starts at epoch 0.
  Loader fresh(d, 16, true, 99);
  EXPECT_EQ(fresh.epoch(), 0);
  EXPECT_EQ(fresh.batch_indices(0), std::vector<int64_t>(a0.begin(), a0.begin() + 16));
  // The batch size cuts the same order differently.
  Loader c(d, 7, true, 99);
  EXPECT_EQ(epoch_order(c, 1), a1);
}

TEST(Loader, ShuffleLooksUniform) {
  // Over 2000 epochs the first position holds each of 10 samples about 200 times.
  const Dataset d = make_dataset(10);
  Loader loader(d, 4, true, 3);
  std::vector<int> first(10, 0);
  for (int64_t epoch = 0; epoch < 2000; ++epoch) {
    loader.start_epoch(epoch);
    ++first[size_t(loader.batch_indices(0)[0])];
  }
  for (int count : first) {
    EXPECT_GT(count, 200 - 5 * 14);  // binomial(2000, 0.1): sd 13.4
    EXPECT_LT(count, 200 + 5 * 14);
  }
}

TEST(Loader, ShardsPartitionTheData) {
  const Dataset d = make_dataset(103);
  for (bool shuffle : {false, true}) {
    for (int64_t world = 1; world <= 6; ++world) {
      SCOPED_TRACE("shuffle " + std::to_string(shuffle) + ", world size " + std::to_string(world));
      Loader whole(d, 8, shuffle, 5);
      const std::vector<int64_t> full = epoch_order(whole, 3);
      std::vector<int64_t> all;
      int64_t total = 0;
      for (int64_t rank = 0; rank < world; ++rank) {
        Loader shard(d, 8, shuffle, 5, rank, world);
        const std::vector<int64_t> order = epoch_order(shard, 3);
        EXPECT_EQ(shard.shard_size(), int64_t(order.size()));
        EXPECT_EQ(shard.num_batches(), (shard.shard_size() + 7) / 8);
        // Strided: rank r holds positions r, r + W, ... of the epoch's full order.
        const int64_t expected_size = (103 - rank + world - 1) / world;
        ASSERT_EQ(shard.shard_size(), expected_size);
        for (int64_t k = 0; k < expected_size; ++k) EXPECT_EQ(order[size_t(k)], full[size_t(rank + k * world)]);
        all.insert(all.end(), order.begin(), order.end());
        total += shard.shard_size();
      }
      EXPECT_EQ(total, 103);
      std::sort(all.begin(), all.end());
      EXPECT_EQ(all, iota(103));  // disjoint and complete
    }
  }
}

// Data-parallel training: with the remainder dropped, every rank has the same number of samples
// and batches (one more batch on some rank would leave it alone in a collective), the shards stay
// disjoint, the samples left out are size % W, and global batch k of W ranks is batch k of one
// rank with W times the batch (the samples of one step do not depend on how many ranks share it).
TEST(Loader, DroppedRemainderGivesEqualShards) {
  const Dataset d = make_dataset(103);
  for (int64_t world : {2, 3, 4, 7}) {
    const int64_t batch = 5;
    Loader whole(d, batch * world, true, 11);
    whole.start_epoch(2);
    std::set<int64_t> seen;
    for (int64_t r = 0; r < world; ++r) {
      Loader shard(d, batch, true, 11, r, world, ShardRemainder::drop);
      shard.start_epoch(2);
      EXPECT_EQ(shard.shard_size(), 103 / world) << "rank " << r << " of " << world;
      EXPECT_EQ(shard.num_batches(), (103 / world + batch - 1) / batch);
      for (int64_t b = 0; b < shard.num_batches(); ++b) {
        const std::vector<int64_t> mine = shard.batch_indices(b);
        for (int64_t i : mine) EXPECT_TRUE(seen.insert(i).second) << "sample " << i << " on two ranks";
        if (b + 1 < shard.num_batches()) {
          const std::vector<int64_t> global = whole.batch_indices(b);
          for (size_t j = 0; j < mine.size(); ++j) EXPECT_EQ(mine[j], global[j * size_t(world) + size_t(r)]);
        }
      }
      Loader kept(d, batch, true, 11, r, world);
      EXPECT_EQ(kept.shard_size(), 103 / world + (r < 103 % world ? 1 : 0));
    }
    EXPECT_EQ(int64_t(seen.size()), 103 - 103 % world);
  }
}

TEST(Loader, ConvertsBatchesToTheRequestedDtype) {
  // Values that need rounding: 1/3 and neighbours of fp16 and bf16 ties.
  Dataset d;
  d.name = "rounding";
  d.sample_shape = {4};
  d.num_classes = 2;
  d.inputs = {1.0f / 3.0f, 1.0f + 0x1.0p-11f, 1.0f + 0x1.8p-10f, 1.0f + 0x1.0p-8f,
              -65519.0f, 65520.0f * 2, 0x1.0p-25f, 0x1.8p-24f};
  d.labels = {0, 1};
  Loader loader(d, 2, false, 0);
  const Batch f32 = loader.batch(0, DType::f32);
  const Batch f16 = loader.batch(0, DType::f16);
  const Batch bf = loader.batch(0, DType::bf16);
  const Batch f64 = loader.batch(0, DType::f64);
  for (const Batch* b : {&f32, &f16, &bf, &f64}) {
    EXPECT_EQ(b->inputs.shape(), (Shape{2, 4}));
    EXPECT_EQ(b->labels, (std::vector<int32_t>{0, 1}));
  }
  EXPECT_EQ(f16.inputs.dtype(), DType::f16);
  EXPECT_EQ(bf.inputs.dtype(), DType::bf16);
  for (size_t i = 0; i < d.inputs.size(); ++i) {
    EXPECT_EQ(f32.inputs.data<float>()[i], d.inputs[i]);
    EXPECT_EQ(f64.inputs.data<double>()[i], double(d.inputs[i]));
    EXPECT_EQ(f16.inputs.data<fp16>()[i].bits, to_fp16(d.inputs[i]).bits) << "element " << i;
    EXPECT_EQ(bf.inputs.data<bf16>()[i].bits, to_bf16(d.inputs[i]).bits) << "element " << i;
  }
  // Spot checks of round-to-nearest-even, independent of to_fp16.
  const fp16* h = f16.inputs.data<fp16>();
  EXPECT_EQ(h[0].bits, 0x3555);  // 1/3
  EXPECT_EQ(h[1].bits, 0x3c00);  // tie, to even
  EXPECT_EQ(h[2].bits, 0x3c02);  // tie, to even
  EXPECT_EQ(h[4].bits, 0xfbff);  // -65519 -> -65504
  EXPECT_EQ(h[5].bits, 0x7c00);  // overflow to inf
  EXPECT_EQ(h[6].bits, 0x0000);  // 2^-25: tie between 0 and 2^-24
  EXPECT_EQ(h[7].bits, 0x0002);  // 1.5 * 2^-24 ties to 2 * 2^-24
  EXPECT_EQ(bf.inputs.data<bf16>()[3].bits, 0x3f80);  // 1 + 2^-8 ties to 1
}

TEST(Loader, ValuesOfShuffledBatchesMatchTheirSamples) {
  const Dataset d = make_dataset(50);
  Loader loader(d, 6, true, 11);
  loader.start_epoch(2);
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    const Batch half = loader.batch(b, DType::f16);
    const Batch brain = loader.batch(b, DType::bf16);
    const std::vector<int64_t> indices = loader.batch_indices(b);
    for (size_t r = 0; r < indices.size(); ++r)
      for (int64_t j = 0; j < 6; ++j) {
        const float x = d.inputs[size_t(indices[r] * 6 + j)];
        EXPECT_EQ(half.inputs.item(int64_t(r) * 6 + j), x);  // exact in fp16
        EXPECT_EQ(brain.inputs.item(int64_t(r) * 6 + j), to_float(to_bf16(x)));
      }
  }
}

TEST(Loader, EmptyDataset) {
  const Dataset d = make_dataset(0);
  Loader loader(d, 4, true, 1);
  EXPECT_EQ(loader.shard_size(), 0);
  EXPECT_EQ(loader.num_batches(), 0);
  EXPECT_THROW(loader.batch(0, DType::f32), std::out_of_range);
  // More ranks than samples: some shards are empty.
  const Dataset two = make_dataset(2);
  EXPECT_EQ(Loader(two, 4, false, 1, 3, 4).shard_size(), 0);
  EXPECT_EQ(Loader(two, 4, false, 1, 1, 4).shard_size(), 1);
}

TEST(Loader, RejectsBadArguments) {
  const Dataset d = make_dataset(10);
  EXPECT_THROW(Loader(d, 0, false, 0), std::invalid_argument);
  EXPECT_THROW(Loader(d, -3, false, 0), std::invalid_argument);
  EXPECT_THROW(Loader(d, 4, false, 0, -1, 2), std::invalid_argument);
  EXPECT_THROW(Loader(d, 4, false, 0, 2, 2), std::invalid_argument);
  EXPECT_THROW(Loader(d, 4, false, 0, 0, 0), std::invalid_argument);
  Loader loader(d, 4, false, 0);
  EXPECT_THROW(loader.batch(-1, DType::f16), std::out_of_range);
  EXPECT_THROW(loader.batch(3, DType::f16), std::out_of_range);
  EXPECT_NO_THROW(loader.batch(2, DType::f16));
}

// Expects the Loader constructor to reject `d` with std::invalid_argument whose message
// contains every string of `parts`.
void expect_rejected(const Dataset& d, const std::vector<std::string>& parts) {
  try {
    Loader loader(d, 4, true, 0);
    ADD_FAILURE() << "Loader accepted the dataset";
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
  }
}

TEST(Loader, RejectsNonFiniteInputs) {
  Dataset d = make_dataset(20);
  d.inputs[7 * 6 + 4] = std::numeric_limits<float>::quiet_NaN();
  expect_rejected(d, {"loader-test", "sample 7", "nan"});
  d = make_dataset(20);
  d.inputs[19 * 6] = -std::numeric_limits<float>::infinity();
  expect_rejected(d, {"loader-test", "sample 19", "inf"});
}

TEST(Loader, RejectsInconsistentDatasets) {
  Dataset d = make_dataset(20);
  d.labels[3] = 5;
  expect_rejected(d, {"loader-test", "sample 3", "label 5"});
  d.labels[3] = -1;
  expect_rejected(d, {"loader-test", "sample 3", "label -1"});
  d = make_dataset(20);
  d.inputs.pop_back();
  expect_rejected(d, {"loader-test", "119 input values for 20 samples"});
}

}  // namespace
}  // namespace pure16::data
