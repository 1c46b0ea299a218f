// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-attention.h"

#include "tadlora-exp.h"
#include "tadlora-kernel.h"
#include "tadlora-parallel.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

namespace tadlora
{

namespace
{

/** @brief Shapes of a batch: B sequences, each Sq queries against Sk keys of dh features. */
struct Sizes
{
    int64_t sequences; //!< B
    int64_t queries;   //!< Sq
    int64_t keys;      //!< Sk
    int64_t features;  //!< dh
};

/**
 * @brief Where a tensor [G, N, S, heads x dh] keeps sequence b = (g, n, head) of the batch's
 * G x N x heads: token j's dh features start at Base(b) + j token, contiguous. A tensor shared
 * by every model (G = 1 where others have G) has gStride 0. Reading the projections' own
 * layout saves the copies to [G, N, heads, S, dh] and back.
 */
struct Layout
{
    int64_t gStride;    //!< between models (0: shared)
    int64_t nStride;    //!< between samples
    int64_t token;      //!< between tokens
    int64_t samples;    //!< N
    int64_t heads;      //!< sequences per token row
    int64_t headStride; //!< between heads: dh, or 0 when every head reads the same features

    int64_t Base(int64_t b) const
    {
        const int64_t row = b / heads; // g N + n
        return row / samples * gStride + row % samples * nStride + b % heads * headStride;
    }
};

// Every innermost loop below runs over the dh features of one token (the default model's 16:
// kD > 0 fixes it at compile time).

/** The head width the kernels are compiled for: the default model's 16. */
constexpr int kHeadWidth = 16;

/**
 * The width the class-token attention's queries and values have in the default model
 * (ClassTokenAttention in tadlora-transformer.cc: each head's query mapped back to the model's
 * 64 features).
 */
constexpr int kModelWidth = 64;

/** Sequences of at most this many keys keep a row of scores in vector registers. */
constexpr int64_t kRegisterKeys = 32;

/**
 * out[t] = sum_f weight(t, f) y[f] for the output tokens t < to over the source tokens f < from,
 * each of kD features (y's tokens yStride apart, out's outStride), summed from f = 0 up as a
 * plain loop would. Several output tokens at a time, in registers: one token's sum is a chain of
 * dependent FMAs, four are independent (1.2 times faster in evaluation's attention); as many as
 * 16 registers hold (four of kHeadWidth features, two or four of kModelWidth).
 */
template<int kD, typename Piece, typename Weight>
__attribute__((always_inline)) inline void // into each kernel clone, compiled for its target
WeightedRows(int64_t to, int64_t from, Weight weight, const float* __restrict y, int64_t yStride,
             float* __restrict out, int64_t outStride)
{
    constexpr int kLanes = Lanes<Piece>();
    constexpr int kPieces = kD / kLanes;
    constexpr int kRows = std::min(4, 16 / kPieces);
    for (int64_t t = 0; t < to; t += kRows)
    {
        // Past the last token, the last again (computed, not stored).
        int64_t rows[kRows];
        for (int r = 0; r < kRows; ++r)
        {
            rows[r] = std::min(t + r, to - 1);
        }
        Piece sums[kRows][kPieces] = {};
        for (int64_t f = 0; f < from; ++f)
        {
            float w[kRows];
            for (int r = 0; r < kRows; ++r)
            {
                w[r] = weight(rows[r], f);
            }
            for (int p = 0; p < kPieces; ++p)
            {
                Piece source;
                std::memcpy(&source, y + f * yStride + p * kLanes, sizeof(source));
                for (int r = 0; r < kRows; ++r)
                {
                    sums[r][p] += w[r] * source;
                }
            }
        }
        for (int64_t r = 0; r < kRows && t + r < to; ++r)
        {
            std::memcpy(out + (t + r) * outStride, sums[r], sizeof(sums[r]));
        }
    }
}

/** largest = the larger of largest and v, lane by lane (vmaxps) */
template<typename Vector>
__attribute__((always_inline)) inline void
Raise(Vector& largest, const Vector& v)
{
    largest = v > largest ? v : largest;
}

using Piece4 = float __attribute__((vector_size(4 * sizeof(float))));

/** @return the largest lane of v: a tree of maxima, not a chain through one register */
__attribute__((always_inline)) inline float
LargestLane(const Piece4& v)
{
    return std::max(std::max(v[0], v[1]), std::max(v[2], v[3]));
}

/** @return low and high halves of v, each of type Half */
template<typename Half, typename Vector>
__attribute__((always_inline)) inline std::array<Half, 2>
Halves(const Vector& v)
{
    static_assert(2 * sizeof(Half) == sizeof(Vector));
    std::array<Half, 2> halves;
    std::memcpy(halves.data(), &v, sizeof(v));
    return halves;
}

__attribute__((always_inline)) inline float
LargestLane(const Piece8& v)
{
    auto [low, high] = Halves<Piece4>(v);
    Raise(low, high);
    return LargestLane(low);
}

__attribute__((always_inline)) inline float
LargestLane(const Piece16& v)
{
    auto [low, high] = Halves<Piece8>(v);
    Raise(low, high);
    return LargestLane(low);
}

/**
 * @return the largest of v[0, n), in pieces of 8 floats. The maximum is exact in any order; GCC 12
 * left `#pragma omp simd reduction(max)` over std::max a scalar chain of vmaxss, one per element,
 * each waiting for the one before (37% of the fused attention's perf samples in evaluation).
 */
__attribute__((always_inline)) inline float
Largest(const float* __restrict v, int64_t n)
{
    Piece8 largest = Piece8{} - std::numeric_limits<float>::infinity();
    int64_t j = 0;
    for (; j + Lanes<Piece8>() <= n; j += Lanes<Piece8>())
    {
        Piece8 piece;
        std::memcpy(&piece, v + j, sizeof(piece));
        Raise(largest, piece);
    }
    float result = LargestLane(largest);
    for (; j < n; ++j)
    {
        result = std::max(result, v[j]);
    }
    return result;
}

/**
 * columns[c width + j] = feature c of token j: a sequence's s tokens (token apart), transposed.
 * Blocks of Lanes x Lanes by vector shuffles in registers, the tokens past the last whole block
 * one feature at a time (element by element, the transpose was 1.9% of training's time).
 */
template<typename Piece>
__attribute__((always_inline)) inline void
Transpose(const float* __restrict y, int64_t token, int64_t s, int64_t d, int64_t width,
          float* __restrict columns)
{
    constexpr int kLanes = Lanes<Piece>();
    int64_t blocked = 0; // tokens transposed in blocks
    if (d % kLanes == 0)
    {
        for (; blocked + kLanes <= s; blocked += kLanes)
        {
            for (int64_t c0 = 0; c0 < d; c0 += kLanes)
            {
                Piece rows[kLanes];
                for (int t = 0; t < kLanes; ++t)
                {
                    std::memcpy(&rows[t], y + (blocked + t) * token + c0, sizeof(Piece));
                }
                TransposeBlock(rows);
                for (int c = 0; c < kLanes; ++c)
                {
                    std::memcpy(columns + (c0 + c) * width + blocked, &rows[c], sizeof(Piece));
                }
            }
        }
    }
    for (int64_t j = blocked; j < s; ++j)
    {
        for (int64_t c = 0; c < d; ++c)
        {
            columns[c * width + j] = y[j * token + c];
        }
    }
}

/**
 * @return per piece of a row of kRegisterKeys scores, 0 for the lanes of the s keys and -inf past
 * them: added to a row, the lanes past the keys (zero columns, scores 0) drop out of its maximum
 */
template<typename Piece>
__attribute__((always_inline)) inline std::array<Piece, kRegisterKeys / Lanes<Piece>()>
KeyPadding(int64_t s)
{
    std::array<Piece, kRegisterKeys / Lanes<Piece>()> padding{};
    for (int64_t j = s; j < kRegisterKeys; ++j)
    {
        padding[j / Lanes<Piece>()][j % Lanes<Piece>()] = -std::numeric_limits<float>::infinity();
    }
    return padding;
}

/**
 * One sequence's scores: scores[i s + j] = scale x_i . y_j for its queries (x_i token apart) and
 * s keys, given the keys transposed (Transpose, columns of width); with shift, each row less its
 * maximum (what softmax subtracts before exp). sum: width floats of scratch.
 *
 * A row of scores is a sum over the features of x's feature times y's feature column: with y
 * transposed, each term is a vector operation over the keys, with no horizontal sums. The
 * columns are padded with zeros to kRegisterKeys when the keys fit (kKeys), so that the row is
 * summed in registers.
 */
template<int kD, int64_t kKeys, typename Piece>
__attribute__((always_inline)) inline void
SequenceScores(int64_t queries, int64_t s, int64_t d, float scale, bool shift,
               const float* __restrict x, int64_t token, const float* __restrict columns,
               int64_t width, const Piece* padding, float* __restrict sum, float* __restrict scores)
{
    for (int64_t i = 0; i < queries; ++i)
    {
        const float* xi = x + i * token;
        float max = 0; // with shift, the row's largest score
        if constexpr (kKeys > 0)
        {
            static_assert(kKeys == kRegisterKeys && kD == kHeadWidth);
            constexpr int kLanes = Lanes<Piece>();
            constexpr int kKeyPieces = kRegisterKeys / kLanes;
            Piece row[kKeyPieces] = {};
            for (int64_t c = 0; c < kD; ++c)
            {
                const float xc = xi[c] * scale;
                for (int p = 0; p < kKeyPieces; ++p)
                {
                    Piece column;
                    std::memcpy(&column, columns + c * kKeys + p * kLanes, sizeof(column));
                    row[p] += xc * column;
                }
            }
            std::memcpy(sum, row, sizeof(row));
            if (shift)
            {
                // The largest of the row's first s lanes, in registers.
                Piece largest = row[0] + padding[0];
                for (int p = 1; p < kKeyPieces; ++p)
                {
                    Raise(largest, row[p] + padding[p]);
                }
                max = LargestLane(largest);
            }
        }
        else
        {
            std::fill(sum, sum + width, 0.0f);
            for (int64_t c = 0; c < d; ++c)
            {
                const float xc = xi[c] * scale;
                const float* column = columns + c * width;
#pragma omp simd
                for (int64_t j = 0; j < width; ++j)
                {
                    sum[j] += xc * column[j];
                }
            }
            if (shift)
            {
                max = Largest(sum, s);
            }
        }
        float* row = scores + i * s;
        for (int64_t j = 0; j < s; ++j)
        {
            row[j] = sum[j] - max;
        }
    }
}

/**
 * scores[b, i, j] = scale x[b, i] . y[b, j] for the sequences [begin, end), x [B, Sq, dh],
 * y [B, Sk, dh]; with shift, each row less its maximum (SequenceScores).
 */
template<int kD, int64_t kKeys, typename Piece>
TADLORA_KERNEL void
Scores(Sizes n, int64_t begin, int64_t end, float scale, bool shift, const float* __restrict x,
       Layout xl, const float* __restrict y, Layout yl, float* __restrict scores)
{
    const int64_t d = kD > 0 ? kD : n.features;
    const int64_t s = n.keys;
    const int64_t width = kKeys > 0 ? kKeys : s; // a column's length
    std::vector<float> columns(d * width, 0.0f);
    std::vector<float> sum(width);
    const auto padding = KeyPadding<Piece>(s);
    for (int64_t b = begin; b < end; ++b)
    {
        Transpose<Piece>(y + yl.Base(b), yl.token, s, d, width, columns.data());
        SequenceScores<kD, kKeys, Piece>(n.queries, s, d, scale, shift, x + xl.Base(b), xl.token,
                                         columns.data(), width, padding.data(), sum.data(),
                                         scores + b * n.queries * s);
    }
}

/**
 * sums = per lane l, the sum over the pieces p of x's and y's features p L + l (L lanes), in
 * order: a dot product of kD features before its lanes are added
 */
template<int kD, typename Piece>
__attribute__((always_inline)) inline void
LaneSums(const Piece* x, const float* __restrict y, Piece& sums)
{
    sums = Piece{};
    for (int p = 0; p < kD / Lanes<Piece>(); ++p)
    {
        Piece yp;
        std::memcpy(&yp, y + p * Lanes<Piece>(), sizeof(yp));
        sums += x[p] * yp;
    }
}

/**
 * One query's scores, row[j] = scale x . y_j for the s keys y_j (token apart), each a dot product
 * over the features, without transposing the keys (one query does not repay it); with shift,
 * less their maximum. At a width of whole pieces, each key's product is summed per lane
 * (LaneSums) and its lanes added in order from lane 0, the order GCC 12 gives the OpenMP
 * reduction below at these widths (which takes the keys past the last whole block); a block of as
 * many keys as lanes is transposed so that those additions run for all of its keys at once, not
 * as a chain of one lane at a time per key.
 */
template<int kD, typename Piece>
__attribute__((always_inline)) inline void
OneQueryScores(int64_t d, int64_t s, float scale, bool shift, const float* __restrict x,
               const float* __restrict y, int64_t token, float* __restrict row)
{
    constexpr int kLanes = Lanes<Piece>();
    constexpr bool kWholePieces = kD > 0 && kD % kLanes == 0;
    int64_t j = 0;
    if constexpr (kWholePieces)
    {
        Piece xp[kD / kLanes];
        std::memcpy(xp, x, sizeof(xp));
        for (; j + kLanes <= s; j += kLanes)
        {
            Piece sums[kLanes]; // per key of the block
            for (int k = 0; k < kLanes; ++k)
            {
                LaneSums<kD>(xp, y + (j + k) * token, sums[k]);
            }
            RowSums(sums, row + j);
            for (int k = 0; k < kLanes; ++k)
            {
                row[j + k] *= scale;
            }
        }
    }
    for (; j < s; ++j) // the keys past the last whole block, one at a time
    {
        const float* yj = y + j * token;
        float dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int64_t c = 0; c < d; ++c)
        {
            dot += x[c] * yj[c];
        }
        row[j] = dot * scale;
    }
    const float max = shift ? Largest(row, s) : 0.0f;
    for (int64_t j = 0; j < s; ++j)
    {
        row[j] -= max;
    }
}

/** Scores as above (Scores) for sequences of one query, by OneQueryScores. */
template<int kD, typename Piece>
TADLORA_KERNEL void
ScoresOfOneQuery(Sizes n, int64_t begin, int64_t end, float scale, bool shift,
                 const float* __restrict x, Layout xl, const float* __restrict y, Layout yl,
                 float* __restrict scores)
{
    const int64_t d = kD > 0 ? kD : n.features;
    for (int64_t b = begin; b < end; ++b)
    {
        OneQueryScores<kD, Piece>(d, n.keys, scale, shift, x + xl.Base(b), y + yl.Base(b), yl.token,
                                  scores + b * n.keys);
    }
}

/**
 * @return 1 / the sum of row[0, s), added up in order: every kernel normalizes softmax's rows
 * with this one sum, so that they round alike
 */
__attribute__((always_inline)) inline float
InverseRowSum(const float* __restrict row, int64_t s)
{
    float sum = 0;
    for (int64_t j = 0; j < s; ++j)
    {
        sum += row[j];
    }
    return 1 / sum;
}

/**
 * Softmax's remaining steps, row by row, for the sequences [begin, end): forward (grad null),
 * rows of exp(x - max) become p = rows / their sum; backward, grad (dP) becomes
 * dS = p (dP - sum_j p dP).
 */
TADLORA_KERNEL void
SoftmaxRows(Sizes n, int64_t begin, int64_t end, float* __restrict p, float* __restrict grad)
{
    const int64_t s = n.keys;
    for (int64_t row = begin * n.queries; row < end * n.queries; ++row)
    {
        float* pr = p + row * s;
        if (grad == nullptr)
        {
            const float inverse = InverseRowSum(pr, s);
            for (int64_t j = 0; j < s; ++j)
            {
                pr[j] *= inverse;
            }
            continue;
        }
        float* gr = grad + row * s;
        float sum = 0;
        for (int64_t j = 0; j < s; ++j)
        {
            sum += pr[j] * gr[j];
        }
        for (int64_t j = 0; j < s; ++j)
        {
            gr[j] = pr[j] * (gr[j] - sum);
        }
    }
}

/**
 * For the sequences [begin, end) and p [B, Sq, Sk]: out[b, i] = scale sum_j p[b, i, j] y[b, j]
 * (y [B, Sk, dh], out [B, Sq, dh]), or, transposed, out[b, j] = scale sum_i p[b, i, j] y[b, i]
 * (y [B, Sq, dh], out [B, Sk, dh]).
 */
template<int kD, typename Piece>
TADLORA_KERNEL void
Weighted(Sizes n, int64_t begin, int64_t end, bool transposed, float scale,
         const float* __restrict p, const float* __restrict y, Layout yl, float* __restrict out,
         Layout outl)
{
    const int64_t d = kD > 0 ? kD : n.features;
    const int64_t from = transposed ? n.queries : n.keys;
    const int64_t to = transposed ? n.keys : n.queries;
    // p's entry for output token t and source token f: p[b, t, f], or transposed p[b, f, t].
    const int64_t pTo = transposed ? 1 : n.keys;
    const int64_t pFrom = transposed ? n.keys : 1;
    // One query per sequence, of features every head reads (the class token's attention): a
    // sample's heads are the rows of one WeightedRows, which reads y's tokens once for them.
    const bool headsAsRows = kD > 0 && to == 1 && !transposed && yl.headStride == 0;
    for (int64_t b = begin; b < end; ++b)
    {
        const float* pb = p + b * n.queries * n.keys;
        const float* yb = y + yl.Base(b);
        if constexpr (kD > 0)
        {
            if (headsAsRows)
            {
                const int64_t heads = std::min(yl.heads - b % yl.heads, end - b);
                WeightedRows<kD, Piece>(
                    heads, from, [&](int64_t h, int64_t f) { return pb[h * n.keys + f] * scale; },
                    yb, yl.token, out + outl.Base(b), outl.headStride);
                b += heads - 1;
                continue;
            }
            WeightedRows<kD, Piece>(
                to, from, [&](int64_t t, int64_t f) { return pb[t * pTo + f * pFrom] * scale; }, yb,
                yl.token, out + outl.Base(b), outl.token);
            continue;
        }
        for (int64_t t = 0; t < to; ++t)
        {
            float* target = out + outl.Base(b) + t * outl.token;
            std::fill(target, target + d, 0.0f);
            for (int64_t f = 0; f < from; ++f)
            {
                const float w = pb[t * pTo + f * pFrom] * scale;
                const float* source = yb + f * yl.token;
#pragma omp simd
                for (int64_t c = 0; c < d; ++c)
                {
                    target[c] += w * source[c];
                }
            }
        }
    }
}

/**
 * rows[0, kLanes): kLanes rows of kHeadWidth features (rows[t] at x + t stride; past count,
 * the last again), as kHeadWidth columns of kLanes lanes, each times scale: a query's features
 * as SequenceScores takes them, one query in each lane
 */
template<typename Piece>
__attribute__((always_inline)) inline void
ScaledColumns(const float* __restrict x, int64_t stride, int64_t count, float scale,
              Piece* __restrict columns)
{
    constexpr int kLanes = Lanes<Piece>();
    for (int blk = 0; blk < kHeadWidth / kLanes; ++blk)
    {
        Piece rows[kLanes];
        for (int t = 0; t < kLanes; ++t)
        {
            std::memcpy(&rows[t], x + std::min<int64_t>(t, count - 1) * stride + blk * kLanes,
                        sizeof(Piece));
        }
        TransposeBlock(rows);
        for (int c = 0; c < kLanes; ++c)
        {
            columns[blk * kLanes + c] = rows[c] * scale;
        }
    }
}

/**
 * exps[j] = softmax_j(q . k_j) for one query in each lane, given the queries' features as
 * columns (ScaledColumns) and s keys of kHeadWidth features (kToken apart), with the arithmetic
 * of SequenceScores, LibTorch's exp and SoftmaxRows for each lane's query: its scores the same
 * chains of products over the features, its maximum, sum and quotients the same operations in
 * the same order, for all of the lanes at once instead of across a vector's lanes. exps: s
 * pieces.
 */
template<typename Piece>
__attribute__((always_inline)) inline void
LaneSoftmax(int64_t s, const Piece* __restrict columns, const float* __restrict k, int64_t kToken,
            float* __restrict exps)
{
    constexpr int kLanes = Lanes<Piece>();
    constexpr int kKeysAtOnce = 4; // independent chains of products
    Piece largest = Piece{} - std::numeric_limits<float>::infinity();
    for (int64_t j0 = 0; j0 < s; j0 += kKeysAtOnce)
    {
        const float* kj[kKeysAtOnce];
        for (int r = 0; r < kKeysAtOnce; ++r)
        {
            kj[r] = k + std::min<int64_t>(j0 + r, s - 1) * kToken;
        }
        Piece score[kKeysAtOnce] = {};
        for (int c = 0; c < kHeadWidth; ++c)
        {
            for (int r = 0; r < kKeysAtOnce; ++r)
            {
                score[r] += columns[c] * kj[r][c];
            }
        }
        for (int r = 0; r < kKeysAtOnce && j0 + r < s; ++r)
        {
            Raise(largest, score[r]);
            std::memcpy(exps + (j0 + r) * kLanes, &score[r], sizeof(score[r]));
        }
    }
    for (int64_t j = 0; j < s; ++j)
    {
        Piece e;
        std::memcpy(&e, exps + j * kLanes, sizeof(e));
        e -= largest;
        std::memcpy(exps + j * kLanes, &e, sizeof(e));
    }
    ExpLikeLibTorch(exps, s * kLanes);
    Piece sum = {};
    for (int64_t j = 0; j < s; ++j)
    {
        Piece e;
        std::memcpy(&e, exps + j * kLanes, sizeof(e));
        sum += e;
    }
    const Piece inverse = 1.0f / sum;
    for (int64_t j = 0; j < s; ++j)
    {
        Piece e;
        std::memcpy(&e, exps + j * kLanes, sizeof(e));
        e *= inverse;
        std::memcpy(exps + j * kLanes, &e, sizeof(e));
    }
}

/**
 * softmax(scale q k^T) v for Lanes<Piece>() queries of a sequence at once, one in each lane
 * (queries qToken apart, keys kToken, values vToken, outputs oToken): LaneSoftmax, then each
 * query's weighted sum of the values as WeightedRows sums it, for all of the queries' features at
 * once, transposed back to the queries' rows. The softmax's rows go to saved (s apart) if it
 * is not null. exps: s pieces of scratch.
 */
template<typename Piece>
__attribute__((always_inline)) inline void
QueryBlock(int64_t s, float scale, const float* __restrict q, int64_t qToken,
           const float* __restrict k, int64_t kToken, const float* __restrict v, int64_t vToken,
           float* __restrict out, int64_t oToken, float* __restrict exps, float* __restrict saved)
{
    constexpr int kLanes = Lanes<Piece>();
    Piece columns[kHeadWidth];
    ScaledColumns(q, qToken, kLanes, scale, columns);
    LaneSoftmax(s, columns, k, kToken, exps);
    if (saved != nullptr) // keys in blocks of kLanes transposed, the rest one at a time
    {
        int64_t j = 0;
        for (; j + kLanes <= s; j += kLanes)
        {
            Piece block[kLanes];
            std::memcpy(block, exps + j * kLanes, sizeof(block));
            TransposeBlock(block);
            for (int t = 0; t < kLanes; ++t)
            {
                std::memcpy(saved + t * s + j, &block[t], sizeof(Piece));
            }
        }
        for (; j < s; ++j)
        {
            for (int t = 0; t < kLanes; ++t)
            {
                saved[t * s + j] = exps[j * kLanes + t];
            }
        }
    }
    Piece weighted[kHeadWidth] = {}; // feature c of every query's output
    for (int64_t f = 0; f < s; ++f)
    {
        Piece pf;
        std::memcpy(&pf, exps + f * kLanes, sizeof(pf));
        const float* vf = v + f * vToken;
        for (int c = 0; c < kHeadWidth; ++c)
        {
            weighted[c] += pf * vf[c];
        }
    }
    for (int blk = 0; blk < kHeadWidth / kLanes; ++blk)
    {
        TransposeBlock(weighted + blk * kLanes);
        for (int t = 0; t < kLanes; ++t)
        {
            std::memcpy(out + t * oToken + blk * kLanes, &weighted[blk * kLanes + t],
                        sizeof(Piece));
        }
    }
}

/**
 * The same for one query of `count` <= Lanes<Piece>() models that share the keys, one model in
 * each lane (the models' queries, values, outputs and saved softmax rows qModel, vModel, oModel
 * and sModel apart): a sequence's queries past its last whole block, which would otherwise be a
 * row of scores each.
 */
template<typename Piece>
__attribute__((always_inline)) inline void
ModelBlock(int64_t count, int64_t s, float scale, const float* __restrict q, int64_t qModel,
           const float* __restrict k, int64_t kToken, const float* __restrict v, int64_t vModel,
           int64_t vToken, float* __restrict out, int64_t oModel, float* __restrict exps,
           float* __restrict saved, int64_t sModel)
{
    constexpr int kLanes = Lanes<Piece>();
    Piece columns[kHeadWidth];
    ScaledColumns(q, qModel, count, scale, columns);
    LaneSoftmax(s, columns, k, kToken, exps);
    for (int64_t m = 0; m < count; ++m)
    {
        if (saved != nullptr)
        {
            for (int64_t j = 0; j < s; ++j)
            {
                saved[m * sModel + j] = exps[j * kLanes + m];
            }
        }
        WeightedRows<kHeadWidth, Piece>(
            1, s, [&](int64_t, int64_t f) { return exps[f * kLanes + m]; }, v + m * vModel, vToken,
            out + m * oModel, 0);
    }
}

/**
 * For sequences of more than one query, at most kRegisterKeys keys and kHeadWidth features:
 * softmax(scale q k^T) v in one pass over each sequence, from the scores to the output, with the
 * arithmetic of Scores, LibTorch's exp, SoftmaxRows and Weighted in the same order: the same
 * bits, without the passes over memory and LibTorch's exp operator between them. With saved,
 * each sequence's softmax p [Sq, Sk] is stored there for the backward pass (saved + b Sq Sk for
 * sequence b, as BatchedScores lays it out). The units [begin, end) are (sample, head) pairs,
 * each run for every model in turn. A sequence's queries go in blocks of a vector's lanes
 * (QueryBlock); those past the last whole block, where the models share the keys, a model in
 * each lane (ModelBlock), else a row of scores each, with the keys transposed once for all
 * models that share them.
 */
template<typename Piece>
TADLORA_KERNEL void
Fused(Sizes n, int64_t models, int64_t begin, int64_t end, float scale, const float* __restrict q,
      Layout ql, const float* __restrict k, Layout kl, const float* __restrict v, Layout vl,
      float* __restrict out, Layout outl, float* __restrict saved)
{
    constexpr int64_t width = kRegisterKeys;
    constexpr int64_t kLanes = Lanes<Piece>();
    const int64_t s = n.keys;
    const auto padding = KeyPadding<Piece>(s);
    const int64_t units = n.sequences / models; // N x heads
    const int64_t blocked = n.queries / kLanes * kLanes;
    const int64_t rows = n.queries - blocked;
    const int64_t perSequence = n.queries * s; // a sequence's saved softmax
    std::vector<float> exps(kRegisterKeys * kLanes);
    std::vector<float> columns(kHeadWidth * width, 0.0f);
    std::vector<float> sum(width);
    // A sequence's rows of scores, rows of s, padded to a whole number of ExpLikeLibTorch's
    // widest vectors.
    std::vector<float> scores((rows * s + 15) / 16 * 16);
    float* __restrict p = scores.data();
    for (int64_t u = begin; u < end; ++u)
    {
        for (int64_t g = 0; g < models; ++g)
        {
            const int64_t b = g * units + u;
            const float* qb = q + ql.Base(b);
            const float* kb = k + kl.Base(b);
            const float* vb = v + vl.Base(b);
            float* ob = out + outl.Base(b);
            float* sb = saved != nullptr ? saved + b * perSequence : nullptr;
            for (int64_t i = 0; i < blocked; i += kLanes)
            {
                QueryBlock<Piece>(s, scale, qb + i * ql.token, ql.token, kb, kl.token, vb, vl.token,
                                  ob + i * outl.token, outl.token, exps.data(),
                                  sb != nullptr ? sb + i * s : nullptr);
            }
            if (rows == 0 || kl.gStride == 0)
            {
                continue;
            }
            Transpose<Piece>(kb, kl.token, s, kHeadWidth, width, columns.data());
            SequenceScores<kHeadWidth, kRegisterKeys, Piece>(
                rows, s, kHeadWidth, scale, true, qb + blocked * ql.token, ql.token, columns.data(),
                width, padding.data(), sum.data(), p);
            ExpLikeLibTorch(p, static_cast<int64_t>(scores.size()));
            // The softmax, row by row as SoftmaxRows: into saved for the backward pass, or over
            // the scores in place (so softmax may alias p, and is not __restrict).
            float* softmax = sb != nullptr ? sb + blocked * s : p;
            for (int64_t i = 0; i < rows; ++i)
            {
                const float inverse = InverseRowSum(p + i * s, s);
                for (int64_t j = 0; j < s; ++j)
                {
                    softmax[i * s + j] = p[i * s + j] * inverse;
                }
            }
            WeightedRows<kHeadWidth, Piece>(
                rows, s, [&](int64_t i, int64_t f) { return softmax[i * s + f]; }, vb, vl.token,
                ob + blocked * outl.token, outl.token);
        }
        if (kl.gStride != 0)
        {
            continue;
        }
        for (int64_t i = blocked; i < n.queries; ++i) // the models share the keys
        {
            for (int64_t g = 0; g < models; g += kLanes)
            {
                const int64_t b = g * units + u;
                ModelBlock<Piece>(std::min(kLanes, models - g), s, scale,
                                  q + ql.Base(b) + i * ql.token, ql.gStride, k + kl.Base(b),
                                  kl.token, v + vl.Base(b), vl.gStride, vl.token,
                                  out + outl.Base(b) + i * outl.token, outl.gStride, exps.data(),
                                  saved != nullptr ? saved + b * perSequence + i * s : nullptr,
                                  units * perSequence);
            }
        }
    }
}

/**
 * out[i] = sum_c x[c] wT[c stride + i] (+ bias[i]) for the kOutputs outputs i and the inputs c,
 * given the weight transposed (wT [inputs, kOutputs], rows stride apart)
 */
template<int kOutputs, typename Piece>
__attribute__((always_inline)) inline void
Project(int64_t inputs, const float* __restrict x, const float* __restrict wT, int64_t stride,
        const float* __restrict bias, float* __restrict out)
{
    constexpr int kLanes = Lanes<Piece>();
    Piece sums[kOutputs / kLanes];
    RowCombination<kOutputs>(inputs, x, wT, stride, sums);
    for (int p = 0; p < kOutputs / kLanes && bias != nullptr; ++p)
    {
        Piece b;
        std::memcpy(&b, bias + p * kLanes, sizeof(b));
        sums[p] += b;
    }
    std::memcpy(out, sums, sizeof(sums));
}

/**
 * The class token's attention of a last block (FusedClassTokenAttention) for the units [begin,
 * end), u = g N + n (model g, sample n), in the default model's widths (d = kModelWidth, heads of
 * kHeadWidth): the query, each head's keyed query, the scores against every token, the softmax,
 * the heads' weighted sums and the values, in one pass over the unit's tokens.
 */
template<typename Piece>
TADLORA_KERNEL void
ClassToken(int64_t samples, int64_t keys, int64_t begin, int64_t end, float scale,
           const float* __restrict x, Layout xl, const float* __restrict wq, int64_t wqStride,
           const float* __restrict bq, const float* __restrict wk, int64_t wkStride,
           const float* __restrict wv, int64_t wvStride, const float* __restrict bv,
           float* __restrict out)
{
    constexpr int64_t d = kModelWidth;
    constexpr int64_t dh = kHeadWidth;
    constexpr int kHeads = d / dh;
    std::vector<float> wqT(d * d);
    std::vector<float> wvT(d * d);
    const float* transposedQ = nullptr; // whose transposes wqT and wvT hold
    const float* transposedV = nullptr;
    constexpr int kPiecesOfD = d / Lanes<Piece>();
    constexpr int kPiecesOfHead = dh / Lanes<Piece>();
    std::vector<float> query(d);
    // The heads' scores, rows of keys, padded to a whole number of ExpLikeLibTorch's widest
    // vectors.
    std::vector<float> p((kHeads * keys + 15) / 16 * 16);
    for (int64_t u = begin; u < end; ++u)
    {
        const int64_t g = u / samples;
        const float* xu = x + xl.Base(u); // token 0: the class token
        const float* wqg = wq + g * wqStride;
        const float* wvg = wv + g * wvStride;
        if (wqg != transposedQ)
        {
            Transpose<Piece>(wqg, d, d, d, d, wqT.data());
            transposedQ = wqg;
        }
        if (wvg != transposedV)
        {
            Transpose<Piece>(wvg, d, d, d, d, wvT.data());
            transposedV = wvg;
        }
        Project<d, Piece>(d, xu, wqT.data(), d, bq, query.data());
        // Each head's query mapped back to the d features by its rows of W_k (keyed[h][c] =
        // sum_i query[h dh + i] W_k[h dh + i][c]: W_k's rows are W_k^T's columns), the heads side
        // by side, then scored against every token, as ClassTokenAttention's products and
        // Attention do.
        Piece keyed[kHeads][kPiecesOfD];
        RowCombinations<d, kHeads>(dh, query.data(), dh, wk + g * wkStride, dh * d, d, keyed);
        for (int h = 0; h < kHeads; ++h)
        {
            OneQueryScores<d, Piece>(d, keys, scale, true, reinterpret_cast<float*>(keyed[h]), xu,
                                     xl.token, p.data() + h * keys);
        }
        ExpLikeLibTorch(p.data(), static_cast<int64_t>(p.size()));
        for (int h = 0; h < kHeads; ++h)
        {
            float* row = p.data() + h * keys;
            const float inverse = InverseRowSum(row, keys);
            for (int64_t j = 0; j < keys; ++j)
            {
                row[j] *= inverse;
            }
        }
        float mixed[kHeads * d];
        WeightedRows<d, Piece>(
            kHeads, keys, [&](int64_t h, int64_t f) { return p[h * keys + f]; }, xu, xl.token,
            mixed, d);
        // Each head's dh values from its weighted sum by W_v's rows h dh .. h dh + dh - 1, the
        // heads side by side.
        Piece values[kHeads][kPiecesOfHead];
        RowCombinations<dh, kHeads>(d, mixed, d, wvT.data(), dh, d, values);
        float* o = out + u * d;
        std::memcpy(o, values, sizeof(values));
        for (int64_t c = 0; c < d; ++c)
        {
            o[c] += bv[c];
        }
    }
}

/** @return sequences per parallel task: enough work to be worth a thread */
int64_t
Grain(const Sizes& n)
{
    return std::max<int64_t>(1, 32768 / (n.queries * n.keys * n.features));
}

/**
 * @return where t [G_t, N, S, heads x dh], or [G_t, N, S, dh] read by every head, keeps each
 * sequence (see Layout)
 */
Layout
LayoutOf(const torch::Tensor& t, int64_t heads, int64_t features)
{
    TORCH_CHECK(t.dim() == 4 && t.stride(3) == 1 && t.scalar_type() == torch::kFloat32 &&
                    (t.size(3) == heads * features || t.size(3) == features),
                "Attention: expects float32 [G, N, S, d] with contiguous features");
    return {t.size(0) == 1 ? 0 : t.stride(0),
            t.stride(1),
            t.stride(2),
            t.size(1),
            heads,
            t.size(3) == heads * features ? features : 0};
}

/** @return [B, Sq, Sk] scale x y^T (with shift, each row less its maximum), over the threads */
torch::Tensor
BatchedScores(const Sizes& n, const torch::Tensor& x, Layout xl, const torch::Tensor& y, Layout yl,
              double scale, bool shift)
{
    auto scores = torch::empty({n.sequences, n.queries, n.keys});
    const auto kernel =
        n.queries == 1 ? ForWidth<kHeadWidth>(n.features,
                                              ForPieces(&ScoresOfOneQuery<kHeadWidth, Piece16>,
                                                        &ScoresOfOneQuery<kHeadWidth, Piece8>),
                                              ForWidth<kModelWidth>(
                                                  n.features,
                                                  ForPieces(&ScoresOfOneQuery<kModelWidth, Piece16>,
                                                            &ScoresOfOneQuery<kModelWidth, Piece8>),
                                                  &ScoresOfOneQuery<0, Piece8>))
        : n.keys <= kRegisterKeys
            ? ForWidth<kHeadWidth>(n.features,
                                   ForPieces(&Scores<kHeadWidth, kRegisterKeys, Piece16>,
                                             &Scores<kHeadWidth, kRegisterKeys, Piece8>),
                                   &Scores<0, 0, Piece8>)
            : ForWidth<kHeadWidth>(n.features, &Scores<kHeadWidth, 0, Piece8>,
                                   &Scores<0, 0, Piece8>);
    at::parallel_for(0, n.sequences, Grain(n),
                     [&](int64_t begin, int64_t end)
                     {
                         kernel(n, begin, end, static_cast<float>(scale), shift,
                                x.data_ptr<float>(), xl, y.data_ptr<float>(), yl,
                                scores.data_ptr<float>());
                     });
    return scores;
}

/** Softmax's last steps in place (SoftmaxRows): p from exp(x - max), or dS from dP. */
void
BatchedSoftmaxRows(const Sizes& n, torch::Tensor& p, torch::Tensor* grad)
{
    at::parallel_for(0, n.sequences, Grain(n),
                     [&](int64_t begin, int64_t end)
                     {
                         SoftmaxRows(n, begin, end, p.data_ptr<float>(),
                                     grad != nullptr ? grad->data_ptr<float>() : nullptr);
                     });
}

/**
 * @return scale p y or, transposed, scale p^T y, as [G, N, tokens, heads x dh] (tokens Sq or
 * Sk), over the threads
 */
torch::Tensor
BatchedWeighted(const Sizes& n, int64_t models, const torch::Tensor& p, const torch::Tensor& y,
                Layout yl, bool transposed, double scale)
{
    auto out =
        torch::empty({models, yl.samples, transposed ? n.keys : n.queries, yl.heads * n.features});
    const Layout outl = LayoutOf(out, yl.heads, n.features);
    const auto kernel = ForWidth<kHeadWidth>(
        n.features, ForPieces(&Weighted<kHeadWidth, Piece16>, &Weighted<kHeadWidth, Piece8>),
        ForWidth<kModelWidth>(
            n.features, ForPieces(&Weighted<kModelWidth, Piece16>, &Weighted<kModelWidth, Piece8>),
            &Weighted<0, Piece8>));
    at::parallel_for(0, n.sequences, Grain(n),
                     [&](int64_t begin, int64_t end)
                     {
                         kernel(n, begin, end, transposed, static_cast<float>(scale),
                                p.data_ptr<float>(), y.data_ptr<float>(), yl, out.data_ptr<float>(),
                                outl);
                     });
    return out;
}

/** @return whether Fused runs sequences of these shapes here */
bool
Fusable(const Sizes& n)
{
    return n.queries > 1 && n.keys <= kRegisterKeys && n.features == kHeadWidth &&
           HaveExpLikeLibTorch();
}

/**
 * @return softmax(scale q k^T) v by Fused, as [G, N, Sq, heads x dh], over the threads; with
 * saved ([B, Sq, Sk]), the softmax stored there
 */
torch::Tensor
BatchedFused(const Sizes& n, int64_t models, const torch::Tensor& q, const torch::Tensor& k,
             const torch::Tensor& v, int64_t heads, double scale, torch::Tensor* saved)
{
    auto out = torch::empty({models, q.size(1), n.queries, heads * n.features});
    const Layout ql = LayoutOf(q, heads, n.features);
    const Layout kl = LayoutOf(k, heads, n.features);
    const Layout vl = LayoutOf(v, heads, n.features);
    const Layout outl = LayoutOf(out, heads, n.features);
    const auto kernel = ForPieces(&Fused<Piece16>, &Fused<Piece8>);
    at::parallel_for(0, q.size(1) * heads, std::max<int64_t>(1, Grain(n) / models),
                     [&](int64_t begin, int64_t end)
                     {
                         kernel(n, models, begin, end, static_cast<float>(scale),
                                q.data_ptr<float>(), ql, k.data_ptr<float>(), kl,
                                v.data_ptr<float>(), vl, out.data_ptr<float>(), outl,
                                saved != nullptr ? saved->data_ptr<float>() : nullptr);
                     });
    return out;
}

/** @return the gradient for an input of G_in models: summed over the models if it was shared */
torch::Tensor
ForInput(const torch::Tensor& grad, const torch::Tensor& input)
{
    return input.size(0) == grad.size(0) ? grad : grad.sum(0, true);
}

/**
 * @return the gradient for keys or values `input`: scale p^T y for every sequence (Weighted,
 * transposed), p [B, Sq, Sk], y [G, N, Sq, heads x dh]. Where every head read the input ([G_in,
 * N, Sk, dh]) and a head has one query (the class-token form), a (model, sample)'s heads are
 * the query tokens of one product, which sums them as it goes (rather than writing each head's
 * terms, heads times the input's size, and summing them afterwards).
 */
torch::Tensor
TransposedGradient(const Sizes& n, int64_t models, int64_t heads, const torch::Tensor& p,
                   const torch::Tensor& y, const torch::Tensor& input, double scale)
{
    if (input.size(3) == y.size(3))
    {
        return ForInput(
            BatchedWeighted(n, models, p, y, LayoutOf(y, heads, n.features), true, scale), input);
    }
    TORCH_CHECK(n.queries == 1, "Attention: keys or values read by every head have a gradient "
                                "for one query a head only");
    const auto rows = y.view({y.size(0), y.size(1), heads, n.features}); // heads as queries
    const Sizes summed{n.sequences / heads, heads, n.keys, n.features};
    return ForInput(
        BatchedWeighted(summed, models, p, rows, LayoutOf(rows, 1, n.features), true, scale),
        input);
}

/**
 * @brief The kernels as an autograd function over q [G_q, N, Sq, d], k and v [G_k, N, Sk, d]
 * (d = heads x dh; a G of 1 is shared by every model), read and written in that layout. The
 * softmax's exp is LibTorch's (vectorized); its row sums are ours: LibTorch's softmax along a
 * last dimension of 17 took longer than everything else here together. The forward pass is
 * Fused's where it can be, which stores the softmax for the backward pass as it goes.
 */
struct AttentionFunction : torch::autograd::Function<AttentionFunction>
{
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q,
                                 const torch::Tensor& k, const torch::Tensor& v, int64_t heads,
                                 double scale)
    {
        const int64_t models = std::max({q.size(0), k.size(0), v.size(0)});
        const Sizes n{models * q.size(1) * heads, q.size(2), k.size(2), q.size(3) / heads};
        auto layout = [&](const torch::Tensor& t) { return LayoutOf(t, heads, n.features); };
        torch::Tensor p; // [B, Sq, Sk], the softmax
        torch::Tensor out;
        if (Fusable(n))
        {
            p = torch::empty({n.sequences, n.queries, n.keys});
            out = BatchedFused(n, models, q, k, v, heads, scale, &p);
        }
        else
        {
            p = BatchedScores(n, q, layout(q), k, layout(k), scale, true).exp_();
            BatchedSoftmaxRows(n, p, nullptr);
            out = BatchedWeighted(n, models, p, v, layout(v), false, 1);
        }
        ctx->save_for_backward({q, k, v, p});
        ctx->saved_data["heads"] = heads;
        ctx->saved_data["scale"] = scale;
        return out;
    }

    static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::tensor_list grads)
    {
        const auto saved = ctx->get_saved_variables();
        const auto& q = saved[0];
        const auto& k = saved[1];
        const auto& v = saved[2];
        auto p = saved[3];
        const int64_t heads = ctx->saved_data["heads"].toInt();
        const double scale = ctx->saved_data["scale"].toDouble();
        const auto dOut = grads[0].contiguous(); // [G, N, Sq, d]
        const int64_t models = dOut.size(0);
        const Sizes n{models * q.size(1) * heads, q.size(2), k.size(2), q.size(3) / heads};
        // dP = dOut v^T, dS = softmax's backward of dP, dq = scale dS k, dk = scale dS^T q.
        auto layout = [&](const torch::Tensor& t) { return LayoutOf(t, heads, n.features); };
        auto dScores = BatchedScores(n, dOut, layout(dOut), v, layout(v), 1, false);
        BatchedSoftmaxRows(n, p, &dScores);
        torch::autograd::tensor_list result(5);
        if (ctx->needs_input_grad(0))
        {
            result[0] =
                ForInput(BatchedWeighted(n, models, dScores, k, layout(k), false, scale), q);
        }
        if (ctx->needs_input_grad(1))
        {
            result[1] = TransposedGradient(n, models, heads, dScores, q, k, scale);
        }
        if (ctx->needs_input_grad(2))
        {
            result[2] = TransposedGradient(n, models, heads, p, dOut, v, 1);
        }
        return result;
    }
};

} // namespace

at::Tensor
Attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads,
          double scale)
{
    const int64_t models = std::max({q.size(0), k.size(0), v.size(0)});
    const Sizes n{models * q.size(1) * heads, q.size(2), k.size(2), q.size(3) / heads};
    if (!torch::GradMode::is_enabled() && Fusable(n))
    {
        return BatchedFused(n, models, q, k, v, heads, scale, nullptr);
    }
    return AttentionFunction::apply(q, k, v, heads, scale);
}

bool
FusedClassTokenRuns(int64_t d, int64_t heads)
{
    return d == kModelWidth && heads * kHeadWidth == d && HaveExpLikeLibTorch();
}

at::Tensor
FusedClassTokenAttention(const at::Tensor& x, const at::Tensor& wq, const at::Tensor& bq,
                         const at::Tensor& wk, const at::Tensor& wv, const at::Tensor& bv,
                         int64_t heads, double scale)
{
    const int64_t d = x.size(3);
    TORCH_CHECK(FusedClassTokenRuns(d, heads), "FusedClassTokenAttention: d ", d, " and ", heads,
                " heads are not the default model's");
    for (const auto* w : {&wq, &wk, &wv})
    {
        TORCH_CHECK(w->dim() == 3 && w->size(1) == d && w->size(2) == d && w->is_contiguous() &&
                        w->scalar_type() == torch::kFloat32,
                    "FusedClassTokenAttention: weights must be float32 [G, d, d], contiguous");
    }
    TORCH_CHECK(bq.is_contiguous() && bv.is_contiguous() && bq.numel() == d && bv.numel() == d,
                "FusedClassTokenAttention: biases of d floats");
    const int64_t models = std::max({x.size(0), wq.size(0), wk.size(0), wv.size(0)});
    const int64_t samples = x.size(1);
    auto out = torch::empty({models, samples, 1, d});
    const auto stride = [&](const at::Tensor& t, int64_t perModel)
    { return t.size(0) == 1 ? 0 : perModel; };
    const Layout xl = LayoutOf(x, 1, d); // one sequence per model and sample
    const auto kernel = ForPieces(&ClassToken<Piece16>, &ClassToken<Piece8>);
    at::parallel_for(0, models * samples, 16,
                     [&](int64_t begin, int64_t end)
                     {
                         kernel(samples, x.size(2), begin, end, static_cast<float>(scale),
                                x.data_ptr<float>(), xl, wq.data_ptr<float>(), stride(wq, d * d),
                                bq.data_ptr<float>(), wk.data_ptr<float>(), stride(wk, d * d),
                                wv.data_ptr<float>(), stride(wv, d * d), bv.data_ptr<float>(),
                                out.data_ptr<float>());
                     });
    return out;
}

} // namespace tadlora
