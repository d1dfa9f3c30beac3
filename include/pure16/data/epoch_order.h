// The order of one epoch, shared by every batch source: which samples this rank sees, and when.
#pragma once

#include <cstdint>
#include <vector>

namespace pure16::data {

/// The dataset indices rank `rank` of `world_size` visits in epoch `epoch`, a pure function of
/// its arguments. With `shuffle`, a Fisher-Yates shuffle of all `size` samples drawn from
/// Philox keyed by seed ^ kShuffleKey (step i uses counter (i, epoch)); without, the natural
/// order. The order does not depend on the rank: rank r takes positions r, r + W, r + 2W, ...
/// of it, so the ranks' shards partition the dataset and their sizes differ by at most one.
///
/// With ShardRemainder::drop, the last size % world_size positions of the order are left out, so
/// every shard holds size / world_size samples: data-parallel training needs every rank to take
/// the same number of steps, or one would wait in a collective the others never start. The
/// samples left out change with the epoch's shuffle. Evaluation keeps them (its only collective
/// follows the pass).
enum class ShardRemainder { keep, drop };
std::vector<int64_t> epoch_order(int64_t size, bool shuffle, uint64_t seed, int64_t epoch, int64_t rank = 0,
                                 int64_t world_size = 1, ShardRemainder remainder = ShardRemainder::keep);

}  // namespace pure16::data
