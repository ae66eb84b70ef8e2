// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "compare_filter_proxy.h"

#include "compare_model.h"

namespace ptscope::ui {

CompareFilterProxy::CompareFilterProxy(QObject *parent)
    : QSortFilterProxyModel(parent)
{
    setRecursiveFilteringEnabled(true);
    setDynamicSortFilter(false);
}

CompareFilterProxy::~CompareFilterProxy() = default;

void CompareFilterProxy::setFilterText(const QString &text)
{
    if (text == m_text)
        return;
    m_text = text;
    m_words = text.split(QLatin1Char(' '), Qt::SkipEmptyParts);
    invalidateFilter();
}

void CompareFilterProxy::setProblemsOnly(bool on)
{
    if (on == m_problemsOnly)
        return;
    m_problemsOnly = on;
    invalidateFilter();
}

bool CompareFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    if (m_words.isEmpty() && !m_problemsOnly)
        return true;
    const QModelIndex index = sourceModel()->index(sourceRow, 0, sourceParent);
    // Groups are decided by their keys (recursive filtering keeps them when one is accepted).
    if (index.data(CompareModel::AlignedRole).toInt() < 0)
        return false;
    const QString key = index.data(CompareModel::FullKeyRole).toString();
    for (const QString &word : m_words) {
        if (!key.contains(word, Qt::CaseInsensitive))
            return false;
    }
    return !m_problemsOnly || index.data(CompareModel::ProblemRole).toBool();
}

} // namespace ptscope::ui
