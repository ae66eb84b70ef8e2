// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// The CPU-only twin of cuda_histogram_backend.cpp, for builds without a CUDA toolkit: no backend,
// with the reason. Callers then use the CPU backend for everything, the statistics and the value
// comparison (compare, pairHistogram) alike.
#include "cuda_histogram_backend.h"

namespace ptscope::cuda {

std::unique_ptr<core::HistogramBackend> makeCudaHistogramBackend(std::string *whyNot)
{
    if (whyNot)
        *whyNot = "this build of ptscope has no CUDA backend (built without CUDA: PTSCOPE_CUDA=OFF or no toolkit)";
    return nullptr;
}

} // namespace ptscope::cuda
