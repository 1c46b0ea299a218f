// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-product.h"

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <unordered_map>

namespace tadlora
{

namespace
{

/** A matrix as oneDNN's sgemm reads it: row-major, or the transpose of a row-major one. */
struct Operand
{
    const float* data;
    char op;    //!< 'N': rows of ld floats apart; 'T': columns of ld floats apart
    int64_t ld; //!< the leading dimension
};

/** @return how oneDNN reads t [R, C] at data, or nothing if neither of its strides is 1 */
std::optional<Operand>
OperandOf(const at::Tensor& t, const float* data)
{
    const int64_t rows = t.size(-2);
    const int64_t cols = t.size(-1);
    const int64_t rowStride = rows == 1 ? cols : t.stride(-2);
    const int64_t colStride = cols == 1 ? rows : t.stride(-1);
    if ((cols == 1 || t.stride(-1) == 1) && rowStride >= std::max<int64_t>(cols, 1))
    {
        return Operand{data, 'N', rowStride};
    }
    if ((rows == 1 || t.stride(-2) == 1) && colStride >= std::max<int64_t>(rows, 1))
    {
        return Operand{data, 'T', colStride};
    }
    return std::nullopt;
}

/** c = a b + beta c for a [M, K], b [K, N], c [M, N] with rows ldc floats apart */
void
Gemm(int64_t m, int64_t n, int64_t k, const Operand& a, const Operand& b, float beta, float* c,
     int64_t ldc)
{
    if (m == 0 || n == 0)
    {
        return;
    }
    if (k == 0) // an empty sum: c = beta c (beta is 0 or 1; c may be uninitialized at 0)
    {
        if (beta == 0)
        {
            for (int64_t i = 0; i < m; ++i)
            {
                std::fill_n(c + i * ldc, n, 0.0F);
            }
        }
        return;
    }
    const dnnl_status_t status =
        dnnl_sgemm(a.op, b.op, m, n, k, 1.0F, a.data, a.ld, b.data, b.ld, beta, c, ldc);
    TORCH_CHECK(status == dnnl_success, "oneDNN's sgemm failed (status ", status, ")");
}

/** @return t's element offset of the matrix `index` of its leading dimensions, row-major */
int64_t
MatrixOffset(const at::Tensor& t, int64_t index)
{
    int64_t offset = 0;
    for (int64_t d = t.dim() - 3; d >= 0; --d)
    {
        offset += index % t.size(d) * t.stride(d);
        index /= t.size(d);
    }
    return offset;
}

/**
 * c[i] = a[i] b[i] + beta c[i] for every matrix i of a [..., M, K], b [..., K, N] and c [..., M,
 * N] (the same leading sizes; a stride 0, as expand makes, shares a matrix), c's rows
 * contiguous. An operand with neither stride 1 is copied first.
 */
void
Gemms(const at::Tensor& a, const at::Tensor& b, float beta, at::Tensor& c)
{
    const auto readable = [](const at::Tensor& t)
    { return OperandOf(t, nullptr) ? t : t.contiguous(); };
    const auto x = readable(a);
    const auto y = readable(b);
    TORCH_CHECK(c.stride(-1) == 1 || c.size(-1) == 1,
                "product: the output's rows must be contiguous");
    const int64_t m = c.size(-2);
    const int64_t n = c.size(-1);
    const int64_t k = x.size(-1);
    const int64_t ldc = m == 1 ? n : c.stride(-2);
    const int64_t matrices = c.numel() == 0 ? 0 : c.numel() / (m * n);
    for (int64_t i = 0; i < matrices; ++i)
    {
        Gemm(m, n, k, *OperandOf(x, x.data_ptr<float>() + MatrixOffset(x, i)),
             *OperandOf(y, y.data_ptr<float>() + MatrixOffset(y, i)), beta,
             c.data_ptr<float>() + MatrixOffset(c, i), ldc);
    }
}

/** Shapes whose primitives a thread keeps (a run has a few dozen). */
constexpr size_t kMaxPrimitives = 256;

/** @return the CPU engine every primitive here is made and run on */
const dnnl::engine&
Engine()
{
    static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

/**
 * A matmul primitive for one shape and epilogue, with its operands' memory objects (x [M, K],
 * rows ldx apart; w [K, N]: w^T of a contiguous [N, K]; the bias; y), made once and pointed at
 * each call's tensors: making the four objects and the map of arguments for every call cost about
 * as much as a small product itself.
 */
struct AffinePrimitive
{
    dnnl::matmul matmul;
    std::unordered_map<int, dnnl::memory> arguments; //!< DNNL_ARG_SRC, _WEIGHTS, _BIAS, _DST
};

/**
 * @return the matmul of x [M, K] (rows ldx apart) by w^T (w [N, K] contiguous) onto y [M, N]
 * (contiguous) with a bias and then's epilogue: each thread's own (so a call may point its
 * memory objects at its tensors), made once per shape (making one costs microseconds even when
 * oneDNN's own cache has it; a pass makes a dozen products)
 */
AffinePrimitive&
PrimitiveFor(int64_t m, int64_t k, int64_t n, int64_t ldx, Epilogue then)
{
    thread_local std::map<std::array<int64_t, 5>, AffinePrimitive> made;
    const std::array<int64_t, 5> key{m, k, n, ldx, static_cast<int64_t>(then)};
    const auto it = made.find(key);
    if (it != made.end())
    {
        return it->second;
    }
    if (made.size() == kMaxPrimitives)
    {
        made.clear();
    }
    using Dims = dnnl::memory::dims;
    const auto f32 = dnnl::memory::data_type::f32;
    dnnl::post_ops post;
    if (then == Epilogue::Accumulate)
    {
        post.append_sum(1.0F);
    }
    else if (then == Epilogue::Gelu)
    {
        post.append_eltwise(1.0F, dnnl::algorithm::eltwise_gelu_erf, 0.0F, 0.0F);
    }
    dnnl::primitive_attr attributes;
    attributes.set_post_ops(post);
    const dnnl::memory::desc x(Dims{m, k}, f32, Dims{ldx, 1});
    const dnnl::memory::desc w(Dims{k, n}, f32, Dims{1, k});
    const dnnl::memory::desc bias(Dims{1, n}, f32, Dims{n, 1});
    const dnnl::memory::desc y(Dims{m, n}, f32, Dims{n, 1});
    const dnnl::matmul::primitive_desc primitive(dnnl::matmul::desc(x, w, bias, y), attributes,
                                                 Engine());
    // Each memory object gets its data handle at every call (AffineInto); none here.
    const auto memory = [](const dnnl::memory::desc& d)
    { return dnnl::memory(d, Engine(), DNNL_MEMORY_NONE); };
    return made
        .emplace(key, AffinePrimitive{dnnl::matmul(primitive),
                                      {{DNNL_ARG_SRC, memory(x)},
                                       {DNNL_ARG_WEIGHTS, memory(w)},
                                       {DNNL_ARG_BIAS, memory(bias)},
                                       {DNNL_ARG_DST, memory(y)}}})
        .first->second;
}

/** @return bias + x w^T (AffineInto copies x if it must) */
at::Tensor
Affined(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias)
{
    auto y = torch::empty({x.size(0), w.size(0)}, x.options());
    AffineInto(x, w, bias, Epilogue::Store, y);
    return y;
}

/** bias + x w^T, differentiable in x: the input gradient dy w, by oneDNN too. */
struct FrozenAffineFunction : torch::autograd::Function<FrozenAffineFunction>
{
    static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                              const at::Tensor& w, const at::Tensor& bias)
    {
        ctx->save_for_backward({w});
        return Affined(x, w, bias);
    }

    static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::tensor_list grads)
    {
        const auto w = ctx->get_saved_variables()[0];
        const auto dy = grads[0].contiguous();
        auto dx = torch::empty({dy.size(0), w.size(1)}, dy.options());
        Gemms(dy, w, 0, dx);
        return {dx, {}, {}};
    }
};

/** @return x w + bias for every matrix of x and w (an empty bias: none) */
at::Tensor
Multiplied(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias)
{
    auto sizes = x.sizes().vec();
    sizes.back() = w.size(-1);
    const bool biased = bias.numel() > 0;
    auto y = biased ? bias.expand(sizes).contiguous() : torch::empty(sizes, x.options());
    Gemms(x, w, biased ? 1 : 0, y);
    return y;
}

/** Multiplied, differentiable in all three. */
struct ProductsFunction : torch::autograd::Function<ProductsFunction>
{
    static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                              const at::Tensor& w, const at::Tensor& bias)
    {
        ctx->save_for_backward({x, w});
        return Multiplied(x, w, bias);
    }

    static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::tensor_list grads)
    {
        const auto saved = ctx->get_saved_variables();
        const auto& x = saved[0];
        const auto& w = saved[1];
        const auto& dy = grads[0];
        torch::autograd::tensor_list result(3);
        if (ctx->needs_input_grad(0))
        {
            result[0] = torch::empty(x.sizes(), dy.options());
            Gemms(dy, w.transpose(-1, -2), 0, result[0]);
        }
        if (ctx->needs_input_grad(1))
        {
            result[1] = torch::empty(w.sizes(), dy.options());
            Gemms(x.transpose(-1, -2), dy, 0, result[1]);
        }
        if (ctx->needs_input_grad(2))
        {
            result[2] = dy.reshape({-1, dy.size(-1)}).sum(0);
        }
        return result;
    }
};

} // namespace

void
AddProduct(const at::Tensor& x, const at::Tensor& w, at::Tensor& y)
{
    TORCH_CHECK(x.dim() == 2 && w.dim() == 2 && y.dim() == 2, "AddProduct: 2-d operands");
    TORCH_CHECK(x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat &&
                    y.scalar_type() == at::kFloat,
                "AddProduct: float32 operands");
    TORCH_CHECK(w.size(1) == x.size(1) && y.size(0) == x.size(0) && y.size(1) == w.size(0),
                "AddProduct: x ", x.sizes(), ", w ", w.sizes(), " and y ", y.sizes(),
                " do not match");
    TORCH_CHECK(x.stride(1) == 1 && w.stride(1) == 1 && y.is_contiguous(),
                "AddProduct: rows must be contiguous");
    Gemms(x, w.t(), 1, y);
}

at::Tensor
FrozenAffine(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias)
{
    TORCH_CHECK(!w.requires_grad() && !bias.requires_grad(),
                "FrozenAffine: the weight and bias must be frozen");
    // Without autograd (evaluation), the product alone: a function's node costs a microsecond.
    return torch::GradMode::is_enabled() ? FrozenAffineFunction::apply(x, w, bias)
                                         : Affined(x, w, bias);
}

void
AffineInto(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias, Epilogue then,
           at::Tensor& y)
{
    TORCH_CHECK(x.dim() == 2 && w.dim() == 2 && bias.dim() == 1 && y.dim() == 2,
                "AffineInto: 2-d operands and a 1-d bias");
    TORCH_CHECK(x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat &&
                    bias.scalar_type() == at::kFloat && y.scalar_type() == at::kFloat,
                "AffineInto: float32 operands");
    TORCH_CHECK(w.size(1) == x.size(1) && bias.size(0) == w.size(0) && y.size(0) == x.size(0) &&
                    y.size(1) == w.size(0),
                "AffineInto: x ", x.sizes(), ", w ", w.sizes(), ", bias ", bias.sizes(), " and y ",
                y.sizes(), " do not match");
    TORCH_CHECK(w.is_contiguous() && bias.is_contiguous() && y.is_contiguous(),
                "AffineInto: w, the bias and y must be contiguous");
    const int64_t m = x.size(0);
    const int64_t k = x.size(1);
    const int64_t n = w.size(0);
    if (y.numel() == 0)
    {
        return;
    }
    if (k == 0) // an empty product: the bias alone
    {
        const auto biases = bias.expand({m, n});
        if (then == Epilogue::Accumulate)
        {
            y += biases;
        }
        else
        {
            y.copy_(then == Epilogue::Gelu ? at::gelu(biases) : biases);
        }
        return;
    }
    // x's rows as oneDNN reads them: contiguous, each after the one before.
    const bool rowsReadable = (x.stride(1) == 1 || k == 1) && (m == 1 || x.stride(0) >= k);
    const auto rows = rowsReadable ? x : x.contiguous();
    auto& primitive = PrimitiveFor(m, k, n, m == 1 ? k : rows.stride(0), then);
    thread_local dnnl::stream stream(Engine());
    // oneDNN's memory objects take non-const pointers; it does not write its inputs.
    for (const auto& [argument, tensor] : {std::pair<int, const at::Tensor*>{DNNL_ARG_SRC, &rows},
                                           {DNNL_ARG_WEIGHTS, &w},
                                           {DNNL_ARG_BIAS, &bias},
                                           {DNNL_ARG_DST, &y}})
    {
        primitive.arguments.at(argument).set_data_handle(
            const_cast<float*>(tensor->data_ptr<float>()));
    }
    primitive.matmul.execute(stream, primitive.arguments);
    stream.wait();
}

at::Tensor
Products(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias)
{
    TORCH_CHECK(x.dim() >= 2 && x.dim() == w.dim() && x.size(-1) == w.size(-2) &&
                    x.sizes().slice(0, x.dim() - 2) == w.sizes().slice(0, w.dim() - 2),
                "Products: x ", x.sizes(), " and w ", w.sizes(), " do not match");
    TORCH_CHECK(x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat,
                "Products: float32 operands");
    TORCH_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == w.size(-1)),
                "Products: the bias must have one value per output column");
    // No bias is an empty one: autograd takes no undefined tensor.
    const auto biases = bias.defined() ? bias : at::empty({0}, x.options());
    return torch::GradMode::is_enabled() ? ProductsFunction::apply(x, w, biases)
                                         : Multiplied(x, w, biases);
}

} // namespace tadlora
