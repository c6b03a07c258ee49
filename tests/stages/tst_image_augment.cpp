// Sky-image augmentations and the nanomaggy normalisation (core/stages/image_augment.h):
// geometric ones are exact pixel permutations, the gain is achromatic within the jitter bound,
// noise has the requested std, blur conserves flux, each fires with its stated probability,
// and the RNG state round-trips.
#include "core/common/error.h"
#include "core/stages/image_augment.h"

#include <QtTest/QtTest>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>

using namespace astroclip::stages;

namespace {

AugmentParams nothing() {
    AugmentParams p;
    p.rotateProbability = p.flipProbability = p.blurProbability = p.noiseProbability = p.gainProbability = 0.0;
    return p;
}

torch::Tensor rampImage(int64_t side) {
    // Distinct values everywhere, so a permutation is identifiable pixel by pixel.
    return torch::arange(3 * side * side, torch::kFloat32).reshape({3, side, side}) * 0.01f + 0.5f;
}

} // namespace

class TestImageAugment : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void rotationsAndFlipsPermutePixels();
    void gainIsAchromaticWithinJitter();
    void noiseHasRequestedStd();
    void blurConservesFlux();
    void probabilitiesAreRespected_data();
    void probabilitiesAreRespected();
    void randomCropIsAnIntegerWindow();
    void normalizationIsAsinhStretch();
    void rngStateRoundTrips();
    void rejectsBadParameters();
};

void TestImageAugment::rotationsAndFlipsPermutePixels() {
    auto params = nothing();
    params.rotateProbability = 1.0;
    params.flipProbability = 0.5;
    ImageAugmenter augmenter(params, 3);
    const int64_t side = 7;
    const auto image = rampImage(side);
    const auto in = image.accessor<float, 3>();
    int seenRotations[4] = {0, 0, 0, 0};
    for (int trial = 0; trial < 60; ++trial) {
        AppliedAugment did;
        const auto out = augmenter.augment(image, &did);
        QVERIFY(did.rotations >= 1 && did.rotations <= 3);
        ++seenRotations[did.rotations];
        // Undo by hand: out = flip?(rot90^k(in)). rot90 over (row, col) maps in[r][c] to
        // out[W−1−c][r] for one quarter turn.
        const auto o = out.accessor<float, 3>();
        for (int64_t b = 0; b < 3; ++b)
            for (int64_t r = 0; r < side; ++r)
                for (int64_t c = 0; c < side; ++c) {
                    int64_t rr = r, cc = c;
                    for (int k = 0; k < did.rotations; ++k) {
                        const int64_t nr = side - 1 - cc, nc = rr;
                        rr = nr;
                        cc = nc;
                    }
                    if (did.flipped) cc = side - 1 - cc;
                    QCOMPARE(o[b][rr][cc], in[b][r][c]);
                }
        QCOMPARE(out.sum().item<double>(), image.sum().item<double>());
    }
    QVERIFY(seenRotations[1] > 0 && seenRotations[2] > 0 && seenRotations[3] > 0);
}

void TestImageAugment::gainIsAchromaticWithinJitter() {
    auto params = nothing();
    params.gainProbability = 1.0;
    params.gainMin = 0.7;
    params.gainMax = 1.4;
    params.bandJitter = 0.03;
    ImageAugmenter augmenter(params, 5);
    const auto image = rampImage(6);
    for (int trial = 0; trial < 200; ++trial) {
        AppliedAugment did;
        const auto out = augmenter.augment(image, &did);
        QVERIFY(did.gained);
        const auto ratio = out / image;
        for (int b = 0; b < 3; ++b) {
            // One factor for every pixel of a band, equal to the reported one.
            QVERIFY(std::abs(ratio[b].max().item<double>() - did.bandGain[size_t(b)]) < 1e-5);
            QVERIFY(std::abs(ratio[b].min().item<double>() - did.bandGain[size_t(b)]) < 1e-5);
            QVERIFY(did.bandGain[size_t(b)] >= 0.7 * 0.97 - 1e-9 && did.bandGain[size_t(b)] <= 1.4 * 1.03 + 1e-9);
        }
        // Colours change by the jitter only.
        for (int a = 0; a < 3; ++a)
            for (int b = 0; b < 3; ++b)
                QVERIFY(did.bandGain[size_t(a)] / did.bandGain[size_t(b)] <= 1.03 / 0.97 + 1e-9);
    }
}

void TestImageAugment::noiseHasRequestedStd() {
    auto params = nothing();
    params.noiseProbability = 1.0;
    params.noiseSigmaMin = params.noiseSigmaMax = 0.05;
    ImageAugmenter augmenter(params, 9);
    const auto image = torch::full({3, 64, 64}, 0.2f);
    AppliedAugment did;
    const auto noise = augmenter.augment(image, &did) - image;
    QVERIFY(did.noised);
    QCOMPARE(did.noiseSigma, 0.05);
    // 12,288 draws: the sample std is within 2 % (≈ 3 standard errors) and the mean near 0.
    QVERIFY(std::abs(noise.std().item<double>() - 0.05) < 0.001);
    QVERIFY(std::abs(noise.mean().item<double>()) < 4 * 0.05 / std::sqrt(12288.0));
    // Gaussian: about 68.3 % within 1 σ.
    const double within = (noise.abs() < 0.05).to(torch::kFloat64).mean().item<double>();
    QVERIFY(std::abs(within - 0.6827) < 0.015);
}

void TestImageAugment::blurConservesFlux() {
    auto params = nothing();
    params.blurProbability = 1.0;
    params.blurSigmaMin = params.blurSigmaMax = 1.3;
    ImageAugmenter augmenter(params, 1);
    auto image = torch::zeros({3, 33, 33});
    image.index_put_({0, 16, 16}, 5.0f);
    image.index_put_({1, 15, 17}, 2.0f);
    image.index_put_({2, torch::indexing::Slice(12, 20), torch::indexing::Slice(12, 20)}, 0.25f);
    AppliedAugment did;
    const auto out = augmenter.augment(image, &did);
    QVERIFY(did.blurred);
    for (int b = 0; b < 3; ++b)
        QVERIFY(std::abs(out[b].sum().item<double>() - image[b].sum().item<double>()) < 1e-5);
    // A point source becomes the outer product of the sampled, normalised 1-D Gaussian.
    const int radius = 4;
    double w[2 * radius + 1], total = 0;
    for (int i = -radius; i <= radius; ++i) total += (w[i + radius] = std::exp(-0.5 * i * i / (1.3 * 1.3)));
    for (int dy = -radius; dy <= radius; ++dy)
        for (int dx = -radius; dx <= radius; ++dx)
            QVERIFY(std::abs(out[0][16 + dy][16 + dx].item<double>() -
                             5.0 * w[dy + radius] * w[dx + radius] / (total * total)) < 1e-5);
    QVERIFY(out[0][16][16].item<double>() < 5.0 * 0.2);
}

void TestImageAugment::probabilitiesAreRespected_data() {
    QTest::addColumn<QString>("which");
    QTest::addColumn<double>("probability");
    for (const char* which : {"rotate", "flip", "blur", "noise", "gain"})
        for (double p : {0.0, 1.0, 0.3}) QTest::addRow("%s p=%.1f", which, p) << QString(which) << p;
}

void TestImageAugment::probabilitiesAreRespected() {
    QFETCH(QString, which);
    QFETCH(double, probability);
    auto params = nothing();
    params.blurSigmaMin = 0.5;  // every fired blur has a positive sigma
    params.noiseSigmaMin = 0.01;
    if (which == "rotate") params.rotateProbability = probability;
    if (which == "flip") params.flipProbability = probability;
    if (which == "blur") params.blurProbability = probability;
    if (which == "noise") params.noiseProbability = probability;
    if (which == "gain") params.gainProbability = probability;
    ImageAugmenter augmenter(params, 42);
    const auto image = rampImage(4);
    const int draws = 2000;
    int fired = 0;
    for (int i = 0; i < draws; ++i) {
        AppliedAugment did;
        augmenter.augment(image, &did);
        const bool applied = which == "rotate" ? did.rotations > 0
                             : which == "flip" ? did.flipped
                             : which == "blur" ? did.blurred
                             : which == "noise" ? did.noised
                                                : did.gained;
        fired += applied ? 1 : 0;
        // Nothing else fires.
        if (which != "rotate") QCOMPARE(did.rotations, 0);
        if (which != "flip") QVERIFY(!did.flipped);
        if (which != "blur") QVERIFY(!did.blurred);
        if (which != "noise") QVERIFY(!did.noised);
        if (which != "gain") QVERIFY(!did.gained);
    }
    if (probability == 0.0) QCOMPARE(fired, 0);
    else if (probability == 1.0) QCOMPARE(fired, draws);
    else {
        const double sd = std::sqrt(draws * probability * (1 - probability));
        QVERIFY2(std::abs(fired - draws * probability) < 4 * sd, qPrintable(QString::number(fired)));
    }
}

void TestImageAugment::randomCropIsAnIntegerWindow() {
    ImageAugmenter augmenter(nothing(), 7);
    const auto image = rampImage(10);
    std::set<std::pair<int64_t, int64_t>> offsets;
    for (int i = 0; i < 400; ++i) {
        const auto crop = augmenter.randomCrop(image, 8);
        QCOMPARE(crop.size(1), int64_t(8));
        // The ramp gives the offset back: value(0, y, x) = 0.5 + 0.01 (10 y + x).
        const double first = crop[0][0][0].item<double>();
        const auto index = std::llround((first - 0.5) / 0.01);
        const int64_t y = index / 10, x = index % 10;
        QVERIFY(torch::equal(crop, image.slice(1, y, y + 8).slice(2, x, x + 8)));
        offsets.insert({y, x});
    }
    QCOMPARE(int(offsets.size()), 9);  // all 3 × 3 offsets reachable
}

void TestImageAugment::normalizationIsAsinhStretch() {
    auto images = torch::zeros({2, 3, 2, 2});
    images.index_put_({1, 0, 0, 0}, 1.0f);
    images.index_put_({1, 1, 0, 1}, -0.01f);
    images.index_put_({1, 2, 1, 1}, 30.0f);
    const auto out = normalizeNanomaggies(images);
    QCOMPARE(out.sizes(), images.sizes());
    QCOMPARE(out[0].abs().max().item<double>(), 0.0);
    const double q = 20.0;
    QVERIFY(std::abs(out[1][0][0][0].item<double>() - std::asinh(q * 6.0 * 1.0) / std::sqrt(q)) < 1e-5);
    QVERIFY(std::abs(out[1][1][0][1].item<double>() - std::asinh(q * 3.4 * -0.01) / std::sqrt(q)) < 1e-6);
    QVERIFY(std::abs(out[1][2][1][1].item<double>() - std::asinh(q * 2.2 * 30.0) / std::sqrt(q)) < 1e-5);
    // Faint end linear with slope s·√Q, and negative noise keeps its sign (no clipping).
    QVERIFY(out[1][1][0][1].item<double>() < 0);
    const auto single = normalizeNanomaggies(images[1]);  // [3, H, W] works too
    QVERIFY(torch::allclose(single, out[1]));
}

void TestImageAugment::rngStateRoundTrips() {
    AugmentParams params;  // defaults: everything can fire
    ImageAugmenter a(params, 123);
    const auto image = rampImage(16);
    a.augment(image);
    const auto saved = a.state();
    const auto first = a.augment(image);
    ImageAugmenter b(params, 999);
    b.loadState(saved);
    QVERIFY(torch::equal(b.augment(image), first));
    QVERIFY_THROWS_EXCEPTION(astroclip::UsageError, b.loadState("not a state"));
}

void TestImageAugment::rejectsBadParameters() {
    auto params = nothing();
    params.blurProbability = 1.5;
    QVERIFY_THROWS_EXCEPTION(astroclip::UsageError, ImageAugmenter(params, 1));
    params = nothing();
    params.gainMin = 2.0;
    params.gainMax = 1.0;
    QVERIFY_THROWS_EXCEPTION(astroclip::UsageError, ImageAugmenter(params, 1));
}

QTEST_GUILESS_MAIN(TestImageAugment)
#include "tst_image_augment.moc"
