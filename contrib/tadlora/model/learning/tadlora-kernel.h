// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_KERNEL_H
#define TADLORA_KERNEL_H

/**
 * @file
 * What the hand-written CPU kernels (attention, GELU, layer norm) share. Their innermost loops run
 * over one token's contiguous features; with the width known at compile time they become a few
 * vector instructions, and the reductions are OpenMP SIMD reductions (the compiler may reorder
 * their sums), or, where a kernel adds the lanes of many rows' sums at once, lane sums and a
 * transpose (TransposeBlock) that add them in the order GCC 12 gives such a reduction. On x86-64
 * the clones pick AVX2 with FMA or AVX-512 where the CPU has them.
 */

#if defined(__x86_64__) && defined(__GNUC__)
#define TADLORA_KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TADLORA_KERNEL
#endif

#include <cstdint>
#include <cstring>
#include <utility>

namespace tadlora
{

/**
 * Pieces of a row that a kernel sums in vector registers: GCC generic vectors of one register
 * each, 16 floats (AVX-512) or 8 (AVX2). GCC 12 keeps a generic vector wider than the target's
 * registers in memory, and the AVX2 clones of kernels summing in 16-float vectors moved every
 * sum through the stack at every term (doc/performance-history.md); in 8-float pieces the AVX-512
 * clones trained about 5% slower (medians of seven interleaved pairs). So such kernels are
 * instantiated for both and called with WidePieces()'s. Pitfalls of GCC 12: a vector type declared
 * inside a template with a size that depends on a template parameter is silently a plain float
 * (hence a type parameter); and a helper that is not inlined into a kernel clone is compiled for
 * baseline x86-64 (SSE), hence always_inline helpers.
 */
using Piece16 = float __attribute__((vector_size(16 * sizeof(float))));
using Piece8 = float __attribute__((vector_size(8 * sizeof(float))));

/** @return floats in a piece of type Piece */
template<typename Piece>
constexpr int
Lanes()
{
    return sizeof(Piece) / sizeof(float);
}

/**
 * One stage of a transpose of a square block of rows, each a Piece (recursive halving: the stage
 * of half h swaps, in every pair of rows i and i + h with i & h = 0, the lanes of i with
 * lane & h != 0 and those of i + h with lane & h = 0). Stages h = L/2, ..., 2, 1 transpose it.
 */
template<int kHalf, typename Piece, size_t... kLane>
__attribute__((always_inline)) inline void
TransposeStage(Piece* rows, std::index_sequence<kLane...>)
{
    constexpr int kLanes = Lanes<Piece>();
    for (int i = 0; i < kLanes; ++i)
    {
        if ((i & kHalf) == 0)
        {
            const Piece a = rows[i];
            const Piece b = rows[i + kHalf];
            rows[i] = __builtin_shufflevector(
                a, b, ((kLane & kHalf) == 0 ? kLane : kLanes + kLane - kHalf)...);
            rows[i + kHalf] = __builtin_shufflevector(
                a, b, ((kLane & kHalf) == 0 ? kLane + kHalf : kLanes + kLane)...);
        }
    }
}

/** rows[i][c] becomes rows[c][i]: a square block of Lanes<Piece>() rows, transposed */
template<typename Piece>
__attribute__((always_inline)) inline void
TransposeBlock(Piece* rows)
{
    constexpr int kLanes = Lanes<Piece>();
    constexpr auto lanes = std::make_index_sequence<kLanes>();
    if constexpr (kLanes == 16)
    {
        TransposeStage<8>(rows, lanes);
    }
    TransposeStage<4>(rows, lanes);
    TransposeStage<2>(rows, lanes);
    TransposeStage<1>(rows, lanes);
}

/**
 * out[r] = the sum of row r's lanes for a block of Lanes<Piece>() rows, given each row's lane
 * sums (sums[r] lane l: row r's lane l): each row's lanes added from lane 0 up, the order GCC 12
 * gives an OpenMP reduction's lanes, for all rows at once after a transpose (sums is
 * overwritten)
 */
template<typename Piece>
__attribute__((always_inline)) inline void
RowSums(Piece* sums, float* __restrict out)
{
    TransposeBlock(sums); // sums[l]: lane l of every row's
    Piece total = {};
    for (int l = 0; l < Lanes<Piece>(); ++l)
    {
        total += sums[l];
    }
    std::memcpy(out, &total, sizeof(total));
}

/**
 * sums[r] = sum_c x[r xStep + c] rows[r rowsStep + c stride, ... + kWidth) for r < kRows:
 * kRows row combinations side by side (each `count` rows of kWidth floats, stride apart, weighted
 * and added from c = 0 up, in kWidth / Lanes<Piece>() vector registers: a row-vector times matrix
 * product, or a rank-r term), so that their chains of products run at once
 */
template<int kWidth, int kRows, typename Piece>
__attribute__((always_inline)) inline void
RowCombinations(int64_t count, const float* __restrict x, int64_t xStep,
                const float* __restrict rows, int64_t rowsStep, int64_t stride,
                Piece (*sums)[kWidth / Lanes<Piece>()])
{
    constexpr int kLanes = Lanes<Piece>();
    for (int r = 0; r < kRows; ++r)
    {
        for (int p = 0; p < kWidth / kLanes; ++p)
        {
            sums[r][p] = Piece{};
        }
    }
    for (int64_t c = 0; c < count; ++c)
    {
        for (int r = 0; r < kRows; ++r)
        {
            const float xc = x[r * xStep + c];
            for (int p = 0; p < kWidth / kLanes; ++p)
            {
                Piece row;
                std::memcpy(&row, rows + r * rowsStep + c * stride + p * kLanes, sizeof(row));
                sums[r][p] += xc * row;
            }
        }
    }
}

/** sums = sum_c x[c] rows[c stride, c stride + kWidth): one row combination (RowCombinations) */
template<int kWidth, typename Piece>
__attribute__((always_inline)) inline void
RowCombination(int64_t count, const float* __restrict x, const float* __restrict rows,
               int64_t stride, Piece* sums)
{
    RowCombinations<kWidth, 1>(count, x, 0, rows, 0, stride,
                               reinterpret_cast<Piece(*)[kWidth / Lanes<Piece>()]>(sums));
}

/** @return whether the CPU runs the kernels' AVX-512 clones, which sum in Piece16 */
inline bool
WidePieces()
{
#if defined(__x86_64__) && defined(__GNUC__)
    static const bool wide = __builtin_cpu_supports("x86-64-v4");
    return wide;
#else
    return false;
#endif
}

/** @return kernel<Piece16> where WidePieces(), else kernel<Piece8> */
template<typename Kernel>
Kernel
ForPieces(Kernel wide, Kernel narrow)
{
    return WidePieces() ? wide : narrow;
}

/** @return special, the kernel compiled for kWidth features, at that width, else generic */
template<int64_t kWidth, typename Kernel>
Kernel
ForWidth(int64_t width, Kernel special, Kernel generic)
{
    return width == kWidth ? special : generic;
}

} // namespace tadlora

#endif // TADLORA_KERNEL_H
