#pragma once
// Runs the astroclip executable and the Python peer for the integration tests.
#include <QProcess>
#include <QString>
#include <QStringList>

struct RunResult {
    int exitCode = -1;
    QString out, err;
};

inline RunResult runProgram(const QString& program, const QStringList& args, int timeoutMs = 600000) {
    QProcess p;
    p.start(program, args);
    RunResult r;
    if (!p.waitForStarted(10000)) { r.err = "could not start " + program; return r; }
    p.waitForFinished(timeoutMs);
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

inline RunResult runAstroclip(const QStringList& args) { return runProgram(QString(ASTROCLIP_BIN_DIR) + "/astroclip", args); }
inline QString fixtureSurvey() { return QString(ASTROCLIP_TEST_FIXTURE_DIR) + "/survey"; }
