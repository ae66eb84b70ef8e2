// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "core_compare.h"

#include <QAbstractItemModel>
#include <QColor>
#include <QHash>
#include <QString>

#include <memory>
#include <vector>

namespace ptscope::ui {

// One load_state_dict comparison, immutable once built (in a worker): the model (target), the
// dict being loaded (source), what torch does with it, and every key of both sides aligned.
struct CompareData
{
    core::ModelStructure model;
    core::SourceStateDict source;
    core::LoadOutcome outcome;
    std::vector<core::AlignedKey> keys;
};

// Both sides of a comparison as one tree grouped by module path, so that two views showing the
// source columns and the target columns line up row for row: a key one side lacks leaves that
// side's cells blank. Rows are coloured by what load_state_dict does with the key.
class CompareModel final : public QAbstractItemModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CompareModel)

public:
    enum Column { SourceKey, SourceShape, SourceDtype, TargetKey, TargetShape, TargetDtype, Status, ColumnCount };
    enum Role {
        StatusRole = Qt::UserRole + 64, // int(core::KeyStatus) for keys; invalid for groups
        ProblemRole,                     // bool: the key, or something below the group, is a problem
        AlignedRole,                     // index into CompareData::keys; -1 for groups
        FullKeyRole,                     // the dotted key ("layer1.0" for a group)
        HasSourceRole,                   // bool: the key, or one below the group, is in the checkpoint
        HasTargetRole,                   // bool: ... in the model
    };

    struct Node
    {
        int parent = -1;
        int row = 0;
        std::vector<int> children;
        QString name;
        QString key;
        int aligned = -1; // CompareData::keys index when the node is a key
        bool hasSource = false; // the key, or one below, is in the checkpoint
        bool hasTarget = false; // ... in the model
        int counts[8] = {}; // keys below by status
    };

    explicit CompareModel(QObject *parent = nullptr);
    ~CompareModel() override;

    void setData(std::shared_ptr<const CompareData> data);
    const std::shared_ptr<const CompareData> &compareData() const { return m_data; }
    const Node *node(const QModelIndex &index) const;
    const core::AlignedKey *alignedKey(const QModelIndex &index) const;
    QModelIndex indexForKey(const QString &key, int column = 0) const;

    // Row colours, readable on light and dark palettes: translucent tints over the view's base.
    static QColor statusColor(core::KeyStatus status);
    static QString statusText(core::KeyStatus status);

    QModelIndex index(int row, int column, const QModelIndex &parent = {}) const override;
    QModelIndex parent(const QModelIndex &child) const override;
    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    int childNamed(int parent, const QString &name, const QString &key);
    QString summary(const Node &n) const;

    std::shared_ptr<const CompareData> m_data;
    std::vector<Node> m_nodes; // m_nodes[0] is the invisible root
    std::vector<int> m_keyNodes; // CompareData::keys index -> node
    QHash<QString, int> m_nodeByKey; // dotted path -> node (paths are unique)
};

} // namespace ptscope::ui
