// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-product.h"

#include <oneapi/dnnl/dnnl.h>
#include <torch/torch.h>

namespace tadlora
{

namespace
{

/** @return the row stride oneDNN reads t [rows, cols] with (a single row's may be anything) */
int64_t
RowStride(const at::Tensor& t)
{
    return t.size(0) == 1 ? t.size(1) : t.stride(0);
}

/** y = x op(w) + beta y, row-major, op(w) = w^T for transposed (w [N, K]) else w ([K, N]) */
void
Gemm(const at::Tensor& x, const at::Tensor& w, bool transposed, float beta, at::Tensor& y)
{
    const int64_t m = x.size(0);
    const int64_t k = x.size(1);
    const int64_t n = y.size(1);
    if (m == 0 || n == 0)
    {
        return;
    }
    if (k == 0) // an empty sum: y = beta y (beta is 0 or 1; y may be uninitialized at 0)
    {
        if (beta == 0)
        {
            y.zero_();
        }
        return;
    }
    const dnnl_status_t status =
        dnnl_sgemm('N', transposed ? 'T' : 'N', m, n, k, 1.0F, x.data_ptr<float>(), RowStride(x),
                   w.data_ptr<float>(), RowStride(w), beta, y.data_ptr<float>(), n);
    TORCH_CHECK(status == dnnl_success, "oneDNN's sgemm failed (status ", status, ")");
}

/** bias + x w^T, differentiable in x: the input gradient dy w, by oneDNN too. */
struct FrozenAffineFunction : torch::autograd::Function<FrozenAffineFunction>
{
    static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                              const at::Tensor& w, const at::Tensor& bias)
    {
        ctx->save_for_backward({w});
        auto y = bias.expand({x.size(0), w.size(0)}).contiguous();
        AddProduct(x, w, y);
        return y;
    }

    static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::tensor_list grads)
    {
        const auto w = ctx->get_saved_variables()[0];
        const auto dy = grads[0].contiguous();
        auto dx = torch::empty({dy.size(0), w.size(1)}, dy.options());
        Gemm(dy, w, false, 0, dx);
        return {dx, {}, {}};
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
    Gemm(x, w, true, 1, y);
}

at::Tensor
FrozenAffine(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias)
{
    TORCH_CHECK(!w.requires_grad() && !bias.requires_grad(),
                "FrozenAffine: the weight and bias must be frozen");
    return FrozenAffineFunction::apply(x.stride(1) == 1 ? x : x.contiguous(), w, bias);
}

} // namespace tadlora
