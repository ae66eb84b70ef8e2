// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "recent_files.h"

#include <QFileInfo>

namespace ptscope::ui {

RecentFiles::RecentFiles(QStringList files)
{
    for (auto it = files.crbegin(); it != files.crend(); ++it)
        add(*it);
}

void RecentFiles::add(const QString &path)
{
    if (path.isEmpty())
        return;
    m_files.removeAll(path);
    m_files.prepend(path);
    while (m_files.size() > kMax)
        m_files.removeLast();
}

void RecentFiles::remove(const QString &path)
{
    m_files.removeAll(path);
}

void RecentFiles::pruneMissing()
{
    m_files.removeIf([](const QString &f) { return !f.startsWith(QLatin1Char(':')) && !QFileInfo::exists(f); });
}

} // namespace ptscope::ui
