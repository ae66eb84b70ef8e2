// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "about_dialog.h"

#include "compute_backend.h"
#include "device_info.h"

#include <QMessageBox>
#include <QObject>
#include <QThread>

#ifndef PTSCOPE_GIT_COMMIT
#define PTSCOPE_GIT_COMMIT "unknown"
#endif

namespace ptscope::ui {

QString aboutText()
{
    const QString note = computeBackendNote();
    QString backend = computeBackendDescription();
    if (!note.isEmpty())
        backend += QStringLiteral(" (%1)").arg(note);
    backend = backend.toHtmlEscaped();
    return QObject::tr("<h3>ptscope %1</h3>"
                       "<p>Inspects and compares PyTorch checkpoints without Python and without executing their "
                       "pickle.</p>"
                       "<p>Commit: <code>%2</code><br>Qt %3 (built with %4)<br>CUDA support compiled in: %5<br>"
                       "Compute backend: %6</p>")
        .arg(QStringLiteral(PTSCOPE_VERSION), QStringLiteral(PTSCOPE_GIT_COMMIT), QString::fromLatin1(qVersion()),
             QStringLiteral(QT_VERSION_STR), cuda::compiledWithCuda() ? QObject::tr("yes") : QObject::tr("no"),
             backend);
}

void showAboutDialog(QWidget *parent)
{
    QMessageBox::about(parent, QObject::tr("About ptscope"), aboutText());
}

} // namespace ptscope::ui
