// What every typed SIMD wrapper (simd_avx2.h, simd_avx512.h) provides, so that a kernel body
// written once as a template over the wrapper compiles for each ISA.
//
// A wrapper is a struct S of static functions over three types: S::F (float lanes), S::I
// (32-bit integer lanes) and S::M (a lane mask), with S::lanes lanes. Memory is float, fp16
// or bf16 and always holds whole elements:
//   load(p, count) / store(p, v, count)      value of each element in a float lane; stores
//                                            round to nearest even (fp16 by F16C, bf16 by
//                                            integer rounding), a NaN stays NaN and turns quiet
//   load_bits(p, count) / store_bits(...)    raw bits of each element, zero-extended to 32 bits
//   load_u32(p, count)                       32-bit words
//   store_u32_interleaved4(p, a, b, c, d)    p[4 j + k] = lane j of the k-th vector (4 * lanes words)
// where count is Full{} (S::lanes elements) or Partial{n} (the first n < S::lanes; the other
// lanes read as zero and are not written), so loop tails run the same code as the body.
// Arithmetic maps one-to-one onto instructions (add, mul, div, sqrt, fma, max, compare, select, integer
// shifts...); each function's comment says where lanes could differ from scalar C++.
#pragma once

namespace pure16::kernels::simd {

struct Full {};
struct Partial {
  int n;  // 0 < n < lanes
};

// Helpers written once over any wrapper S; the wrappers' stores call them.

/// bfloat16 bits (in the low half of each lane) of v rounded to nearest even: adding
/// 0x7fff plus the kept lsb carries into the kept half exactly when the dropped half is over
/// one half, or one half with an odd kept part; overflow carries into infinity. NaN keeps its
/// sign and top payload bits and is made quiet, as detail::round_binary does.
template <class S>
typename S::I bf16_bits_rne(typename S::F v) {
  const typename S::I bits = S::as_int(v);
  const typename S::I high = S::template srl<16>(bits);
  const typename S::I lsb = S::iand(high, S::iset1(1));
  const typename S::I rounded = S::template srl<16>(S::iadd(S::iadd(bits, S::iset1(0x7fff)), lsb));
  return S::iselect(S::is_nan(v), S::ior(high, S::iset1(0x40)), rounded);
}

/// v with every NaN made quiet (top mantissa bit set), as a scalar float -> double -> float
/// round trip does; other values unchanged.
template <class S>
typename S::F quiet(typename S::F v) {
  return S::select(S::is_nan(v), S::as_float(S::ior(S::as_int(v), S::iset1(0x00400000u))), v);
}

/// Loads and stores of the first n elements (all when n >= S::lanes), for code that counts lanes
/// with an int: the GEMM's packing and epilogue vectors (F32x8, F32x16) take theirs from here, so
/// each ISA's masked moves and bf16 rounding are written once, in its wrapper.
template <class S>
struct CountedMoves {
  template <class T>
  static typename S::F load(const T* p, int n) {
    return n >= S::lanes ? S::load(p, Full{}) : S::load(p, Partial{n});
  }
  template <class T>
  static void store(T* p, typename S::F v, int n) {
    if (n >= S::lanes) return S::store(p, v, Full{});
    S::store(p, v, Partial{n});
  }
};

}  // namespace pure16::kernels::simd
