// Parity with an independent PyTorch implementation (reference_models.py, run with Debian's
// python3-torch): the same seeded weights, moved by name through a safetensors file, and the
// same inputs give the same outputs for the ViT (incl. registers, iBOT mask and pos-embed
// interpolation to other grids), SpecFormer (tokens, reconstruction, folded spectrum) and
// both kinds of alignment head.
#include "core/models/alignment_head.h"
#include "core/models/specformer.h"
#include "core/models/state_dict.h"
#include "core/models/torch_safetensors.h"
#include "core/models/vit.h"

#include "model_test_util.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

using namespace astroclip;
using namespace astroclip::models;
using namespace astroclip::models::test;

namespace {

constexpr double kTolerance = 1e-5;  // fp32

} // namespace

// Skips or fails the calling test when the Python reference could not be made.
#define REQUIRE_REFERENCE()                                                    \
    do {                                                                       \
        makeReference();                                                       \
        if (!referenceSkip_.isEmpty()) QSKIP(qPrintable(referenceSkip_));      \
        if (!referenceError_.isEmpty()) QFAIL(qPrintable(referenceError_));    \
    } while (false)

class TestModelParity : public QObject {
    Q_OBJECT
private:
    QTemporaryDir dir_;
    StateDict reference_;
    bool referenceTried_ = false;
    QString referenceSkip_, referenceError_;  // why the reference tests skip or fail

    // Runs reference_models.py with /usr/bin/python3 once, when a test first needs it: the timm
    // check needs no Python, so it also runs where Debian's python3-torch is absent (the GPU
    // machine, tools/gpu-check.sh).
    void makeReference() {
        if (referenceTried_) return;
        referenceTried_ = true;
        const QString python = "/usr/bin/python3";
        if (!QFileInfo::exists(python)) {
            referenceSkip_ = "/usr/bin/python3 is not available";
            return;
        }
        if (!dir_.isValid()) {
            referenceError_ = "no temporary folder";
            return;
        }
        const QString out = dir_.filePath("reference.safetensors");
        QProcess process;
        process.setProcessChannelMode(QProcess::MergedChannels);
        process.start(python, {QStringLiteral(MODELS_REFERENCE_SCRIPT), out});
        const bool finished = process.waitForFinished(120000);
        const QString log = QString::fromUtf8(process.readAll());
        if (log.contains("No module named 'torch'") || log.contains("No module named 'numpy'"))
            referenceSkip_ = "python3-torch / numpy are not installed for /usr/bin/python3";
        else if (!finished || process.exitCode() != 0)
            referenceError_ = "reference_models.py failed: " + log;
        else
            reference_ = readStateDict(out.toStdString());
    }

    const torch::Tensor& ref(const std::string& name) const { return reference_.at(name); }

    void compare(const char* what, const torch::Tensor& ours, const std::string& name) {
        compareTo(what, ours, ref(name), kTolerance);
    }
    static void compareTo(const char* what, const torch::Tensor& ours, const torch::Tensor& theirs, double tolerance) {
        QCOMPARE(shapeOf(ours), shapeOf(theirs));
        const double diff = maxAbsDiff(ours, theirs);
        qInfo("%s: max |C++ − reference| = %.3g (values up to %.3g)", what, diff,
              theirs.abs().max().item<double>());
        QVERIFY2(diff < tolerance, qPrintable(QString("%1 differs by %2").arg(what).arg(diff)));
    }

private Q_SLOTS:
    void initTestCase() { useAllCores(); }

    void visionTransformer() {
        REQUIRE_REFERENCE();
        ViTConfig c;
        c.name = "ViT-reference";
        c.imageSize = 32;
        c.patchSize = 8;
        c.embedDim = 48;
        c.depth = 2;
        c.numHeads = 3;
        c.numRegisterTokens = 2;
        VisionTransformer vit(c);
        vit->eval();
        importStateDict(*vit, selectPrefix(reference_, "vit."), c.name);
        torch::NoGradGuard noGrad;
        const auto mask = ref("in.vit.mask");
        QVERIFY(mask.any().item<bool>());
        const std::vector<std::tuple<std::string, torch::Tensor, torch::Tensor>> runs{
            {"32", ref("in.vit.images"), {}},
            {"32m", ref("in.vit.images"), mask},
            {"48", ref("in.vit.images48"), {}},
            {"24x40", ref("in.vit.images24x40"), {}}};
        for (const auto& [tag, images, m] : runs) {
            const auto out = vit->forward(images, m);
            compare(("ViT CLS @" + tag).c_str(), out.cls, "out.vit.cls" + tag);
            compare(("ViT registers @" + tag).c_str(), out.registers, "out.vit.reg" + tag);
            compare(("ViT patches @" + tag).c_str(), out.patches, "out.vit.patches" + tag);
        }
        compare("pos_embed on a 6×6 grid", interpolatePosEmbed(vit->pos_embed, 6, 6), "out.vit.pos6x6");
    }

    void specFormer() {
        REQUIRE_REFERENCE();
        SpecFormerConfig c;
        c.name = "SpecFormer-reference";
        c.inputLength = 205;
        c.patchLength = 16;
        c.patchStride = 8;
        c.embedDim = 32;
        c.depth = 2;
        c.numHeads = 4;
        c.maxTokens = 32;
        SpecFormer model(c);
        model->eval();
        importStateDict(*model, selectPrefix(reference_, "spec."), c.name);
        torch::NoGradGuard noGrad;
        const auto in = model->tokenize(ref("in.spec.flux"));
        compare("SpecFormer input tokens", in.tokens, "out.spec.input_tokens");
        const auto out = model->encode(in.tokens);
        compare("SpecFormer tokens", out.tokens, "out.spec.tokens");
        compare("SpecFormer reconstruction", out.reconstruction, "out.spec.reconstruction");
        const auto spectrum = model->reconstructSpectrum(out, in, 205);
        const auto& expected = ref("out.spec.spectrum");
        QVERIFY(torch::equal(torch::isnan(spectrum), torch::isnan(expected)));
        compare("SpecFormer folded spectrum (covered pixels)", spectrum.slice(1, 0, 200),
                "out.spec.spectrum_covered");
    }

    void alignmentHeads_data() {
        QTest::addColumn<QString>("tag");
        QTest::addColumn<bool>("spectrum");
        QTest::newRow("spectrum head (E ≠ kdim, residual)") << "spec" << true;
        QTest::newRow("image head (E = kdim, no residual)") << "image" << false;
    }
    void alignmentHeads() {
        REQUIRE_REFERENCE();
        QFETCH(QString, tag);
        QFETCH(bool, spectrum);
        const std::string prefix = "head_" + tag.toStdString();
        const int64_t embed = spectrum ? 24 : 32;
        auto c = spectrum ? AlignmentHeadConfig::forSpectra(32, embed) : AlignmentHeadConfig::forImages(32, embed);
        AlignmentHead head(c);
        head->eval();
        importStateDict(*head, selectPrefix(reference_, prefix + "."), "alignment head " + c.name);
        torch::NoGradGuard noGrad;
        const auto out = head->forward(ref("in." + prefix + ".tokens"));
        compare((prefix + " embedding").c_str(), out.embedding, "out." + prefix + ".embedding");
        compare((prefix + " attention").c_str(), out.attention, "out." + prefix + ".attention");
    }

    // The ecosystem's DINOv2 ViT: timm's VisionTransformer (made by make_timm_fixture.py where
    // timm is installed; Debian has no timm) loads by name into ours — no iBOT mask_token in
    // timm — and gives the same CLS and patch tokens within 1e-4 (fp32).
    void timmVisionTransformer() {
        const QString fixture = QStringLiteral(MODELS_TIMM_FIXTURE);
        if (!QFileInfo::exists(fixture))
            QSKIP(qPrintable(fixture + " is not made yet: run tests/models/make_timm_fixture.py where timm is "
                                       "installed (the GPU machine's Python) and commit the file"));
        const StateDict timm = readStateDict(fixture.toStdString());
        ViTConfig c;
        c.name = "ViT-timm";
        c.imageSize = 48;
        c.patchSize = 12;
        c.embedDim = 64;
        c.depth = 2;
        c.numHeads = 2;
        VisionTransformer vit(c);
        vit->eval();
        ImportOptions options;
        options.mayBeMissing = {"mask_token"};
        importStateDict(*vit, selectPrefix(timm, "vit."), c.name, options);
        torch::NoGradGuard noGrad;
        const auto out = vit->forward(timm.at("in.images"));
        compareTo("timm CLS", out.cls, timm.at("out.cls"), 1e-4);
        compareTo("timm patches", out.patches, timm.at("out.patches"), 1e-4);
    }
};

QTEST_GUILESS_MAIN(TestModelParity)
#include "tst_model_parity.moc"
