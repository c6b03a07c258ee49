// Atomic writes (a failed write never touches the existing file), JSON side files, and the
// weights+JSON checkpoint pair whose SHA-256 record refuses damaged or mismatched weights.
#include "core/checkpoint/atomic_file.h"
#include "core/checkpoint/checkpoint.h"
#include "core/checkpoint/sha256.h"
#include "core/common/error.h"

#include <QDir>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

using namespace astroclip;

namespace {

std::string readBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void writeBytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

std::vector<TensorData> smallModel(float scale) {
    std::vector<float> weight(24), bias(6);
    for (int i = 0; i < 24; ++i) weight[i] = scale * float(i) - 3.0f;
    for (int i = 0; i < 6; ++i) bias[i] = scale * 0.5f * float(i);
    return {TensorData::fromFloats("head.weight", {6, 4}, weight), TensorData::fromFloats("head.bias", {6}, bias, DType::BF16)};
}

template <class Fn>
QString fileErrorOf(Fn&& fn) {
    try {
        fn();
    } catch (const FileError& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

} // namespace

class TestCheckpoint : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string path(const char* name) const { return (dir_.path() + "/" + name).toStdString(); }
    QStringList folderEntries(const QString& folder) const {
        return QDir(folder).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot, QDir::Name);
    }

private Q_SLOTS:
    void sha256MatchesKnownDigests() {  // FIPS 180-2 examples
        QCOMPARE(QString::fromStdString(sha256Hex({})),
                 QString("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        const std::string abc = "abc";
        QCOMPARE(QString::fromStdString(sha256Hex(std::span(reinterpret_cast<const uint8_t*>(abc.data()), 3))),
                 QString("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    }

    void exceptionMidWriteKeepsOldFile() {
        const QString folder = dir_.path() + "/midwrite";
        QDir().mkpath(folder);
        const std::string target = (folder + "/model.safetensors").toStdString();
        writeSafetensors(target, std::span<const TensorData>(smallModel(1.0f)));
        const std::string before = readBytes(target);
        try {
            AtomicFile file(target);
            file.write(std::string_view(before).substr(0, before.size() / 2));
            QVERIFY(QFile::exists(QString::fromStdString(file.temporaryPath())));
            throw std::runtime_error("simulated crash of the producer half-way");
        } catch (const std::runtime_error&) {
        }
        QCOMPARE(readBytes(target), before);
        QCOMPARE(folderEntries(folder), QStringList{"model.safetensors"});  // no temporary left behind
        // A writer that refuses its input before writing also leaves the old file alone.
        TensorData broken = smallModel(2.0f)[0];
        broken.bytes.pop_back();
        QVERIFY_THROWS_EXCEPTION(UsageError, writeSafetensors(target, std::span<const TensorData>(&broken, 1)));
        QCOMPARE(readBytes(target), before);
        QCOMPARE(folderEntries(folder), QStringList{"model.safetensors"});
    }

    void failedRenameKeepsTargetAndCleansUp() {
        // The rename at commit fails when the target is a folder: the data was fully written
        // and synced, yet nothing may change under the final name and no temporary may remain.
        const QString folder = dir_.path() + "/rename";
        QDir().mkpath(folder + "/model.safetensors/inside");
        const QString error = fileErrorOf([&] {
            writeSafetensors((folder + "/model.safetensors").toStdString(), std::span<const TensorData>(smallModel(1.0f)));
        });
        QVERIFY2(error.contains("cannot replace the file") && error.contains("previous file, if any, is unchanged"),
                 qPrintable(error));
        QVERIFY(QDir(folder + "/model.safetensors/inside").exists());
        QCOMPARE(folderEntries(folder), QStringList{"model.safetensors"});
    }

    void missingFolderRefused() {
        const QString error = fileErrorOf([&] { writeJsonAtomic(path("no/such/folder/x.json"), {{"a", 1}}); });
        QVERIFY2(error.contains("cannot create a temporary file in folder") && error.contains("no/such/folder"),
                 qPrintable(error));
    }

    void jsonSideFileRoundTripAndMalformed() {
        const nlohmann::json info = {{"step", 1200}, {"config", {{"width", 384}, {"depth", 12}}}, {"loss", 0.25}};
        writeJsonAtomic(path("info.json"), info);
        QCOMPARE(readJsonFile(path("info.json")), info);
        writeBytes(path("bad.json"), "{\"step\": 12,\n \"config\": }");
        const QString error = fileErrorOf([&] { readJsonFile(path("bad.json")); });
        QVERIFY2(error.startsWith(QString::fromStdString(path("bad.json")) + ": is not valid JSON (byte"), qPrintable(error));
        QVERIFY(fileErrorOf([&] { readJsonFile(path("absent.json")); }).contains("cannot open the JSON file"));
    }

    void checkpointRoundTrip() {
        const auto tensors = smallModel(0.5f);
        const nlohmann::json info = {{"step", 300}, {"metrics", {{"loss", 1.5}}}, {"data", {{"catalog", "sim.sqlite"}}}};
        saveCheckpoint(dir_.path().toStdString(), "ck", std::span<const TensorData>(tensors), info);
        const Checkpoint back = loadCheckpoint(dir_.path().toStdString(), "ck");
        QCOMPARE(back.info["step"].get<int>(), 300);
        QCOMPARE(back.info["data"]["catalog"].get<std::string>(), std::string("sim.sqlite"));
        QCOMPARE(back.info[kCheckpointWeightsKey]["file"].get<std::string>(), std::string("ck.safetensors"));
        // The recorded digest is the file's, as an independent tool computes it.
        QProcess sha;
        sha.start("sha256sum", {QString::fromStdString(path("ck.safetensors"))});
        if (sha.waitForFinished(10000) && sha.exitCode() == 0)
            QCOMPARE(QString::fromUtf8(sha.readAll()).section(' ', 0, 0),
                     QString::fromStdString(back.info[kCheckpointWeightsKey]["sha256"].get<std::string>()));
        QCOMPARE(back.weights.metadata().at("format"), std::string("pt"));
        for (const auto& want : tensors) {
            const TensorView& got = back.weights.get(want.name);
            QCOMPARE(got.dtype, want.dtype);
            QVERIFY(std::equal(got.bytes.begin(), got.bytes.end(), want.bytes.begin(), want.bytes.end()));
        }
        // Saving a loaded description again replaces its weights record rather than failing.
        saveCheckpoint(dir_.path().toStdString(), "ck2", std::span<const TensorData>(smallModel(2.0f)), back.info);
        QCOMPARE(loadCheckpoint(dir_.path().toStdString(), "ck2").info[kCheckpointWeightsKey]["file"].get<std::string>(),
                 std::string("ck2.safetensors"));
    }

    void damagedOrMismatchedCheckpointRefused() {
        const std::string dir = (dir_.path() + "/pairs").toStdString();
        QDir().mkpath(QString::fromStdString(dir));
        saveCheckpoint(dir, "a", std::span<const TensorData>(smallModel(1.0f)), {{"step", 1}});
        saveCheckpoint(dir, "b", std::span<const TensorData>(smallModel(3.0f)), {{"step", 2}});
        const auto a = checkpointPaths(dir, "a");
        const auto b = checkpointPaths(dir, "b");
        const std::string expected = "checkpoint a is damaged: its weights file does not match the checksum recorded in a.json";

        std::string bytes = readBytes(a.weights);  // one flipped bit in the data buffer
        bytes[bytes.size() - 3] ^= 0x04;
        writeBytes(a.weights, bytes);
        QString error = fileErrorOf([&] { loadCheckpoint(dir, "a"); });
        QVERIFY2(error == QString::fromStdString(a.weights + ": " + expected), qPrintable(error));

        writeBytes(a.weights, readBytes(b.weights));  // same size, another checkpoint's weights
        error = fileErrorOf([&] { loadCheckpoint(dir, "a"); });
        QVERIFY2(error.contains(QString::fromStdString(expected)), qPrintable(error));

        std::string truncated = readBytes(b.weights);  // shorter: the size record catches it first
        truncated.resize(truncated.size() - 4);
        writeBytes(a.weights, truncated);
        error = fileErrorOf([&] { loadCheckpoint(dir, "a"); });
        QVERIFY2(error.contains("checkpoint a is damaged: its weights file does not match the size recorded in a.json"),
                 qPrintable(error));

        writeBytes(b.info, R"({"step": 2})");  // a description without the weights record
        QVERIFY(fileErrorOf([&] { loadCheckpoint(dir, "b"); }).contains("has no valid \"weights\" record"));
        writeBytes(b.info, R"({"step": 2, )");
        QVERIFY(fileErrorOf([&] { loadCheckpoint(dir, "b"); }).contains("is not valid JSON"));
        std::filesystem::remove(b.info);
        QVERIFY(fileErrorOf([&] { loadCheckpoint(dir, "b"); }).contains("checkpoint 'b' is incomplete: its JSON description b.json is missing"));
        QVERIFY(fileErrorOf([&] { loadCheckpoint(dir, "c"); }).contains("no checkpoint 'c' in folder"));
    }
};

QTEST_GUILESS_MAIN(TestCheckpoint)
#include "tst_checkpoint.moc"
