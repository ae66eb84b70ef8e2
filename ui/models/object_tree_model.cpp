// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "object_tree_model.h"

#include "model_roles.h"

#include "checkpoint.h"
#include "checkpoint_analysis.h"

#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcObjectTreeModel, "ptscope.ui.object_tree_model", QtWarningMsg)

namespace ptscope::ui {

ObjectTreeModel::ObjectTreeModel(QObject *parent)
    : QAbstractItemModel(parent)
{
    m_nodes.emplace_back();
    m_summaries.emplace_back();
}

ObjectTreeModel::~ObjectTreeModel() = default;

void ObjectTreeModel::setCheckpoint(std::shared_ptr<const core::Checkpoint> checkpoint)
{
    beginResetModel();
    m_checkpoint = std::move(checkpoint);
    m_nodes.clear();
    m_summaries.clear();
    m_truncated = false;
    m_nodes.emplace_back();
    m_summaries.emplace_back();
    if (m_checkpoint && m_checkpoint->arena.valid(m_checkpoint->root)) {
        const auto &cp = *m_checkpoint;
        auto addNode = [&](int parent, QString name, core::ValueId value) {
            Node n;
            n.parent = parent;
            n.row = int(m_nodes[std::size_t(parent)].children.size());
            const QString &parentPath = m_nodes[std::size_t(parent)].path;
            n.path = parent == 0 ? name : parentPath + QLatin1Char('/') + name;
            n.name = std::move(name);
            n.value = value;
            m_nodes.push_back(std::move(n));
            m_summaries.push_back(QString::fromStdString(core::valueSummary(cp, value)));
            const int id = int(m_nodes.size() - 1);
            m_nodes[std::size_t(parent)].children.push_back(id);
            return id;
        };
        // Breadth-first so a size cap cuts the deepest levels, not whole top-level entries.
        std::vector<int> queue;
        queue.push_back(addNode(0, tr("(root)"), cp.root));
        if (cp.arena.valid(cp.constantsRoot))
            queue.push_back(addNode(0, tr("(constants)"), cp.constantsRoot));
        for (std::size_t head = 0; head < queue.size(); ++head) {
            const int id = queue[head];
            const core::ValueId value = m_nodes[std::size_t(id)].value;
            for (int a = m_nodes[std::size_t(id)].parent; a > 0; a = m_nodes[std::size_t(a)].parent) {
                if (m_nodes[std::size_t(a)].value == value) {
                    m_nodes[std::size_t(id)].cycle = true;
                    break;
                }
            }
            if (m_nodes[std::size_t(id)].cycle)
                continue;
            for (auto &[label, child] : core::valueChildren(cp, value)) {
                if (m_nodes.size() >= kMaxNodes) {
                    m_truncated = true;
                    break;
                }
                queue.push_back(addNode(id, QString::fromStdString(label), child));
            }
            if (m_truncated)
                break;
        }
        if (m_truncated)
            qCWarning(lcObjectTreeModel) << "object tree truncated at" << kMaxNodes << "nodes";
    }
    endResetModel();
}

const ObjectTreeModel::Node *ObjectTreeModel::node(const QModelIndex &index) const
{
    if (!index.isValid() || index.model() != this)
        return nullptr;
    return &m_nodes[index.internalId()];
}

QModelIndex ObjectTreeModel::index(int row, int column, const QModelIndex &parent) const
{
    if (row < 0 || column < 0 || column >= ColumnCount || (parent.isValid() && parent.column() != 0))
        return {};
    const std::size_t p = parent.isValid() ? parent.internalId() : 0;
    const auto &children = m_nodes[p].children;
    if (std::size_t(row) >= children.size())
        return {};
    return createIndex(row, column, quintptr(children[std::size_t(row)]));
}

QModelIndex ObjectTreeModel::parent(const QModelIndex &child) const
{
    if (!child.isValid())
        return {};
    const int p = m_nodes[child.internalId()].parent;
    if (p <= 0)
        return {};
    return createIndex(m_nodes[std::size_t(p)].row, 0, quintptr(p));
}

int ObjectTreeModel::rowCount(const QModelIndex &parent) const
{
    if (parent.isValid() && parent.column() != 0)
        return 0;
    const std::size_t p = parent.isValid() ? parent.internalId() : 0;
    return int(m_nodes[p].children.size());
}

int ObjectTreeModel::columnCount(const QModelIndex &) const
{
    return ColumnCount;
}

QVariant ObjectTreeModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || !m_checkpoint)
        return {};
    const Node &n = m_nodes[index.internalId()];
    switch (role) {
    case Qt::DisplayRole:
    case SortRole:
        if (index.column() == Name)
            return n.name;
        if (n.cycle)
            return QString(m_summaries[index.internalId()] + tr(" (cycle: shown above)"));
        return m_summaries[index.internalId()];
    case Qt::ToolTipRole:
        return n.path;
    case FilterRole:
        return QString(n.path + QLatin1Char(' ') + m_summaries[index.internalId()]);
    case ValueIdRole:
        return qulonglong(n.value);
    case TensorRole: {
        const auto &v = m_checkpoint->arena[n.value];
        return v.kind == core::ValueKind::Tensor ? int(v.aux) : -1;
    }
    case NodeIdRole:
        return qulonglong(index.internalId());
    case KeyRole:
        return n.path;
    default:
        return {};
    }
}

QVariant ObjectTreeModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    return section == Name ? tr("Name") : tr("Value");
}

} // namespace ptscope::ui
