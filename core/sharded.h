// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "checkpoint.h"

namespace ptscope::core {

// Opens a sharded checkpoint through its index (pytorch_model.bin.index.json,
// model.safetensors.index.json: {"metadata": {"total_size": N}, "weight_map": {key: shard}}) and
// presents the shards as one state_dict, each tensor remembering its shard. Shards may be
// torch.save files or safetensors; a missing shard, a key the index puts in a shard that does not
// hold it, and a shard holding keys the index does not list are reported as warnings.
Status readShardIndex(Checkpoint &cp, const OpenOptions &options);

} // namespace ptscope::core
