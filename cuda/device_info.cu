// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "device_info.h"

#include <cuda_runtime.h>

#include <cstdio>

namespace ptscope::cuda {

bool compiledWithCuda()
{
    return true;
}

int cudaDeviceCount(std::string *reason)
{
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        // No device, no driver and an insufficient driver all mean "use the CPU".
        if (reason)
            *reason = std::string("CUDA unavailable: ") + cudaGetErrorString(err);
        cudaGetLastError();
        return 0;
    }
    if (count == 0 && reason)
        *reason = "no CUDA device found";
    return count;
}

std::string cudaDeviceName(int index)
{
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, index) != cudaSuccess) {
        cudaGetLastError();
        return {};
    }
    char buf[512];
    std::snprintf(buf, sizeof buf, "%s (compute %d.%d, %.0f GiB)", prop.name, prop.major, prop.minor,
                  static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
    return buf;
}

} // namespace ptscope::cuda
