// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// The two sides of a load_state_dict comparison key by key: every key the model or the checkpoint
// holds, with what load_state_dict does with it, for front ends that show both side by side.

#include "checkpoint.h"
#include "load_state_dict.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ptscope::core {

enum class KeyStatus {
    Matched,       // loaded: same shape, same dtype
    DtypeDiffers,  // loaded with a cast (copy_ converts)
    ShapeMismatch, // "size mismatch for ..."
    Missing,       // the model's key is not in the checkpoint
    Unexpected,    // the checkpoint's key is not in the model
    Error,         // a non-tensor value, or a copy that raises (meta tensors)
    Ignored,       // torch neither loads nor reports it
    FilledIn,      // not in the checkpoint, filled in by torch (BatchNorm's num_batches_tracked)
};

const char *keyStatusName(KeyStatus status); // "matched", "dtype", "shape", "missing", ...
// Whatever is not a plain load (nor torch's own fill-in) is worth a look.
inline bool isProblem(KeyStatus s)
{
    return s != KeyStatus::Matched && s != KeyStatus::FilledIn;
}

struct AlignedKey
{
    std::string key;
    KeyStatus status = KeyStatus::Matched;
    std::int32_t sourceEntry = -1; // index in SourceStateDict::entries; -1: not in the checkpoint
    std::int32_t module = -1;      // the model's slot (ModelStructure::modules / ModuleNode::slots); -1: none
    std::int32_t slot = -1;
    bool inTarget = false;         // one of model.state_dict()'s keys
    std::string note;              // what happens to it, in words
};

// The model's state_dict keys in its order, then the checkpoint's other keys in theirs, each
// classified by `outcome` (emulateLoadStateDict(model, source, ...)).
std::vector<AlignedKey> alignKeys(const ModelStructure &model, const SourceStateDict &source, const LoadOutcome &outcome);

// The model's parameter or buffer a key names; null when it has none (extra state, a checkpoint-only key).
const ModuleSlot *targetSlot(const ModelStructure &model, const AlignedKey &key);

// Where a file holds something load_state_dict could take: the state dict its reader found
// first, then every other dict (up to `maxDepth` steps below the root) whose values are mostly
// tensors (EMA copies, a model and a discriminator, ...).
std::vector<ObjectPath> stateDictCandidates(const Checkpoint &cp, std::size_t maxDepth = 3);

} // namespace ptscope::core
