// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// The `ptscope-cli diff --json` document (field names fixed by docs/cli-contract.md) and the value
// comparison it carries, shared by the diff command and reports.

#include "checkpoint.h"
#include "diff_explain.h"
#include "histogram_backend.h"
#include "load_state_dict.h"
#include "value_compare.h"

#include <optional>
#include <string>
#include <vector>

namespace ptscope::core {

// One tensor that load_state_dict copies from the source into the model, compared by value.
struct KeyValueComparison
{
    std::string key;
    std::optional<ValueComparison> cmp;
    std::string problem; // why there is no comparison
};

// Every loaded tensor both files hold (none when `target` is null: a manifest holds no values),
// compared on `backend` (null: the CPU on all cores).
std::vector<KeyValueComparison> compareLoadedValues(const Checkpoint &source, const SourceStateDict &sd,
    const Checkpoint *target, const ModelStructure &model, const LoadOutcome &outcome,
    HistogramBackend *backend = nullptr);

// Which backend compared the values ("cpu", "cuda"; empty: not said), and why not the GPU when
// the choice was automatic and fell back to the CPU.
struct ValuesBackend
{
    std::string name;
    std::string reason;
};

// "manifest", "torchscript", "whole_model" or "state_dict".
std::string diffTargetKind(const Checkpoint *target, const ModelStructure &model);

// The whole document, pretty-printed, with a trailing newline.
std::string diffJson(const Checkpoint &source, const SourceStateDict &sd, const std::string &sourceArg,
    const Checkpoint *target, const std::string &targetArg, const ModelStructure &model, const SourceContext &ctx,
    const DiffReport &report, TorchRules rules, const std::vector<KeyValueComparison> &values, bool valuesRequested,
    const ValuesBackend &valuesBackend = {});

} // namespace ptscope::core
