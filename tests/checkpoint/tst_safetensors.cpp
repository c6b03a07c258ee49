// The safetensors reader and writer against the format's rules and against an independent
// implementation (json + numpy in /usr/bin/python3), plus every kind of damaged file.
#include "core/checkpoint/safetensors.h"
#include "core/common/error.h"

#include <nlohmann/json.hpp>

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>

using namespace astroclip;

namespace {

std::string readBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void writeBytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

// A file laid out by hand: 8-byte length (the true one unless overridden), header, buffer.
std::string rawSafetensors(const std::string& header, std::size_t bufferBytes, int64_t declaredLength = -1) {
    const uint64_t length = declaredLength >= 0 ? uint64_t(declaredLength) : header.size();
    std::string bytes(8, '\0');
    std::memcpy(bytes.data(), &length, 8);
    return bytes + header + std::string(bufferBytes, '\x11');
}

// Floats with the awkward cases for 16-bit rounding: ties, subnormals, overflow, NaN, ±0.
std::vector<float> awkwardFloats() {
    std::vector<float> values = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65519.0f, 65520.0f, 1e5f,
                                 std::ldexp(1.0f, -24), std::ldexp(1.0f, -25), std::ldexp(3.0f, -26),
                                 std::ldexp(1.0f, -14), std::ldexp(1023.0f, -24),
                                 std::bit_cast<float>(0x3F808000u),  // 1 + 2^-8: bf16 tie, even below
                                 std::bit_cast<float>(0x3F818000u),  // 1 + 3*2^-8: bf16 tie, even above
                                 std::bit_cast<float>(0x3F808001u),  // just above a bf16 tie
                                 std::bit_cast<float>(0x3F801000u),  // 1 + 2^-11: f16 tie
                                 std::numeric_limits<float>::max(), std::numeric_limits<float>::infinity(),
                                 -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                                 std::bit_cast<float>(0x7F800001u)};  // NaN that truncation would make inf
    std::mt19937 rng(20240611);
    std::uniform_real_distribution<float> mantissa(-1.0f, 1.0f);
    std::uniform_int_distribution<int> exponent(-30, 20);
    for (int i = 0; i < 200; ++i) values.push_back(std::ldexp(mantissa(rng), exponent(rng)));
    return values;
}

nlohmann::json jsonFloat(float value) {  // JSON has no NaN/inf; the peer reads these via float()
    if (std::isnan(value)) return "nan";
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    return double(value);
}

// One tensor of every dtype, with the values the peer is told to expect.
struct Fixture {
    std::vector<TensorData> tensors;
    nlohmann::json expected = {{"metadata", {{"format", "pt"}, {"step", "1200"}}}, {"tensors", nlohmann::json::object()}};

    template <class T>
    void add(const std::string& name, DType dtype, std::vector<int64_t> shape, std::vector<T> values) {
        tensors.push_back(TensorData::fromValues<T>(name, shape, values, dtype));
        nlohmann::json list = nlohmann::json::array();
        for (T v : values) list.push_back(v);
        expected["tensors"][name] = {{"dtype", dtypeName(dtype)}, {"shape", shape}, {"values", list}};
    }
    void addFloats(const std::string& name, DType dtype, std::vector<int64_t> shape, const std::vector<float>& values) {
        tensors.push_back(TensorData::fromFloats(name, shape, values, dtype));
        nlohmann::json list = nlohmann::json::array();
        for (float v : values) list.push_back(jsonFloat(v));
        expected["tensors"][name] = {{"dtype", dtypeName(dtype)}, {"shape", shape}, {"values", list}};
    }
};

Fixture everyDType() {
    Fixture f;
    const std::vector<float> awkward = awkwardFloats();
    const int64_t n = int64_t(awkward.size());
    f.addFloats("bf16.weights", DType::BF16, {n}, awkward);
    f.addFloats("f16.weights", DType::F16, {n}, awkward);
    f.addFloats("blocks.0.attn.qkv.weight", DType::F32, {2, n / 2}, awkward);
    f.add<double>("f64", DType::F64, {2, 2}, {1.0 / 3.0, -1e300, 5e-324, 0.0});
    f.add<int64_t>("i64", DType::I64, {3}, {std::numeric_limits<int64_t>::min(), 0, (int64_t(1) << 53) + 1});
    f.add<int32_t>("i32", DType::I32, {2}, {-2147483647 - 1, 2147483647});
    f.add<int16_t>("i16", DType::I16, {3}, {-32768, 7, 32767});
    f.add<int8_t>("i8", DType::I8, {3}, {-128, 0, 127});
    f.add<uint64_t>("u64", DType::U64, {2}, {0, std::numeric_limits<uint64_t>::max()});
    f.add<uint32_t>("u32", DType::U32, {2}, {0, 4294967295u});
    f.add<uint16_t>("u16", DType::U16, {2}, {1, 65535});
    f.add<uint8_t>("u8", DType::U8, {2, 2}, {0, 1, 128, 255});
    f.add<uint8_t>("mask", DType::Bool, {5}, {1, 0, 0, 1, 1});
    f.add<float>("scalar", DType::F32, {}, {2.75f});
    f.add<float>("empty", DType::F32, {0, 3}, {});
    std::vector<float> decoded(65536);  // every binary16 pattern decoded, checked by the peer
    for (uint32_t bits = 0; bits < 65536; ++bits) decoded[bits] = f16ToFloat(uint16_t(bits));
    f.tensors.push_back(TensorData::fromFloats("f16_all_patterns", {65536}, decoded));
    f.expected["tensors"]["f16_all_patterns"] = {{"dtype", "F32"}, {"shape", {65536}}, {"values", nlohmann::json::array()}};
    f.expected["f16_decoded"] = "f16_all_patterns";
    return f;
}

bool havePythonPeer(QString* why) {
    QProcess probe;
    probe.start("/usr/bin/python3", {"-c", "import numpy"});
    if (!probe.waitForFinished(30000) || probe.exitStatus() != QProcess::NormalExit || probe.exitCode() != 0) {
        *why = "/usr/bin/python3 with numpy is needed for the independent safetensors peer";
        return false;
    }
    return true;
}

QString runPeer(const QStringList& arguments) {
    QProcess peer;
    peer.setProcessChannelMode(QProcess::MergedChannels);
    peer.start("/usr/bin/python3", QStringList{SAFETENSORS_PEER_SCRIPT} + arguments);
    peer.waitForFinished(60000);
    return QString::fromUtf8(peer.readAll()).trimmed();
}

} // namespace

class TestSafetensors : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string path(const char* name) const { return (dir_.path() + "/" + name).toStdString(); }

private Q_SLOTS:
    void halfPrecisionRoundingKnownPatterns() {
        QCOMPARE(floatToF16(65504.0f), uint16_t(0x7BFF));
        QCOMPARE(floatToF16(65519.0f), uint16_t(0x7BFF));
        QCOMPARE(floatToF16(65520.0f), uint16_t(0x7C00));             // tie with odd max: to infinity
        QCOMPARE(floatToF16(std::ldexp(1.0f, -24)), uint16_t(0x0001)); // smallest subnormal
        QCOMPARE(floatToF16(std::ldexp(1.0f, -25)), uint16_t(0x0000)); // tie: to even zero
        QCOMPARE(floatToF16(std::ldexp(3.0f, -25)), uint16_t(0x0002)); // tie 1.5 ulp: to even 2
        QCOMPARE(floatToF16(-0.0f), uint16_t(0x8000));
        QVERIFY(std::isnan(f16ToFloat(floatToF16(std::numeric_limits<float>::quiet_NaN()))));
        QCOMPARE(floatToBf16(std::bit_cast<float>(0x3F808000u)), uint16_t(0x3F80));  // tie, even below
        QCOMPARE(floatToBf16(std::bit_cast<float>(0x3F818000u)), uint16_t(0x3F82));  // tie, even above
        QCOMPARE(floatToBf16(std::bit_cast<float>(0x3F808001u)), uint16_t(0x3F81));
        QCOMPARE(floatToBf16(std::numeric_limits<float>::max()), uint16_t(0x7F80));  // overflows to inf
        QVERIFY(std::isnan(bf16ToFloat(floatToBf16(std::bit_cast<float>(0x7F800001u)))));
        for (uint32_t bits = 0; bits < 65536; ++bits) {  // every non-NaN pattern survives a round trip
            const float f16 = f16ToFloat(uint16_t(bits)), bf16 = bf16ToFloat(uint16_t(bits));
            if (!std::isnan(f16)) QCOMPARE(floatToF16(f16), uint16_t(bits));
            if (!std::isnan(bf16)) QCOMPARE(floatToBf16(bf16), uint16_t(bits));
        }
    }

    void roundTripEveryDType() {
        const Fixture f = everyDType();
        const std::string file = path("every.safetensors");
        writeSafetensors(file, std::span<const TensorData>(f.tensors), {{"format", "pt"}, {"step", "1200"}});
        const auto bytes = readBytes(file);
        uint64_t headerLength = 0;
        std::memcpy(&headerLength, bytes.data(), 8);
        QCOMPARE(headerLength % 8, uint64_t(0));  // padded so the buffer starts 8-aligned

        const SafetensorsFile back = readSafetensors(file);
        QCOMPARE(back.metadata(), (SafetensorsMetadata{{"format", "pt"}, {"step", "1200"}}));
        QCOMPARE(back.tensors().size(), f.tensors.size());
        for (const auto& want : f.tensors) {
            const TensorView& got = back.get(want.name);
            QCOMPARE(got.dtype, want.dtype);
            QCOMPARE(got.shape, want.shape);
            QVERIFY2(std::equal(got.bytes.begin(), got.bytes.end(), want.bytes.begin(), want.bytes.end()),
                     want.name.c_str());
            QVERIFY2(reinterpret_cast<uintptr_t>(got.bytes.data()) % dtypeSize(got.dtype) == 0, want.name.c_str());
        }
        // Conversions back to float: within half an ulp of the input (8 and 11 significant bits).
        const auto awkward = awkwardFloats();
        const auto bf16 = toFloats(back.get("bf16.weights")), f16 = toFloats(back.get("f16.weights"));
        for (std::size_t i = 0; i < awkward.size(); ++i) {
            const float x = awkward[i];
            if (!std::isfinite(x)) continue;
            if (std::isfinite(bf16[i])) QVERIFY(std::abs(bf16[i] - x) <= std::abs(x) * 0x1p-8f);
            if (std::abs(x) >= 0x1p-14f && std::abs(x) < 65504.0f) QVERIFY(std::abs(f16[i] - x) <= std::abs(x) * 0x1p-11f);
        }
        QCOMPARE(toFloats(back.get("i16")), (std::vector<float>{-32768, 7, 32767}));
        QCOMPARE(toFloats(back.get("mask")), (std::vector<float>{1, 0, 0, 1, 1}));
        QVERIFY(back.get("empty").bytes.empty());
        QVERIFY(!back.contains("nope"));
        QVERIFY_THROWS_EXCEPTION(FileError, back.get("nope"));
    }

    void independentReaderAgrees() {
        QString why;
        if (!havePythonPeer(&why)) QSKIP(qPrintable(why));
        const Fixture f = everyDType();
        const std::string file = path("peer_check.safetensors"), expected = path("peer_check.json");
        writeSafetensors(file, std::span<const TensorData>(f.tensors), {{"format", "pt"}, {"step", "1200"}});
        std::ofstream(expected) << f.expected.dump();
        QCOMPARE(runPeer({"check", QString::fromStdString(file), QString::fromStdString(expected)}), QString("OK"));
    }

    void readsFileFromIndependentWriter() {
        QString why;
        if (!havePythonPeer(&why)) QSKIP(qPrintable(why));
        const std::string file = path("from_numpy.safetensors");
        QCOMPARE(runPeer({"write", QString::fromStdString(file)}), QString("OK"));
        const SafetensorsFile back = readSafetensors(file);
        QCOMPARE(back.metadata(), (SafetensorsMetadata{{"format", "pt"}, {"source", "numpy peer"}}));
        QCOMPARE(back.names(), (std::vector<std::string>{"w.f16", "w.i64", "w.f32", "w.bf16", "w.u8", "w.bool",
                                                          "w.scalar", "w.empty"}));
        std::vector<float> arange;
        for (int i = 0; i < 6; ++i) arange.push_back(float(double(i) * 0.37 - 5.0));
        QCOMPARE(toFloats(back.get("w.f32")), arange);
        QCOMPARE(back.get("w.f32").shape, (std::vector<int64_t>{2, 3}));
        const auto f16 = toFloats(back.get("w.f16"));
        for (int i = 0; i < 5; ++i) QCOMPARE(floatToF16(f16[i]), floatToF16(arange[i]));
        QCOMPARE(toFloats(back.get("w.bf16")), (std::vector<float>{1.0f, -2.5f, 0.15625f, 65536.0f}));
        const TensorView& i64 = back.get("w.i64");  // at an odd offset: read through memcpy
        std::vector<int64_t> ints(3);
        std::memcpy(ints.data(), i64.bytes.data(), 24);
        QCOMPARE(ints, (std::vector<int64_t>{-(int64_t(1) << 62), 0, (int64_t(1) << 53) + 1}));
        QCOMPARE(toFloats(back.get("w.u8")), (std::vector<float>{0, 1, 254, 255}));
        QCOMPARE(toFloats(back.get("w.bool")), (std::vector<float>{1, 0, 1}));
        QCOMPARE(back.get("w.scalar").shape, std::vector<int64_t>{});
        QCOMPARE(toFloats(back.get("w.scalar")), std::vector<float>{3.25f});
        QCOMPARE(back.get("w.empty").shape, (std::vector<int64_t>{0, 4}));
    }

    void damagedFileRefused_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("fragment");
        auto row = [](const char* name, const std::string& bytes, const char* fragment) {
            QTest::newRow(name) << QByteArray::fromStdString(bytes) << QString(fragment);
        };
        const std::string a48 = R"("a": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]})";
        row("empty file", "", "too short to be a safetensors file (0 bytes");
        row("shorter than length", std::string("\x10\0\0", 3), "too short to be a safetensors file (3 bytes");
        row("truncated buffer", rawSafetensors("{" + a48 + "}", 40),
            "tensor 'a': data_offsets [0, 48] reach past the end of the data buffer (40 bytes)");
        row("header length larger than file", rawSafetensors("{" + a48 + "}", 48, 1000),
            "header length 1000 is larger than the");
        row("invalid JSON", rawSafetensors(R"({"a": {"dtype": "F32", )", 0), "header is not valid JSON");
        row("unknown dtype", rawSafetensors(R"({"a": {"dtype": "F7", "shape": [2], "data_offsets": [0, 2]}})", 2),
            "tensor 'a': unknown dtype 'F7'");
        row("overlapping offsets",
            rawSafetensors("{" + a48 + R"(, "b": {"dtype": "F32", "shape": [12], "data_offsets": [40, 88]}})", 88),
            "tensors 'a' [0, 48] and 'b' [40, 88] overlap");
        row("hole in buffer",
            rawSafetensors("{" + a48 + R"(, "b": {"dtype": "F32", "shape": [12], "data_offsets": [56, 104]}})", 104),
            "bytes [48, 56) of the data buffer belong to no tensor");
        row("trailing bytes", rawSafetensors("{" + a48 + "}", 56), "bytes [48, 56) of the data buffer belong to no tensor");
        row("shape bytes mismatch",
            rawSafetensors(R"({"blocks.0.attn.qkv.weight": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 100]}})", 100),
            "tensor 'blocks.0.attn.qkv.weight': data_offsets [0, 100] hold 100 bytes but shape [3, 4] of F32 needs 48");
        row("non-object header", rawSafetensors("[1, 2]", 0), "header is not a JSON object but array");
        row("entry not an object", rawSafetensors(R"({"a": 5})", 0), "tensor 'a': header entry is not an object");
        row("metadata not strings", rawSafetensors(R"({"__metadata__": {"step": 5}})", 0),
            "'__metadata__' entry 'step' is number");
        row("negative dim", rawSafetensors(R"({"a": {"dtype": "F32", "shape": [-3], "data_offsets": [0, 0]}})", 0),
            "tensor 'a': 'shape' [-3] must hold non-negative integers");
        row("offsets reversed", rawSafetensors(R"({"a": {"dtype": "U8", "shape": [0], "data_offsets": [4, 0]}})", 4),
            "tensor 'a': data_offsets [4, 0] end before they begin");
        row("offsets missing", rawSafetensors(R"({"a": {"dtype": "U8", "shape": [4]}})", 4),
            "tensor 'a': 'data_offsets' must be two non-negative integers");
        row("duplicate name",
            rawSafetensors(R"({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}, )"
                           R"("a": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]}})", 4),
            "header names 'a' more than once");
        row("shape overflows", rawSafetensors(R"({"a": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})", 0),
            "needs more than 2^64");
    }

    void damagedFileRefused() {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, fragment);
        const std::string file = path("damaged.safetensors");
        writeBytes(file, bytes.toStdString());
        try {
            readSafetensors(file);
            QFAIL("a damaged file was accepted");
        } catch (const FileError& e) {
            QCOMPARE(e.path(), file);
            QVERIFY2(QString(e.what()).startsWith(QString::fromStdString(file) + ": "), e.what());
            QVERIFY2(QString(e.what()).contains(fragment), e.what());
        }
    }

    void missingFileAndFolderRefused() {
        QVERIFY_THROWS_EXCEPTION(FileError, readSafetensors(path("absent.safetensors")));
        try {
            readSafetensors(dir_.path().toStdString());
            QFAIL("a folder was read as a file");
        } catch (const FileError& e) {
            QVERIFY2(QString(e.what()).contains("is not a regular file"), e.what());
        }
    }

    void writerRefusesInconsistentTensors() {
        const std::vector<float> values{1, 2, 3};
        TensorData wrong = TensorData::fromFloats("a", {3}, values);
        wrong.shape = {2, 2};
        QVERIFY_THROWS_EXCEPTION(UsageError, writeSafetensors(path("w.safetensors"), std::span<const TensorData>(&wrong, 1)));
        const std::vector<TensorData> twice{TensorData::fromFloats("a", {3}, values), TensorData::fromFloats("a", {3}, values)};
        QVERIFY_THROWS_EXCEPTION(UsageError, writeSafetensors(path("w.safetensors"), std::span<const TensorData>(twice)));
        QVERIFY(!QFile::exists(QString::fromStdString(path("w.safetensors"))));
    }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "tst_safetensors.moc"
