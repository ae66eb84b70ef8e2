// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// Runs a program (ptscope-cli by default) the way a script would, for the command-line tests.
#include <QByteArray>
#include <QProcess>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

namespace ptscope::test {

struct Run
{
    int exitCode = -1;
    QProcess::ExitStatus status = QProcess::CrashExit; // stays CrashExit when it did not finish in time
    QByteArray out;
    QByteArray err;
};

inline Run runProgram(const QString &program, const QStringList &args, const QString &workingDirectory = {},
                      const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment())
{
    QProcess p;
    p.setProcessEnvironment(env);
    if (!workingDirectory.isEmpty())
        p.setWorkingDirectory(workingDirectory);
    p.start(program, args);
    Run r;
    if (!p.waitForFinished(240000)) {
        p.kill();
        p.waitForFinished();
        return r;
    }
    r.exitCode = p.exitCode();
    r.status = p.exitStatus();
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

#ifdef PTSCOPE_CLI_PATH
inline Run runCli(const QStringList &args)
{
    return runProgram(QStringLiteral(PTSCOPE_CLI_PATH), args);
}
#endif

} // namespace ptscope::test
