// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "checkpoint.h"

namespace ptscope::core {

// Reads a .safetensors file ([u64 header length][JSON header][tensor bytes]) into the same model
// as a torch.save file: a dict of tensors whose bytes stay in the memory map. Validates the way
// the reference reader does (header size, JSON, dtypes, contiguous non-overlapping offsets,
// sizes matching shapes, the buffer ending at the end of the file) and rejects duplicate names.
Status readSafetensors(Checkpoint &cp);

} // namespace ptscope::core
