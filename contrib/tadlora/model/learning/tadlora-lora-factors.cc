// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-lora-factors.h"

#include <torch/torch.h>

namespace tadlora
{

namespace
{

/** @return factors with f(tensor, its factor, its layer) in place of each of the given ones */
template<typename F>
LoraFactors
Map(const LoraFactors& factors, F f)
{
    LoraFactors mapped;
    for (size_t l = 0; l < factors.Layers(); ++l)
    {
        mapped.a.push_back(f(factors.a[l], Factor::A, l));
        mapped.b.push_back(f(factors.b[l], Factor::B, l));
    }
    return mapped;
}

} // namespace

LoraFactors::LoraFactors(const std::vector<at::Tensor>& shared, const std::vector<int64_t>& outputs,
                         int64_t models)
{
    for (size_t l = 0; l < shared.size(); ++l)
    {
        a.push_back(shared[l].unsqueeze(0).repeat({models, 1, 1}).contiguous());
        b.push_back(torch::zeros({models, outputs[l], shared[l].size(0)}));
    }
}

int64_t
LoraFactors::Models() const
{
    return a.empty() ? 0 : a.front().size(0);
}

size_t
LoraFactors::Layers() const
{
    return a.size();
}

std::vector<at::Tensor>&
LoraFactors::Of(Factor factor)
{
    return factor == Factor::A ? a : b;
}

const std::vector<at::Tensor>&
LoraFactors::Of(Factor factor) const
{
    return factor == Factor::A ? a : b;
}

LoraFactors
LoraFactors::Select(const at::Tensor& models) const
{
    return Map(*this,
               [&](const at::Tensor& t, Factor, size_t) { return t.index_select(0, models); });
}

void
LoraFactors::Assign(const at::Tensor& models, const LoraFactors& values)
{
    torch::NoGradGuard noGrad;
    for (size_t l = 0; l < a.size(); ++l)
    {
        a[l].index_copy_(0, models, values.a[l]);
        b[l].index_copy_(0, models, values.b[l]);
    }
}

LoraFactors
LoraFactors::Clone() const
{
    return Map(*this, [](const at::Tensor& t, Factor, size_t) { return t.detach().clone(); });
}

LoraFactors
LoraFactors::Mean() const
{
    torch::NoGradGuard noGrad;
    return Map(*this, [](const at::Tensor& t, Factor, size_t) { return t.mean(0, true); });
}

LoraFactors
LoraFactors::Append(const LoraFactors& more) const
{
    return Map(*this,
               [&](const at::Tensor& t, Factor factor, size_t layer) {
                   return torch::cat({t, more.Of(factor)[layer]});
               });
}

Disagreement
LoraFactors::Diagnose() const
{
    torch::NoGradGuard noGrad;
    Disagreement d{0, 0, 0};
    for (size_t l = 0; l < a.size(); ++l)
    {
        // In double, the mean of identical float32 values is exact: agreement measures as 0.
        const auto al = a[l].to(torch::kDouble);
        const auto bl = b[l].to(torch::kDouble);
        auto centredA = al - al.mean(0, true); // [G, r, d_in]
        auto centredB = bl - bl.mean(0, true); // [G, d_out, r]
        d.consensusA += centredA.pow(2).sum().item<double>() / al.size(0);
        d.consensusB += centredB.pow(2).sum().item<double>() / bl.size(0);
        d.crossTerm += torch::bmm(centredB, centredA).mean(0).norm().item<double>();
    }
    return d;
}

std::vector<float>
LoraFactors::Values(int64_t model, Factor factor) const
{
    std::vector<float> values;
    for (const auto& layer : Of(factor))
    {
        auto flat = layer[model].contiguous().view({-1});
        values.insert(values.end(), flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
    }
    return values;
}

std::vector<std::pair<uint32_t, uint32_t>>
LoraFactors::Shapes(Factor factor) const
{
    std::vector<std::pair<uint32_t, uint32_t>> shapes;
    for (const auto& layer : Of(factor))
    {
        shapes.emplace_back(static_cast<uint32_t>(layer.size(1)),
                            static_cast<uint32_t>(layer.size(2)));
    }
    return shapes;
}

} // namespace tadlora
