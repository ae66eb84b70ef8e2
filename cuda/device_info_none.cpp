// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "device_info.h"

namespace ptscope::cuda {

bool compiledWithCuda()
{
    return false;
}

int cudaDeviceCount(std::string *reason)
{
    if (reason)
        *reason = "this build of ptscope has no CUDA backend";
    return 0;
}

std::string cudaDeviceName(int)
{
    return {};
}

} // namespace ptscope::cuda
