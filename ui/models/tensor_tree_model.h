// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "tensor_stats.h"

#include <QAbstractItemModel>
#include <QString>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace ptscope::core {
struct Checkpoint;
}

namespace ptscope::ui {

// The state_dict grouped by module path: "layer1.0.conv1.weight" sits under layer1 > 0 > conv1.
// Nodes live in one flat vector; an index's internal id is its node id. Statistics arrive later
// (from a background job) and live in a side table keyed by tensor index.
class TensorTreeModel final : public QAbstractItemModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(TensorTreeModel)

public:
    enum Column { Name, Shape, Dtype, Parameters, Size, Device, Mean, Std, Min, Max, ColumnCount };

    struct Node
    {
        int parent = -1;
        int row = 0;
        std::vector<int> children;
        QString name;                // last path component
        QString key;                 // full dotted key ("layer1.0" for a group)
        std::int32_t tensor = -1;    // leaf tensor; -1 for groups and non-tensor entries
        bool isGroup = false;
        std::uint64_t tensors = 0;   // tensors below (1 for a tensor leaf)
        std::uint64_t parameters = 0;
        std::uint64_t bytes = 0;
        std::map<QString, std::uint64_t> dtypeBytes; // dtype mix below
        QString summary;             // non-tensor entries (e.g. _extra_state)
    };

    explicit TensorTreeModel(QObject *parent = nullptr);
    ~TensorTreeModel() override;

    void setCheckpoint(std::shared_ptr<const core::Checkpoint> checkpoint);
    const std::shared_ptr<const core::Checkpoint> &checkpoint() const { return m_checkpoint; }
    void setStats(std::uint32_t tensor, const core::TensorStats &stats);
    const core::TensorStats *stats(std::uint32_t tensor) const;

    const Node *node(const QModelIndex &index) const;
    // Every tensor at or below the node (a group's members, in state_dict order).
    std::vector<std::uint32_t> tensorsBelow(const QModelIndex &index) const;
    QModelIndex indexForKey(const QString &key) const;
    QString dtypeMixText(const Node &node) const; // "float32 18.9 KB, int64 16 B"
    QString dtypeNames(const Node &node) const;   // "float32, int64"

    QModelIndex index(int row, int column, const QModelIndex &parent = {}) const override;
    QModelIndex parent(const QModelIndex &child) const override;
    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    int childNamed(int parent, const QString &name);
    QModelIndex indexOfNode(int node, int column) const;

    std::shared_ptr<const core::Checkpoint> m_checkpoint;
    std::vector<Node> m_nodes;              // m_nodes[0] is the invisible root
    std::vector<std::optional<core::TensorStats>> m_stats; // by tensor index
    std::vector<std::vector<int>> m_tensorNodes;           // tensor index -> leaf nodes
};

} // namespace ptscope::ui
