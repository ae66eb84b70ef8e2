// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include <Qt>

namespace ptscope::ui {

// Custom roles shared by the tree models and the filter proxy.
enum ModelRole {
    SortRole = Qt::UserRole,  // raw numbers for numeric columns, text otherwise
    FilterRole,               // text the filter box matches: key, dtype, shape
    TensorRole,               // index into Checkpoint::tensors, -1 for groups and non-tensors
    NodeIdRole,               // the model's node id (stable while the model is not reset)
    ValueIdRole,              // ObjectTreeModel: the arena value id
    KeyRole,                  // full dotted key (tensor tree) or joined object path (object tree)
};

} // namespace ptscope::ui
