// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// ptscope-cli's PDF writer, loaded with dlopen only for `report --format pdf`: the rest of the
// command-line tool never loads Qt, so it starts in milliseconds.
#include "report.h"
#include "report_pdf.h"

#include <QByteArray>
#include <QGuiApplication>
#include <QString>

#include <cstdio>
#include <string>

// Writes `doc` to `path` as PDF; returns an empty string on success, else why not.
extern "C" __attribute__((visibility("default"))) bool ptscopeWriteReportPdf(
    const ptscope::core::ReportDocument *doc, const char *path, std::string *error)
{
    // QPainter needs a GUI application, not a display: always the offscreen platform, so that a
    // QT_QPA_PLATFORM meant for the desktop app (xcb without a display, ...) cannot abort us.
    qputenv("QT_QPA_PLATFORM", QByteArrayLiteral("offscreen"));
    int argc = 1;
    char name[] = "ptscope-cli";
    char *argv[] = {name, nullptr};
    // Qt's own chatter (XDG_RUNTIME_DIR not set, ...) is not the user's concern here.
    qInstallMessageHandler([](QtMsgType type, const QMessageLogContext &, const QString &message) {
        if (type == QtCriticalMsg || type == QtFatalMsg)
            std::fprintf(stderr, "ptscope-cli: %s\n", qPrintable(message));
    });
    QGuiApplication app(argc, argv);
    const QString failure = ptscope::ui::writeReportPdf(*doc, QString::fromUtf8(path));
    if (!failure.isEmpty())
        *error = failure.toStdString();
    return failure.isEmpty();
}
