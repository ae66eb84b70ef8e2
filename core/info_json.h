// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "checkpoint.h"

#include <functional>
#include <string>
#include <string_view>

namespace ptscope::core {

struct InfoJsonOptions
{
    bool pretty = true;
    bool includeObjects = true; // the whole object tree under "objects"
};

// The `ptscope-cli info --json` document (field names fixed by docs/cli-contract.md).
std::string infoJson(const Checkpoint &cp, const InfoJsonOptions &options = {});
// The same document passed to `sink` piece by piece as it is written (about a megabyte at a time).
void writeInfoJson(const Checkpoint &cp, const InfoJsonOptions &options,
                   const std::function<void(std::string_view)> &sink);

} // namespace ptscope::core
