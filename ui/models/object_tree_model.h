// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "value.h"

#include <QAbstractItemModel>
#include <QString>

#include <memory>
#include <vector>

namespace ptscope::core {
struct Checkpoint;
}

namespace ptscope::ui {

// The whole object the file holds (optimizer state, epoch, args, ...), as the core's
// valueChildren() describes it. Built once per file into a flat node vector; a value reached
// again on its own ancestor chain (a cycle) is shown but not expanded, and the tree stops
// growing at kMaxNodes so hostile files cannot exhaust memory.
class ObjectTreeModel final : public QAbstractItemModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ObjectTreeModel)

public:
    enum Column { Name, Summary, ColumnCount };
    static constexpr std::size_t kMaxNodes = 500'000;

    struct Node
    {
        int parent = -1;
        int row = 0;
        std::vector<int> children;
        QString name;
        QString path;                 // joined ObjectPath ("optimizer_state_dict/param_groups/0")
        core::ValueId value = core::kNoValue;
        bool cycle = false;
    };

    explicit ObjectTreeModel(QObject *parent = nullptr);
    ~ObjectTreeModel() override;

    void setCheckpoint(std::shared_ptr<const core::Checkpoint> checkpoint);
    const Node *node(const QModelIndex &index) const;
    bool truncated() const { return m_truncated; }

    QModelIndex index(int row, int column, const QModelIndex &parent = {}) const override;
    QModelIndex parent(const QModelIndex &child) const override;
    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    std::shared_ptr<const core::Checkpoint> m_checkpoint;
    std::vector<Node> m_nodes;
    std::vector<QString> m_summaries; // by node, computed on build
    bool m_truncated = false;
};

} // namespace ptscope::ui
