// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// Why load_state_dict fails (or silently does something else), in plain words, and how to fix
// it: every difference between a checkpoint and a model is classified by its cause, and each fix
// comes with ready-to-paste Python whose effect is checked by running the emulation again.

#include "checkpoint.h"
#include "load_state_dict.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ptscope::core {

// What the user's torch.load(SOURCE) returns, beyond the state dict itself.
struct SourceContext
{
    std::string file = "checkpoint.pt"; // SOURCE as the user named it (goes into the code)
    std::string accessor; // Python that gets the state dict from torch.load's result:
                          // "" (the object itself), "[\"state_dict\"]", ".state_dict()" ...
    bool rootIsModule = false; // torch.load returns an nn.Module (torch.save(model))
    bool torchScript = false; // a TorchScript file: torch.jit.load(...).state_dict()
    bool safetensors = false; // safetensors.torch.load_file(...)
    bool sharded = false; // shards merged through their index
    bool nested = false; // the state dict is inside the loaded object
    std::string rootType; // "dict", "<class '__main__.Net'>", ...
    std::vector<std::string> rootKeys; // top-level keys when the loaded object is a dict
    bool lightning = false; // a PyTorch Lightning checkpoint
    std::optional<LoadOutcome> wholeFile; // load_state_dict(torch.load(SOURCE)) when that differs
    std::vector<std::string> otherStateDicts; // other state dicts in the file (EMA copies ...), as accessors
};

// Builds the context for the state dict `source` read from `cp`.
SourceContext sourceContext(const Checkpoint &cp, const SourceStateDict &source, const ModelStructure &target,
    TorchRules rules, const std::string &fileArgument);

struct DiffCause
{
    std::string kind; // "prefix", "nested", "whole_model", "head", "width", "shape", "batchnorm", "ema",
                      // "tied", "dtype", "device", "non_tensor", "none_child", "non_persistent", "none_slot",
                      // "extra_state", "instancenorm", "zero_dim", "meta", "torch_version",
                      // "non_strict_trap", "rename", "ignored", "unexplained", "exact"
    std::string title; // one line
    std::string explanation; // plain words
    std::vector<std::string> keys; // the keys concerned (may be truncated for display by front ends)
};

struct DiffSuggestion
{
    std::string kind; // "load_nested", "state_dict_of_module", "map_location", "strip_prefix",
                      // "add_prefix", "replace_prefix", "rename", "drop_ema", "load_ema",
                      // "drop_head", "fill_num_batches_tracked", "copy_tied", "drop_keys",
                      // "strict_false", "rebuild_model"
    std::string title;
    std::string explanation;
    std::string code; // ready-to-paste Python (`model` is the target model)
    bool verified = false; // the fix was applied to the keys and load_state_dict emulated again
    bool strictOkAfter = false;
    bool nonStrictOkAfter = false;
    std::size_t loadedAfter = 0;
    std::vector<std::string> missingAfter;
    std::vector<std::string> unexpectedAfter;
    // The dict the emulation was run on again (the fix and the fixes listed before it applied to
    // the keys), for front ends that preview a fix; null when not verified.
    std::shared_ptr<const SourceStateDict> sourceAfter;
};

struct DiffReport
{
    LoadOutcome outcome;
    std::vector<DiffCause> causes;
    std::vector<DiffSuggestion> suggestions;
    std::size_t targetKeys = 0; // tensors the model's state_dict holds
};

DiffReport explainDiff(
    const ModelStructure &target, const SourceStateDict &source, const SourceContext &context, TorchRules rules);

// A Python string literal for `s` (double quotes, escapes as Python reads them).
std::string pythonString(const std::string &s);

// The key transformations the fixes apply, with the semantics of the Python they print (the
// _metadata entries follow the keys, so BatchNorm's version check is unchanged).
SourceStateDict renamePrefix(const SourceStateDict &sd, const std::string &oldPrefix, const std::string &newPrefix);
SourceStateDict dropKeys(
    const SourceStateDict &sd, const std::vector<std::string> &keys, const std::vector<std::string> &prefixes);

} // namespace ptscope::core
