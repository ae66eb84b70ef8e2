// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "result.h"

#include <cstdint>
#include <span>
#include <string>

namespace ptscope::core {

enum class Container { Zip, Legacy, Pickle, Safetensors, ShardIndex, Refused };

struct Sniff
{
    Container container = Container::Refused;
    Error error; // when refused: what the file is and what to do
};

// Decides from the first bytes (never the extension) what a file is. Files that are not
// checkpoints get an error that names what they are: empty, a Git LFS pointer, an HTML page,
// a truncated download, an image, another format.
Sniff sniffFormat(std::span<const std::uint8_t> bytes);

} // namespace ptscope::core
