// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "value.h"

#include <QString>
#include <QStringList>

#include <cstdint>
#include <vector>

namespace ptscope::core {
struct Checkpoint;
struct TensorStats;
} // namespace ptscope::core

namespace ptscope::ui {

// HTML for the details pane and text for the security banner. Only formats what the core
// already knows; no format logic here.
namespace details {

// The state_dict key of a tensor, else the first object path that reaches it.
QString tensorName(const core::Checkpoint &cp, std::uint32_t tensor);
QString tensorHtml(const core::Checkpoint &cp, std::uint32_t tensor, const core::TensorStats *stats);
QString groupHtml(const core::Checkpoint &cp, const QString &key, const std::vector<std::uint32_t> &tensors,
                  const QString &dtypeMix, const core::TensorStats *stats);
QString valueHtml(const core::Checkpoint &cp, core::ValueId value, const QString &path);
QString fileHtml(const core::Checkpoint &cp);
QString statsHtml(const core::TensorStats &stats);

// What the security banner lists: the reader's warnings and every global outside
// torch/collections/builtins (and the few plain-data modules torch checkpoints use).
QStringList securityFindings(const core::Checkpoint &cp);

} // namespace details

} // namespace ptscope::ui
