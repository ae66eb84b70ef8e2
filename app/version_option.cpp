// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "version_option.h"

#include "device_info.h"

#include <cstring>

namespace ptscope::app {

bool wantsVersion(int argc, const char *const *argv)
{
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0)
            return false; // what follows is a file name, even "--version"
        if (std::strcmp(argv[i], "--version") == 0 || std::strcmp(argv[i], "-v") == 0)
            return true;
    }
    return false;
}

std::string versionText(const std::string &program)
{
    std::string text = program + " " PTSCOPE_VERSION " (commit " PTSCOPE_GIT_COMMIT ")\n";
    std::string reason;
    const int devices = ptscope::cuda::cudaDeviceCount(&reason);
    if (!ptscope::cuda::compiledWithCuda())
        text += "CUDA: not compiled in (CPU backend only)\n";
    else if (devices == 0)
        text += "CUDA: compiled in; no usable device (" + reason + ")\n";
    else
        text += "CUDA: compiled in; " + std::to_string(devices) + " device(s), first: " + cuda::cudaDeviceName(0)
            + "\n";
    return text;
}

} // namespace ptscope::app
