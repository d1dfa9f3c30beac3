// Who draws which random bits. Every random number in a run is a Philox4x32 word, a pure
// function of (key, counter), so it does not depend on threads, chunking or the order of draws.
// The purposes below never share a (key, counter) pair, so no two of them can see the same bits:
//
//   purpose            key                  counter high 64 bits            counter low 64 bits
//   weight init        seed                 stream(weight_init, 0)          arena element / 2
//   buffer init        seed                 stream(buffer_init, 0)          arena element / 2
//   weight rounding    seed                 stream(weight_rounding, step)   arena element / 4
//   momentum rounding  seed                 stream(momentum_rounding, step) arena element / 4
//   Adam's m rounding  seed                 stream(exp_avg_rounding, step)  arena element / 4
//   Adam's s rounding  seed                 stream(exp_avg_sq_rounding, step) arena element / 4
//   dropout            dropout_key(seed, rank) stream(dropout, step, layer) element / 4
//   data order         seed ^ kShuffleKey   epoch                           position in the epoch
//   augmentation       seed ^ kAugmentKey   epoch, sample's draw            sample
//
// The stream of a keyed-by-seed purpose puts the purpose in bits 56-63, a unit number (the
// dropout layer) in bits 40-55 and the optimizer step in bits 0-39.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace pure16 {

enum class RandomPurpose : uint64_t {
  weight_init = 1,
  buffer_init = 2,
  weight_rounding = 3,
  momentum_rounding = 4,
  dropout = 5,
  exp_avg_rounding = 6,     // Adam's first moment
  exp_avg_sq_rounding = 7,  // Adam's second moment (its square root, safe)
};

constexpr uint64_t kMaxRandomStep = (uint64_t(1) << 40) - 1;
constexpr uint64_t kMaxRandomUnit = 0xffff;

/// The counter's high 64 bits (Philox4x32::word's `stream`) for `purpose` at `step`, for `unit`.
/// Throws std::out_of_range past 2^40 steps or 2^16 units, where streams would wrap into others.
constexpr uint64_t random_stream(RandomPurpose purpose, uint64_t step, uint64_t unit = 0) {
  if (step > kMaxRandomStep) throw std::out_of_range("random stream: step " + std::to_string(step) + " is past 2^40");
  if (unit > kMaxRandomUnit) throw std::out_of_range("random stream: unit " + std::to_string(unit) + " is past 2^16");
  return uint64_t(purpose) << 56 | unit << 40 | step;
}

/// The key of rank `rank`'s dropout masks in a data-parallel run: the seed on rank 0 (so one
/// process draws what it always drew), the seed xor an odd multiple of the rank elsewhere, so
/// every rank drops other units of its own samples. Only dropout is keyed by it; every other
/// stream is the same on all ranks, which is what keeps their weights bitwise equal.
constexpr uint64_t dropout_key(uint64_t seed, int64_t rank) {
  return seed ^ (0x9e3779b97f4a7c15ull * uint64_t(rank));
}

/// Keys of the data pipeline's draws: the seed xor these, so they differ from every seed-keyed
/// stream above.
constexpr uint64_t kShuffleKey = 0x53485546464c4531ull;  // "SHUFFLE1"
constexpr uint64_t kAugmentKey = 0x4155474d454e5431ull;  // "AUGMENT1"

}  // namespace pure16
