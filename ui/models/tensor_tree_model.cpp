// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "tensor_tree_model.h"

#include "model_roles.h"

#include "checkpoint.h"
#include "checkpoint_analysis.h"

#include <QLocale>
#include <QLoggingCategory>

#include <cmath>

Q_LOGGING_CATEGORY(lcTensorTreeModel, "ptscope.ui.tensor_tree_model", QtWarningMsg)

namespace ptscope::ui {

namespace {

QString statText(double v)
{
    if (std::isnan(v))
        return QStringLiteral("–");
    return QString::number(v, 'g', 4);
}

} // namespace

TensorTreeModel::TensorTreeModel(QObject *parent)
    : QAbstractItemModel(parent)
{
    m_nodes.emplace_back();
}

TensorTreeModel::~TensorTreeModel() = default;

int TensorTreeModel::childNamed(int parent, const QString &name)
{
    for (int child : m_nodes[parent].children) {
        if (m_nodes[child].isGroup && m_nodes[child].name == name)
            return child;
    }
    Node group;
    group.parent = parent;
    group.row = int(m_nodes[parent].children.size());
    group.name = name;
    group.key = m_nodes[parent].key.isEmpty() ? name : m_nodes[parent].key + QLatin1Char('.') + name;
    group.isGroup = true;
    m_nodes.push_back(std::move(group));
    const int id = int(m_nodes.size() - 1);
    m_nodes[parent].children.push_back(id);
    return id;
}

void TensorTreeModel::setCheckpoint(std::shared_ptr<const core::Checkpoint> checkpoint)
{
    beginResetModel();
    m_checkpoint = std::move(checkpoint);
    m_nodes.clear();
    m_nodes.emplace_back();
    m_nodes[0].isGroup = true;
    m_stats.clear();
    m_tensorNodes.clear();
    if (m_checkpoint) {
        const auto &cp = *m_checkpoint;
        m_stats.resize(cp.tensors.size());
        m_tensorNodes.resize(cp.tensors.size());
        for (const auto &entry : cp.stateDict.entries) {
            const QStringList parts = QString::fromStdString(entry.key).split(QLatin1Char('.'));
            int parent = 0;
            for (qsizetype i = 0; i + 1 < parts.size(); ++i)
                parent = childNamed(parent, parts[i]);
            Node leaf;
            leaf.parent = parent;
            leaf.row = int(m_nodes[parent].children.size());
            leaf.name = parts.back();
            leaf.key = QString::fromStdString(entry.key);
            leaf.tensor = entry.tensor;
            if (entry.tensor >= 0 && std::size_t(entry.tensor) < cp.tensors.size()) {
                const auto &t = cp.tensors[std::size_t(entry.tensor)];
                leaf.tensors = 1;
                leaf.parameters = t.numel;
                leaf.bytes = t.nbytes;
                leaf.dtypeBytes[QString::fromStdString(t.dtype)] = t.nbytes;
            } else {
                leaf.tensor = -1;
                leaf.summary = QString::fromStdString(core::valueSummary(cp, entry.value));
            }
            m_nodes.push_back(std::move(leaf));
            const int id = int(m_nodes.size() - 1);
            m_nodes[parent].children.push_back(id);
            if (m_nodes[id].tensor >= 0)
                m_tensorNodes[std::size_t(m_nodes[id].tensor)].push_back(id);
            // Totals per group, bottom-up along the parent chain.
            const Node &l = m_nodes[id];
            for (int p = parent; p >= 0; p = m_nodes[p].parent) {
                Node &g = m_nodes[p];
                g.tensors += l.tensors;
                g.parameters += l.parameters;
                g.bytes += l.bytes;
                for (const auto &[dtype, bytes] : l.dtypeBytes)
                    g.dtypeBytes[dtype] += bytes;
            }
        }
    }
    endResetModel();
}

void TensorTreeModel::setStats(std::uint32_t tensor, const core::TensorStats &stats)
{
    if (tensor >= m_stats.size())
        return;
    m_stats[tensor] = stats;
    for (int id : m_tensorNodes[tensor])
        emit dataChanged(indexOfNode(id, Mean), indexOfNode(id, Max));
}

const core::TensorStats *TensorTreeModel::stats(std::uint32_t tensor) const
{
    if (tensor >= m_stats.size() || !m_stats[tensor])
        return nullptr;
    return &*m_stats[tensor];
}

const TensorTreeModel::Node *TensorTreeModel::node(const QModelIndex &index) const
{
    if (!index.isValid() || index.model() != this)
        return nullptr;
    return &m_nodes[index.internalId()];
}

std::vector<std::uint32_t> TensorTreeModel::tensorsBelow(const QModelIndex &index) const
{
    std::vector<std::uint32_t> out;
    std::vector<int> stack{index.isValid() ? int(index.internalId()) : 0};
    // Depth-first in row order so the result follows the state_dict order.
    while (!stack.empty()) {
        const int id = stack.back();
        stack.pop_back();
        const Node &n = m_nodes[id];
        if (n.tensor >= 0)
            out.push_back(std::uint32_t(n.tensor));
        for (auto it = n.children.rbegin(); it != n.children.rend(); ++it)
            stack.push_back(*it);
    }
    return out;
}

QModelIndex TensorTreeModel::indexForKey(const QString &key) const
{
    for (std::size_t i = 1; i < m_nodes.size(); ++i) {
        if (m_nodes[i].key == key)
            return indexOfNode(int(i), 0);
    }
    return {};
}

QString TensorTreeModel::dtypeNames(const Node &node) const
{
    QStringList names;
    for (const auto &[dtype, bytes] : node.dtypeBytes)
        names << dtype;
    return names.join(QStringLiteral(", "));
}

QString TensorTreeModel::dtypeMixText(const Node &node) const
{
    if (node.dtypeBytes.size() == 1)
        return node.dtypeBytes.begin()->first;
    QStringList parts;
    for (const auto &[dtype, bytes] : node.dtypeBytes)
        parts << dtype + QStringLiteral(" ") + QString::fromStdString(core::formatBytes(bytes));
    return parts.join(QStringLiteral(", "));
}

QModelIndex TensorTreeModel::indexOfNode(int node, int column) const
{
    if (node <= 0)
        return {};
    return createIndex(m_nodes[node].row, column, quintptr(node));
}

QModelIndex TensorTreeModel::index(int row, int column, const QModelIndex &parent) const
{
    if (row < 0 || column < 0 || column >= ColumnCount)
        return {};
    const int p = parent.isValid() ? int(parent.internalId()) : 0;
    if (parent.isValid() && parent.column() != 0)
        return {};
    const auto &children = m_nodes[p].children;
    if (std::size_t(row) >= children.size())
        return {};
    return createIndex(row, column, quintptr(children[std::size_t(row)]));
}

QModelIndex TensorTreeModel::parent(const QModelIndex &child) const
{
    if (!child.isValid())
        return {};
    return indexOfNode(m_nodes[child.internalId()].parent, 0);
}

int TensorTreeModel::rowCount(const QModelIndex &parent) const
{
    if (parent.isValid() && parent.column() != 0)
        return 0;
    const int p = parent.isValid() ? int(parent.internalId()) : 0;
    return int(m_nodes[p].children.size());
}

int TensorTreeModel::columnCount(const QModelIndex &) const
{
    return ColumnCount;
}

QVariant TensorTreeModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || !m_checkpoint)
        return {};
    const Node &n = m_nodes[index.internalId()];
    const core::TensorInfo *t = n.tensor >= 0 ? &m_checkpoint->tensors[std::size_t(n.tensor)] : nullptr;
    const core::TensorStats *s = n.tensor >= 0 ? stats(std::uint32_t(n.tensor)) : nullptr;
    const int column = index.column();

    switch (role) {
    case Qt::DisplayRole:
        switch (column) {
        case Name:
            return n.name;
        case Shape:
            if (t)
                return QString::fromStdString(core::formatShape(t->shape));
            if (n.isGroup)
                return tr("%n tensor(s)", nullptr, int(n.tensors));
            return n.summary;
        case Dtype:
            if (t)
                return QString::fromStdString(t->dtype);
            return dtypeNames(n);
        case Parameters:
            return (t || n.isGroup) ? QLocale().toString(qulonglong(n.parameters)) : QVariant();
        case Size:
            return (t || n.isGroup) ? QString::fromStdString(core::formatBytes(n.bytes)) : QVariant();
        case Device:
            return t ? QString::fromStdString(t->device) : QVariant();
        case Mean:
            return s ? statText(s->mean) : QVariant();
        case Std:
            return s ? statText(s->std) : QVariant();
        case Min:
            return s ? statText(s->min) : QVariant();
        case Max:
            return s ? statText(s->max) : QVariant();
        default:
            return {};
        }
    case SortRole:
        switch (column) {
        case Shape:
            return t ? QVariant(qulonglong(t->numel)) : QVariant(qulonglong(n.tensors));
        case Parameters:
            return qulonglong(n.parameters);
        case Size:
            return qulonglong(n.bytes);
        case Mean:
            return s ? s->mean : QVariant();
        case Std:
            return s ? s->std : QVariant();
        case Min:
            return s ? s->min : QVariant();
        case Max:
            return s ? s->max : QVariant();
        default:
            return data(index, Qt::DisplayRole);
        }
    case Qt::TextAlignmentRole:
        if (column == Parameters || column == Size || column >= Mean)
            return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case Qt::ToolTipRole:
        if (column == Name)
            return n.key;
        if (column == Dtype && n.isGroup)
            return dtypeMixText(n);
        if (t && !t->problem.empty())
            return QString::fromStdString(t->problem);
        return {};
    case FilterRole: {
        QString text = n.key;
        if (t) {
            text += QLatin1Char(' ') + QString::fromStdString(t->dtype) + QLatin1Char(' ')
                + QString::fromStdString(core::formatShape(t->shape));
        }
        return text;
    }
    case TensorRole:
        return n.tensor;
    case NodeIdRole:
        return qulonglong(index.internalId());
    case KeyRole:
        return n.key;
    default:
        return {};
    }
}

QVariant TensorTreeModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return {};
    if (role == Qt::TextAlignmentRole) {
        if (section == Parameters || section == Size || section >= Mean)
            return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    }
    if (role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Name:
        return tr("Key");
    case Shape:
        return tr("Shape");
    case Dtype:
        return tr("Dtype");
    case Parameters:
        return tr("Parameters");
    case Size:
        return tr("Size");
    case Device:
        return tr("Device");
    case Mean:
        return tr("Mean");
    case Std:
        return tr("Std");
    case Min:
        return tr("Min");
    case Max:
        return tr("Max");
    default:
        return {};
    }
}

} // namespace ptscope::ui
