// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "settings.h"

#include <QLoggingCategory>
#include <QSettings>

Q_LOGGING_CATEGORY(lcSettings, "ptscope.ui.settings", QtWarningMsg)

namespace ptscope::ui {

namespace {
constexpr int kSettingsVersion = 1;
}

Settings::Settings(QObject *parent)
    : QObject(parent)
{
}

Settings::~Settings() = default;

void Settings::migrate()
{
    QSettings s;
    if (s.value(QStringLiteral("version"), 0).toInt() < kSettingsVersion)
        s.setValue(QStringLiteral("version"), kSettingsVersion);
}

void Settings::load()
{
    migrate();
    QSettings s;
    s.beginGroup(QStringLiteral("window"));
    m_geometry = s.value(QStringLiteral("geometry")).toByteArray();
    m_windowState = s.value(QStringLiteral("state")).toByteArray();
    m_splitterState = s.value(QStringLiteral("splitter")).toByteArray();
    m_rightSplitterState = s.value(QStringLiteral("rightSplitter")).toByteArray();
    s.endGroup();
    s.beginGroup(QStringLiteral("histogram"));
    m_histogramBins = qBound(2, s.value(QStringLiteral("bins"), 64).toInt(), 4096);
    m_logCounts = s.value(QStringLiteral("logCounts"), false).toBool();
    m_logMagnitude = s.value(QStringLiteral("logMagnitude"), false).toBool();
    m_perTensor = s.value(QStringLiteral("perTensor"), false).toBool();
    s.endGroup();
    m_recent = RecentFiles(s.value(QStringLiteral("recentFiles")).toStringList());
    m_recent.pruneMissing();
    emit recentFilesChanged();
}

void Settings::save() const
{
    QSettings s;
    s.beginGroup(QStringLiteral("window"));
    s.setValue(QStringLiteral("geometry"), m_geometry);
    s.setValue(QStringLiteral("state"), m_windowState);
    s.setValue(QStringLiteral("splitter"), m_splitterState);
    s.setValue(QStringLiteral("rightSplitter"), m_rightSplitterState);
    s.endGroup();
    s.beginGroup(QStringLiteral("histogram"));
    s.setValue(QStringLiteral("bins"), m_histogramBins);
    s.setValue(QStringLiteral("logCounts"), m_logCounts);
    s.setValue(QStringLiteral("logMagnitude"), m_logMagnitude);
    s.setValue(QStringLiteral("perTensor"), m_perTensor);
    s.endGroup();
    s.setValue(QStringLiteral("recentFiles"), m_recent.files());
}

void Settings::addRecentFile(const QString &path)
{
    m_recent.add(path);
    QSettings().setValue(QStringLiteral("recentFiles"), m_recent.files());
    emit recentFilesChanged();
}

void Settings::clearRecentFiles()
{
    m_recent.clear();
    QSettings().setValue(QStringLiteral("recentFiles"), QStringList());
    emit recentFilesChanged();
}

} // namespace ptscope::ui
