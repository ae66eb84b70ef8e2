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
        // No device, no driver and an insufficient driver all mean "use the CPU"; the reason tells
        // them apart, since the runtime reports a missing driver as an insufficient one.
        if (reason) {
            int driver = 0;
            int runtime = 0;
            cudaRuntimeGetVersion(&runtime);
            const bool haveDriver = cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0;
            char buf[256];
            if (err == cudaErrorInsufficientDriver && !haveDriver)
                std::snprintf(buf, sizeof buf, "CUDA unavailable: no NVIDIA driver is installed (libcuda.so.1 not found)");
            else if (err == cudaErrorInsufficientDriver)
                std::snprintf(buf, sizeof buf,
                              "CUDA unavailable: the NVIDIA driver supports CUDA %d.%d, this build needs %d.%d or newer",
                              driver / 1000, driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10);
            else
                std::snprintf(buf, sizeof buf, "CUDA unavailable: %s", cudaGetErrorString(err));
            *reason = buf;
        }
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
