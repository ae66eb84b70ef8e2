// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "compare_model.h"

#include "checkpoint.h"

#include <QBrush>
#include <QFont>
#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcCompareModel, "ptscope.ui.compare_model", QtWarningMsg)

namespace ptscope::ui {

using core::KeyStatus;

namespace {

constexpr int kStatuses = 8;

QString shapeText(const std::vector<std::int64_t> &shape)
{
    return QString::fromStdString(core::formatShape(shape));
}

} // namespace

CompareModel::CompareModel(QObject *parent)
    : QAbstractItemModel(parent)
{
    m_nodes.emplace_back();
}

CompareModel::~CompareModel() = default;

QColor CompareModel::statusColor(KeyStatus status)
{
    // Saturated hues at low alpha: a light tint on a white base, a dark one on a dark base, and the
    // palette's own text colour stays readable on both.
    switch (status) {
    case KeyStatus::Matched:
        return QColor(40, 167, 69, 45);
    case KeyStatus::DtypeDiffers:
        return QColor(13, 110, 253, 70);
    case KeyStatus::ShapeMismatch:
        return QColor(253, 126, 20, 105);
    case KeyStatus::Missing:
        return QColor(220, 53, 69, 90);
    case KeyStatus::Unexpected:
        return QColor(155, 89, 182, 95);
    case KeyStatus::Error:
        return QColor(200, 0, 0, 140);
    case KeyStatus::Ignored:
        return QColor(128, 128, 128, 80);
    case KeyStatus::FilledIn:
        return QColor(23, 162, 184, 60);
    }
    return {};
}

QString CompareModel::statusText(KeyStatus status)
{
    switch (status) {
    case KeyStatus::Matched:
        return tr("matched");
    case KeyStatus::DtypeDiffers:
        return tr("dtype differs");
    case KeyStatus::ShapeMismatch:
        return tr("shape mismatch");
    case KeyStatus::Missing:
        return tr("missing");
    case KeyStatus::Unexpected:
        return tr("unexpected");
    case KeyStatus::Error:
        return tr("error");
    case KeyStatus::Ignored:
        return tr("ignored");
    case KeyStatus::FilledIn:
        return tr("filled in");
    }
    return {};
}

int CompareModel::childNamed(int parent, const QString &name, const QString &key)
{
    if (const auto it = m_nodeByKey.constFind(key); it != m_nodeByKey.constEnd())
        return it.value();
    Node n;
    n.parent = parent;
    n.row = int(m_nodes[std::size_t(parent)].children.size());
    n.name = name;
    n.key = key;
    m_nodes.push_back(std::move(n));
    const int id = int(m_nodes.size()) - 1;
    m_nodes[std::size_t(parent)].children.push_back(id);
    m_nodeByKey.insert(key, id);
    return id;
}

void CompareModel::setData(std::shared_ptr<const CompareData> data)
{
    beginResetModel();
    m_data = std::move(data);
    m_nodes.clear();
    m_nodes.emplace_back();
    m_keyNodes.clear();
    m_nodeByKey.clear();
    if (m_data) {
        m_keyNodes.reserve(m_data->keys.size());
        for (std::size_t i = 0; i < m_data->keys.size(); ++i) {
            const core::AlignedKey &a = m_data->keys[i];
            const QString key = QString::fromStdString(a.key);
            const QStringList parts = key.split(QLatin1Char('.'));
            int node = 0;
            QString path;
            for (const QString &part : parts) {
                path = path.isEmpty() ? part : path + QLatin1Char('.') + part;
                node = childNamed(node, part, path);
            }
            m_nodes[std::size_t(node)].aligned = int(i);
            m_keyNodes.push_back(node);
            const bool inSource = a.sourceEntry >= 0;
            for (int n = node; n > 0; n = m_nodes[std::size_t(n)].parent) {
                Node &x = m_nodes[std::size_t(n)];
                x.hasSource = x.hasSource || inSource;
                x.hasTarget = x.hasTarget || a.inTarget;
                ++x.counts[int(a.status)];
            }
        }
    }
    endResetModel();
}

const CompareModel::Node *CompareModel::node(const QModelIndex &index) const
{
    if (!index.isValid() || index.model() != this)
        return nullptr;
    return &m_nodes[std::size_t(index.internalId())];
}

const core::AlignedKey *CompareModel::alignedKey(const QModelIndex &index) const
{
    const Node *n = node(index);
    if (!n || n->aligned < 0 || !m_data)
        return nullptr;
    return &m_data->keys[std::size_t(n->aligned)];
}

QModelIndex CompareModel::indexForKey(const QString &key, int column) const
{
    const auto it = m_nodeByKey.constFind(key);
    if (it == m_nodeByKey.constEnd() || m_nodes[std::size_t(it.value())].aligned < 0)
        return {};
    return createIndex(m_nodes[std::size_t(it.value())].row, column, quintptr(it.value()));
}

QModelIndex CompareModel::index(int row, int column, const QModelIndex &parent) const
{
    if (row < 0 || column < 0 || column >= ColumnCount)
        return {};
    const std::size_t p = parent.isValid() ? std::size_t(parent.internalId()) : 0;
    if (p >= m_nodes.size() || row >= int(m_nodes[p].children.size()))
        return {};
    return createIndex(row, column, quintptr(m_nodes[p].children[std::size_t(row)]));
}

QModelIndex CompareModel::parent(const QModelIndex &child) const
{
    if (!child.isValid())
        return {};
    const int p = m_nodes[std::size_t(child.internalId())].parent;
    if (p <= 0)
        return {};
    return createIndex(m_nodes[std::size_t(p)].row, 0, quintptr(p));
}

int CompareModel::rowCount(const QModelIndex &parent) const
{
    if (parent.isValid() && parent.column() != 0)
        return 0;
    const std::size_t p = parent.isValid() ? std::size_t(parent.internalId()) : 0;
    return p < m_nodes.size() ? int(m_nodes[p].children.size()) : 0;
}

int CompareModel::columnCount(const QModelIndex &) const
{
    return ColumnCount;
}

QString CompareModel::summary(const Node &n) const
{
    QStringList parts;
    for (int s = 0; s < kStatuses; ++s) {
        if (s != int(KeyStatus::Matched) && n.counts[s] > 0)
            parts << QStringLiteral("%1 %2").arg(n.counts[s]).arg(statusText(KeyStatus(s)));
    }
    if (parts.isEmpty())
        return n.counts[int(KeyStatus::Matched)] > 0 ? tr("all %1 matched").arg(n.counts[int(KeyStatus::Matched)])
                                                      : QString();
    return parts.join(QStringLiteral(", "));
}

QVariant CompareModel::data(const QModelIndex &index, int role) const
{
    const Node *n = node(index);
    if (!n || !m_data)
        return {};
    const core::AlignedKey *a = n->aligned >= 0 ? &m_data->keys[std::size_t(n->aligned)] : nullptr;
    const core::SourceEntry *e
        = a && a->sourceEntry >= 0 ? &m_data->source.entries[std::size_t(a->sourceEntry)] : nullptr;
    const core::ModuleSlot *slot = a ? core::targetSlot(m_data->model, *a) : nullptr;
    const int column = index.column();
    const bool sourceSide = column <= SourceDtype;
    const bool targetSide = column >= TargetKey && column <= TargetDtype;
    const bool present = sourceSide ? (a ? e != nullptr : n->hasSource) : targetSide ? (a ? a->inTarget : n->hasTarget)
                                                                                    : true;
    bool problem = false;
    for (int s = 0; s < kStatuses; ++s)
        problem = problem || (n->counts[s] > 0 && core::isProblem(KeyStatus(s)));

    switch (role) {
    case Qt::DisplayRole:
        if (!present)
            return {};
        switch (column) {
        case SourceKey:
        case TargetKey:
            return n->name;
        case SourceShape:
            if (!e)
                return {};
            return e->isTensor ? shapeText(e->shape) : QString::fromStdString(e->pythonType);
        case SourceDtype:
            return e && e->isTensor ? QString::fromStdString(e->dtype) : QString();
        case TargetShape:
            if (!a)
                return {};
            return slot ? shapeText(slot->shape) : tr("extra state");
        case TargetDtype:
            return slot ? QString::fromStdString(slot->dtype) : QString();
        case Status:
            return a ? statusText(a->status) : summary(*n);
        }
        return {};
    case Qt::ToolTipRole:
        if (a)
            return QStringLiteral("<b>%1</b>: %2<br>%3")
                .arg(QString::fromStdString(a->key).toHtmlEscaped(), statusText(a->status),
                     QString::fromStdString(a->note).toHtmlEscaped());
        return QStringLiteral("<b>%1</b><br>%2").arg(n->key.toHtmlEscaped(), summary(*n));
    case Qt::BackgroundRole:
        if (!a)
            return {};
        // The side without the key is hatched in the row's colour: a blank that still says why.
        return present ? QBrush(statusColor(a->status)) : QBrush(statusColor(a->status), Qt::BDiagPattern);
    case Qt::FontRole:
        if (column == Status && a && core::isProblem(a->status)) {
            QFont f;
            f.setBold(true);
            return f;
        }
        return {};
    case StatusRole:
        return a ? QVariant(int(a->status)) : QVariant();
    case ProblemRole:
        return problem;
    case AlignedRole:
        return n->aligned;
    case FullKeyRole:
        return n->key;
    case HasSourceRole:
        return a ? a->sourceEntry >= 0 : n->hasSource;
    case HasTargetRole:
        return a ? a->inTarget : n->hasTarget;
    default:
        return {};
    }
}

QVariant CompareModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case SourceKey:
        return tr("Checkpoint key");
    case SourceShape:
    case TargetShape:
        return tr("Shape");
    case SourceDtype:
    case TargetDtype:
        return tr("Dtype");
    case TargetKey:
        return tr("Model key");
    case Status:
        return tr("load_state_dict");
    }
    return {};
}

} // namespace ptscope::ui
