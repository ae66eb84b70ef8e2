// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// The desktop app: parses the command line and opens the main window; everything else is in ui/.
#include "main_window.h"
#include "mapped_file.h"
#include "version_option.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>
#include <QLoggingCategory>
#include <QPixmap>
#include <QSettings>
#include <QTabWidget>
#include <QTimer>

#include <cstdio>

Q_LOGGING_CATEGORY(lcMain, "ptscope.app.main", QtWarningMsg)

int main(int argc, char *argv[])
{
    // --version before QApplication: it must answer without a display, in ptscope-cli's words.
    if (ptscope::app::wantsVersion(argc, argv)) {
        std::fputs(ptscope::app::versionText("ptscope").c_str(), stdout);
        return 0;
    }
    ptscope::core::raiseOpenFileLimit(); // a descriptor per mapped shard
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("ptscope"));
    QApplication::setOrganizationDomain(QStringLiteral("ptscope.invalid"));
    QApplication::setApplicationName(QStringLiteral("ptscope"));
    QApplication::setApplicationDisplayName(QStringLiteral("ptscope"));
    QApplication::setApplicationVersion(QStringLiteral(PTSCOPE_VERSION " (commit " PTSCOPE_GIT_COMMIT ")"));
    QApplication::setDesktopFileName(QStringLiteral("ptscope"));
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/ptscope.svg")));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Inspect PyTorch checkpoints without Python and without executing their pickle."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("file"), QStringLiteral("Checkpoint to open."), QStringLiteral("[file]"));
    parser.addPositionalArgument(QStringLiteral("target"),
                                 QStringLiteral("With a second file: compare, loading FILE into the model TARGET stands for."),
                                 QStringLiteral("[target]"));
    // For documentation and tests: grab the window once the file and its statistics are shown.
    QCommandLineOption screenshot(QStringLiteral("screenshot"), QStringLiteral("Save a screenshot to FILE and quit."),
                                  QStringLiteral("FILE"));
    screenshot.setFlags(QCommandLineOption::HiddenFromHelp);
    QCommandLineOption select(QStringLiteral("select"), QStringLiteral("Select a state_dict key after opening."),
                              QStringLiteral("KEY"));
    select.setFlags(QCommandLineOption::HiddenFromHelp);
    QCommandLineOption tab(QStringLiteral("tab"), QStringLiteral("Show tab N (0: state dict, 1: objects)."),
                           QStringLiteral("N"));
    tab.setFlags(QCommandLineOption::HiddenFromHelp);
    parser.addOption(tab);
    parser.addOption(screenshot);
    parser.addOption(select);
    parser.process(app);

    ptscope::ui::MainWindow window;
    window.show();
    const QStringList files = parser.positionalArguments();
    if (files.size() >= 2)
        window.compareFiles(files[0], files[1]);
    else if (!files.isEmpty())
        window.openFile(files.first());
    else if (parser.isSet(screenshot) || !QSettings().contains(QStringLiteral("recentFiles")))
        window.openFile(ptscope::ui::MainWindow::samplePaths().value(0)); // a first launch shows something real

    if (parser.isSet(select)) {
        const QString key = parser.value(select);
        QObject::connect(&window, &ptscope::ui::MainWindow::fileOpened, &window,
                         [&window, key] { window.selectKey(key); });
    }
    if (parser.isSet(tab)) {
        const int n = parser.value(tab).toInt();
        QObject::connect(&window, &ptscope::ui::MainWindow::fileOpened, &window, [&window, n] {
            if (auto *tabs = window.findChild<QTabWidget *>(QStringLiteral("tabs")))
                tabs->setCurrentIndex(n);
        });
    }
    if (parser.isSet(screenshot)) {
        const QString target = parser.value(screenshot);
        auto grab = [&window, target] {
            // Let queued replots and layout settle before grabbing.
            QTimer::singleShot(500, &window, [&window, target] {
                if (!window.grab().save(target)) {
                    std::fprintf(stderr, "ptscope: cannot write %s\n", qPrintable(target));
                    QApplication::exit(1);
                    return;
                }
                QApplication::quit();
            });
        };
        QObject::connect(&window, &ptscope::ui::MainWindow::busyChanged, &window, [grab, &window](bool busy) {
            if (!busy && window.checkpoint())
                grab();
        });
        QObject::connect(&window, &ptscope::ui::MainWindow::openFailed, &window, [grab] { grab(); });
        QTimer::singleShot(30000, &app, [] { QApplication::exit(2); });
    }
    return QApplication::exec();
}
