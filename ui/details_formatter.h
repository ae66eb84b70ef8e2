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

// The security banner: the scan's verdict (core/security_scan.h), a headline, and one line per
// finding plus what torch.load(weights_only=True) would do. `level` is empty for a safe file.
struct SecurityBanner
{
    QString level; // "suspicious" or "dangerous"; empty: no banner
    QString headline;
    QStringList lines;  // one per finding, most severe first
    QString weightsOnly; // what torch >= 2.6's default torch.load would do
};
SecurityBanner securityBanner(const core::Checkpoint &cp);

} // namespace details

} // namespace ptscope::ui
