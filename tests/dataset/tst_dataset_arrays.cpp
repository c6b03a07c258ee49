// The pieces of a snapshot on their own: cutout crops and masks against arrays written in
// the test, spectrum downsampling against a direct computation of the weighted means, and
// the hashed held-out split against the binomial law and catalog growth.
#include "core/common/error.h"
#include "core/data/wavegrid.h"
#include "core/dataset/cutout.h"
#include "core/dataset/snapshot.h"
#include "core/dataset/spectrum_arrays.h"
#include "core/dataset/split.h"
#include "core/io/fits.h"

#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>

using namespace astroclip;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Pixel value that encodes its position, so a shifted crop cannot pass.
float codedPixel(int plane, int y, int x) { return float(plane * 100000 + y * 300 + x) * 0.25f; }

std::vector<float> codedCube(int planes, int height, int width) {
    std::vector<float> v(size_t(planes) * size_t(height) * size_t(width));
    for (int p = 0; p < planes; ++p)
        for (int y = 0; y < height; ++y)
            for (int x = 0; x < width; ++x) v[(size_t(p) * height + y) * width + x] = codedPixel(p, y, x);
    return v;
}

SpectrumRecord randomSpectrum(uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> flux(5.0f, 3.0f);
    std::uniform_real_distribution<float> ivar(0.05f, 20.0f);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    SpectrumRecord s;
    s.path = "test-spectrum";
    s.flux.resize(DesiGrid::kSize);
    s.ivar.resize(DesiGrid::kSize);
    s.mask.assign(DesiGrid::kSize, 0);
    for (int i = 0; i < DesiGrid::kSize; ++i) {
        s.flux[size_t(i)] = flux(rng);
        s.ivar[size_t(i)] = ivar(rng);
        if (u(rng) < 0.1f) {  // masked as readers store it: 0, 0, mask 1
            s.flux[size_t(i)] = 0;
            s.ivar[size_t(i)] = 0;
            s.mask[size_t(i)] = 1;
        }
    }
    // A whole masked stretch, longer than any factor tested, so some groups have no valid pixel.
    for (int i = 2000; i < 2100; ++i) {
        s.flux[size_t(i)] = 0;
        s.ivar[size_t(i)] = 0;
        s.mask[size_t(i)] = 1;
    }
    // Mask set but values left in: the mask alone must exclude them.
    s.mask[10] = 1;
    return s;
}

} // namespace

class TestDatasetArrays : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string path(const char* name) { return (dir_.path() + "/" + name).toStdString(); }

private Q_SLOTS:
    void centreCrop_data() {
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("size");
        QTest::addColumn<int>("offset");
        QTest::newRow("AstroCLIP 152 to 144") << 152 << 144 << 4;
        QTest::newRow("same size") << 144 << 144 << 0;
        QTest::newRow("64 to 48") << 64 << 48 << 8;
        QTest::newRow("odd surplus") << 65 << 48 << 8;
    }
    void centreCrop() {
        QFETCH(int, n);
        QFETCH(int, size);
        QFETCH(int, offset);
        QCOMPARE(centreCropOffset(n, size), offset);
    }

    void hduRefs_data() {
        QTest::addColumn<QString>("ref");
        QTest::addColumn<bool>("valid");
        QTest::addColumn<QString>("path");
        QTest::addColumn<int>("hdu");
        QTest::newRow("plain") << "/a/b.fits[2]" << true << "/a/b.fits" << 2;
        QTest::newRow("brackets in name") << "/a/x[1]y.fits[12]" << true << "/a/x[1]y.fits" << 12;
        QTest::newRow("no hdu") << "/a/b.fits" << false << "" << 0;
        QTest::newRow("empty hdu") << "/a/b.fits[]" << false << "" << 0;
        QTest::newRow("zero hdu") << "/a/b.fits[0]" << false << "" << 0;
        QTest::newRow("text hdu") << "/a/b.fits[IVAR]" << false << "" << 0;
    }
    void hduRefs() {
        QFETCH(QString, ref);
        QFETCH(bool, valid);
        if (!valid) {
            QVERIFY_THROWS_EXCEPTION(UsageError, parseHduRef(ref.toStdString()));
            return;
        }
        const HduRef r = parseHduRef(ref.toStdString());
        QFETCH(QString, path);
        QFETCH(int, hdu);
        QCOMPARE(QString::fromStdString(r.path), path);
        QCOMPARE(r.hdu, hdu);
    }

    // A 4-plane cube (g, x, r, z order in the file) with NaN pixels and an ivar cube with a
    // zero: the crop takes the right planes and window, and masks exactly the bad pixels.
    void cutoutFromFile() {
        const int planes = 4, h = 40, w = 36, s = 30;
        auto cube = codedCube(planes, h, w);
        cube[(size_t(2) * h + 20) * w + 18] = kNaN;  // plane 2 (r), inside the crop
        cube[(size_t(0) * h + 0) * w + 0] = kNaN;    // outside the crop: no effect
        std::vector<float> ivar(cube.size(), 1.0f);
        ivar[(size_t(3) * h + 10) * w + 10] = 0.0f;  // plane 3 (z), inside the crop
        {
            auto f = FitsFile::create(path("cube.fits"));
            f.writeImage({planes, h, w}, cube.data());
            f.writeImage({planes, h, w}, ivar.data(), "IVAR");
            f.close();
        }
        ImageRecord img;
        img.path = path("cube.fits");
        img.hdu = 1;
        img.bands = {"g", "x", "r", "z"};
        img.planes = {0, 2, 3};
        img.width = w;
        img.height = h;
        img.unit = "nanomaggy";
        img.ivarRef = path("cube.fits") + "[2]";
        const Cutout c = loadCutout(img, s);
        QCOMPARE(c.size, s);
        QCOMPARE(c.unit, std::string("nanomaggy"));
        QCOMPARE(c.invalidPixels, int64_t(2));
        const int y0 = (h - s) / 2, x0 = (w - s) / 2;
        for (int b = 0; b < 3; ++b) {
            QVERIFY(c.bandPresent[size_t(b)]);
            for (int y = 0; y < s; ++y)
                for (int x = 0; x < s; ++x) {
                    const size_t i = (size_t(b) * s + y) * s + x;
                    const int plane = img.planes[size_t(b)];
                    const bool bad = (plane == 2 && y + y0 == 20 && x + x0 == 18) || (plane == 3 && y + y0 == 10 && x + x0 == 10);
                    QCOMPARE(int(c.valid[i]), bad ? 0 : 1);
                    QCOMPARE(c.pixels[i], bad ? 0.0f : codedPixel(plane, y + y0, x + x0));
                }
        }
    }

    // Stored pixels, an absent band, band images and crops larger than the image.
    void cutoutFromStoredPixelsWithAbsentBand() {
        const int h = 20, w = 20, s = 16;
        ImageRecord img;
        img.path = "(made in memory)";
        img.bands = {"g", "z"};
        img.planes = {0, -1, 1};  // r absent
        img.width = w;
        img.height = h;
        img.pixels = codedCube(2, h, w);
        const Cutout c = loadCutout(img, s);
        QVERIFY(c.bandPresent[0] && !c.bandPresent[1] && c.bandPresent[2]);
        QCOMPARE(c.invalidPixels, int64_t(0));  // the absent band is not counted as bad pixels
        const size_t plane = size_t(s) * s;
        QVERIFY(std::all_of(c.pixels.begin() + plane, c.pixels.begin() + 2 * plane, [](float v) { return v == 0; }));
        QVERIFY(std::all_of(c.valid.begin() + plane, c.valid.begin() + 2 * plane, [](uint8_t v) { return v == 0; }));
        QCOMPARE(c.pixels[2 * plane], codedPixel(1, 2, 2));
        QCOMPARE(int(c.valid[2 * plane]), 1);

        QVERIFY_THROWS_EXCEPTION(UsageError, loadCutout(img, 21));
        ImageRecord band = img;
        band.kind = ImageRecord::Kind::BandImage;
        band.bands = {"V", "I"};
        band.planes.clear();
        try {
            loadCutout(band, s);
            QFAIL("a band image was accepted");
        } catch (const UsageError& e) {
            QVERIFY2(std::string(e.what()).find("V, I") != std::string::npos, e.what());
        }
        ImageRecord gone = img;
        gone.pixels.clear();
        gone.path = path("no-such-file.fits");
        QVERIFY_THROWS_EXCEPTION(FileError, loadCutout(gone, s));
    }

    void downsampling_data() {
        QTest::addColumn<int>("factor");
        for (int f : {1, 2, 4, 7, 10}) QTest::newRow(("factor " + std::to_string(f)).c_str()) << f;
    }
    void downsampling() {
        QFETCH(int, factor);
        const SpectrumRecord s = randomSpectrum(7);
        const SpectrumArrays a = spectrumArrays(s, factor);
        const int length = DesiGrid::kSize / factor;
        QCOMPARE(downsampledLength(factor), length);
        QCOMPARE(int(a.flux.size()), length);
        QCOMPARE(int(a.ivar.size()), length);
        int emptyGroups = 0;
        double sumIvarFluxIn = 0, sumIvarIn = 0, sumIvarFluxOut = 0, sumIvarOut = 0;
        for (int k = 0; k < length; ++k) {
            double w = 0, wf = 0;
            for (int i = k * factor; i < (k + 1) * factor; ++i)
                if (s.mask[size_t(i)] == 0 && s.ivar[size_t(i)] > 0) {
                    w += s.ivar[size_t(i)];
                    wf += double(s.ivar[size_t(i)]) * s.flux[size_t(i)];
                }
            if (w == 0) {
                ++emptyGroups;
                QCOMPARE(a.flux[size_t(k)], 0.0f);
                QCOMPARE(a.ivar[size_t(k)], 0.0f);
                continue;
            }
            QVERIFY(std::abs(a.ivar[size_t(k)] - w) <= 1e-6 * w);          // ivar propagates as the sum
            QVERIFY(std::abs(a.flux[size_t(k)] - wf / w) <= 1e-5 * (1 + std::abs(wf / w)));
            sumIvarFluxIn += wf;
            sumIvarIn += w;
            sumIvarFluxOut += double(a.ivar[size_t(k)]) * a.flux[size_t(k)];
            sumIvarOut += a.ivar[size_t(k)];
        }
        QVERIFY(emptyGroups > 0);
        // The inverse-variance-weighted mean over the whole used range is conserved.
        QVERIFY(std::abs(sumIvarFluxOut / sumIvarOut - sumIvarFluxIn / sumIvarIn) < 1e-5);
        if (factor == 1) {
            QCOMPARE(a.flux[10], 0.0f);  // mask set with values left in
            QCOMPARE(a.flux[11], s.flux[11]);
        }
        // Output wavelengths are the mean of each group's centres.
        QCOMPARE(downsampledWave(1, factor), (DesiGrid::wave(factor) + DesiGrid::wave(2 * factor - 1)) / 2);
    }

    void downsamplingRefusesBadInput() {
        QVERIFY_THROWS_EXCEPTION(UsageError, spectrumArrays(randomSpectrum(1), 0));
        SpectrumRecord shortOne = randomSpectrum(1);
        shortOne.flux.resize(100);
        QVERIFY_THROWS_EXCEPTION(UsageError, spectrumArrays(shortOne, 1));
    }

    void splitFraction_data() {
        QTest::addColumn<double>("fraction");
        for (double f : {0.0, 0.05, 0.2, 0.5, 1.0}) QTest::newRow(std::to_string(f).c_str()) << f;
    }
    void splitFraction() {
        QFETCH(double, fraction);
        const int n = 20000;
        std::vector<int64_t> ids(n);
        std::iota(ids.begin(), ids.end(), int64_t(1));
        const SplitIndices split = splitHeldOut(ids, fraction, 42);
        QCOMPARE(split.train.size() + split.heldOut.size(), size_t(n));
        std::vector<size_t> all = split.train;
        all.insert(all.end(), split.heldOut.begin(), split.heldOut.end());
        std::sort(all.begin(), all.end());
        for (size_t i = 0; i < all.size(); ++i) QCOMPARE(all[i], i);  // every index once
        const double sigma = std::sqrt(n * fraction * (1 - fraction));
        QVERIFY2(std::abs(double(split.heldOut.size()) - n * fraction) <= 5 * sigma + 1e-9,
                 qPrintable(QString::number(split.heldOut.size())));
    }

    // Sides depend only on (seed, id): a grown, reordered id list keeps them; a new seed
    // draws a new split.
    void splitIsStableUnderGrowth() {
        std::vector<int64_t> before(3000), after(9000);
        std::iota(before.begin(), before.end(), int64_t(100));
        std::iota(after.begin(), after.end(), int64_t(1));
        std::shuffle(after.begin(), after.end(), std::mt19937(3));
        const auto a = splitHeldOut(before, 0.2, 9), b = splitHeldOut(after, 0.2, 9);
        std::set<int64_t> heldA, heldB;
        for (size_t i : a.heldOut) heldA.insert(before[i]);
        for (size_t i : b.heldOut) heldB.insert(after[i]);
        for (int64_t id : before) QCOMPARE(heldA.count(id), heldB.count(id));
        const auto c = splitHeldOut(before, 0.2, 10);
        QVERIFY(c.heldOut != a.heldOut);
        QVERIFY_THROWS_EXCEPTION(UsageError, splitHeldOut(before, 1.5, 9));
        QVERIFY_THROWS_EXCEPTION(UsageError, splitHeldOut(before, std::nan(""), 9));
    }

    void bytesPerObject() {
        SnapshotParams p;  // both, 144 px, 7781 px
        QCOMPARE(snapshotBytesPerObject(p), uint64_t(8 + 3 * 144 * 144 * 5 + 3 + 2 * 7781 * 4));
        p.modality = Modality::Spectrum;
        p.spectrumDownsample = 4;
        p.columns = {"truth_z"};
        QCOMPARE(snapshotBytesPerObject(p), uint64_t(8 + 8 + 2 * 1945 * 4));
    }
};

QTEST_GUILESS_MAIN(TestDatasetArrays)
#include "tst_dataset_arrays.moc"
