// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "checkpoint.h"

#include <string>

namespace ptscope::core {

struct InfoJsonOptions
{
    bool pretty = true;
    bool includeObjects = true; // the whole object tree under "objects"
};

// The `ptscope-cli info --json` document (field names fixed by docs/cli-contract.md).
std::string infoJson(const Checkpoint &cp, const InfoJsonOptions &options = {});

} // namespace ptscope::core
