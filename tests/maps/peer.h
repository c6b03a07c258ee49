#pragma once
// Runs tests/maps/maps_peer.py with /usr/bin/python3 and parses its JSON answer; raw float32
// files carry the matrices. A missing Python module is reported so the test can QSKIP.
#include <QProcess>
#include <QString>
#include <QStringList>

#include <nlohmann/json.hpp>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace astroclip::testpeer {

struct PeerAnswer {
    bool ok = false;
    bool missingModule = false;
    QString log;
    nlohmann::json json;
};

inline PeerAnswer runPeer(const QStringList& args, int timeoutMs = 170000) {
    PeerAnswer a;
    QProcess p;
    p.start("/usr/bin/python3", QStringList{QStringLiteral(MAPS_PEER_SCRIPT)} + args);
    if (!p.waitForStarted()) {
        a.missingModule = true;
        a.log = "/usr/bin/python3 is not available";
        return a;
    }
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        a.log = "the Python peer did not finish in time";
        return a;
    }
    const QByteArray out = p.readAllStandardOutput();
    a.log = QString::fromUtf8(out + p.readAllStandardError());
    if (p.exitCode() == 3) {
        a.missingModule = true;
        return a;
    }
    if (p.exitCode() != 0) return a;
    a.json = nlohmann::json::parse(out.toStdString(), nullptr, false);
    a.ok = !a.json.is_discarded();
    return a;
}

inline void writeFloats(const QString& path, const std::vector<float>& v) {
    std::ofstream(path.toStdString(), std::ios::binary)
        .write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
}

inline std::vector<float> readFloats(const QString& path, size_t count) {
    std::vector<float> v(count);
    std::ifstream(path.toStdString(), std::ios::binary)
        .read(reinterpret_cast<char*>(v.data()), std::streamsize(count * sizeof(float)));
    return v;
}

} // namespace astroclip::testpeer
