// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// Plain C++ interface to the GPU backend: no CUDA and no Qt header is reachable from here.
#include <string>

namespace ptscope::cuda {

// True when this build contains CUDA code.
bool compiledWithCuda();

// Number of usable CUDA devices; 0 when none, when the driver is missing or too old, or when
// the build has no CUDA code. `reason` (optional) receives why it is 0.
int cudaDeviceCount(std::string *reason = nullptr);

// "NVIDIA H100 80GB HBM3 (compute 9.0, 79 GiB)" for device `index`, or empty.
std::string cudaDeviceName(int index);

} // namespace ptscope::cuda
