// Few-shot discovery (core/discovery) against independent truth: the logistic head equals
// scikit-learn's LogisticRegression (same C, balanced class weights, lbfgs) on the same
// standardised vectors — with fewer labels than dimensions (40 labels, 512-d: the Label tab's
// case) and more; average precision equals scikit-learn's average_precision_score, ties
// included; suggestions are unlabelled, distinct, among the most uncertain and spread by
// farthest-point selection; on clustered vectors a few labels rank the sought cluster far
// above its prevalence; bad requests are refused with a reason.
#include "core/common/error.h"
#include "core/discovery/fewshot.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <random>
#include <set>

using namespace astroclip;
using namespace astroclip::discovery;

namespace {

// n vectors of dim values around `clusters` random centres; cluster 0 (a `positiveShare` of
// the objects) is the class sought. Centres and spread are set so clusters overlap a little.
struct Clustered {
    std::vector<int64_t> ids;
    std::vector<float> values;
    std::vector<uint8_t> truth;  // in cluster 0
};

Clustered clustered(int n, int dim, int clusters, double positiveShare, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<std::vector<double>> centres(size_t(clusters), std::vector<double>(size_t(dim), 0.0));
    for (auto& c : centres)
        for (auto& v : c) v = normal(rng);
    Clustered out;
    for (int i = 0; i < n; ++i) {
        const bool positive = std::uniform_real_distribution<double>(0, 1)(rng) < positiveShare;
        const size_t c = positive ? 0 : 1 + rng() % uint32_t(clusters - 1);
        out.ids.push_back(1000 + 3 * i);  // ids are not row numbers
        out.truth.push_back(positive ? 1 : 0);
        for (int j = 0; j < dim; ++j) out.values.push_back(float(centres[c][size_t(j)] + 1.3 * normal(rng)));
    }
    return out;
}

nlohmann::json rowsOf(const CandidateSet& c, const std::vector<size_t>& rows) {
    nlohmann::json out = nlohmann::json::array();
    for (const size_t r : rows) out.push_back(std::vector<double>(c.standardised(r), c.standardised(r) + c.dim()));
    return out;
}

std::vector<size_t> allRows(const CandidateSet& c) {
    std::vector<size_t> rows(c.size());
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
    return rows;
}

// `positives` rows of cluster 0 and `negatives` of the others, the first ones in row order.
std::vector<LabelledObject> firstLabels(const Clustered& data, int positives, int negatives) {
    std::vector<LabelledObject> out;
    for (size_t i = 0; i < data.ids.size(); ++i) {
        const bool p = data.truth[i] != 0;
        if (p && positives > 0) --positives, out.push_back({data.ids[i], true});
        if (!p && negatives > 0) --negatives, out.push_back({data.ids[i], false});
    }
    return out;
}

struct LogisticCase {
    const char* name;
    int n, dim, positives, negatives;
    double C;
};
// Fewer labels than dimensions (the Newton step through the labelled rows) and more (directly).
constexpr LogisticCase kCases[] = {{"labeltab_40_in_512d", 300, 512, 20, 20, 1.0},
                                   {"few_12_in_64d_unbalanced", 400, 64, 3, 9, 0.5},
                                   {"many_300_in_32d", 500, 32, 60, 240, 0.05}};

template <typename F>
QString usageErrorOf(F&& f) {
    try {
        f();
    } catch (const UsageError& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

} // namespace

class TestFewShot : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    nlohmann::json peer_;
    std::vector<Clustered> data_;
    std::vector<std::vector<LabelledObject>> labels_;
    std::vector<std::vector<double>> apScores_;
    std::vector<std::vector<uint8_t>> apTruth_;

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        nlohmann::json in{{"logistic", nlohmann::json::array()}, {"ap", nlohmann::json::array()}};
        uint32_t seed = 11;
        for (const auto& c : kCases) {
            data_.push_back(clustered(c.n, c.dim, 5, 0.15, seed++));
            labels_.push_back(firstLabels(data_.back(), c.positives, c.negatives));
            const CandidateSet set(data_.back().ids, data_.back().values, c.dim);
            std::vector<size_t> rows;
            std::vector<int> y;
            for (const auto& l : labels_.back()) rows.push_back(*set.rowOf(l.id)), y.push_back(l.positive ? 1 : 0);
            in["logistic"].push_back({{"name", c.name}, {"C", c.C}, {"x", rowsOf(set, rows)}, {"y", y},
                                      {"queries", rowsOf(set, allRows(set))}});
        }
        // Average precision: ties at several levels, one positive, all tied, a perfect ranking.
        std::mt19937 rng(3);
        const auto add = [&](const char* name, std::vector<double> s, std::vector<uint8_t> t) {
            in["ap"].push_back({{"name", name}, {"scores", s}, {"truth", t}});
            apScores_.push_back(std::move(s));
            apTruth_.push_back(std::move(t));
        };
        std::vector<double> s;
        std::vector<uint8_t> t;
        for (int i = 0; i < 500; ++i) {
            const bool p = rng() % 7 == 0;
            t.push_back(p);
            s.push_back(std::round((p ? 0.6 : 0.0) * 10 + std::uniform_real_distribution<double>(0, 10)(rng)) / 10);
        }
        add("ties", s, t);
        add("one_positive", {0.3, 0.9, 0.1, 0.5, 0.7}, {0, 0, 0, 1, 0});
        add("all_tied", {0.5, 0.5, 0.5, 0.5}, {1, 0, 0, 1});
        add("perfect", {4, 3, 2, 1}, {1, 1, 0, 0});

        const QString inPath = dir_.filePath("in.json");
        std::ofstream(inPath.toStdString()) << in.dump();
        QProcess p;
        p.start("/usr/bin/python3", {QStringLiteral(FEWSHOT_PEER_SCRIPT), inPath});
        if (!p.waitForStarted()) QSKIP("/usr/bin/python3 is not available");
        QVERIFY(p.waitForFinished(170000));
        const QString err = QString::fromUtf8(p.readAllStandardError());
        if (p.exitCode() == 3) QSKIP(qPrintable("scikit-learn or numpy missing for /usr/bin/python3: " + err));
        QVERIFY2(p.exitCode() == 0, qPrintable(err));
        peer_ = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
    }

    void logisticMatchesScikitLearn_data() {
        QTest::addColumn<int>("index");
        for (int i = 0; i < int(std::size(kCases)); ++i) QTest::newRow(kCases[i].name) << i;
    }
    void logisticMatchesScikitLearn() {
        QFETCH(int, index);
        const auto& c = kCases[index];
        const CandidateSet set(data_[size_t(index)].ids, data_[size_t(index)].values, c.dim);
        LogisticParams params;
        params.C = c.C;
        const auto start = std::chrono::steady_clock::now();
        const FewShotHead head = trainHead(set, labels_[size_t(index)], params);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        QVERIFY(head.fit.converged);
        QCOMPARE(head.positives, int64_t(c.positives));
        QCOMPARE(head.negatives, int64_t(c.negatives));

        const auto& theirs = peer_["logistic"][c.name];
        const auto coef = theirs["coef"].get<std::vector<double>>();
        double largest = std::abs(theirs["intercept"].get<double>());
        for (const double w : coef) largest = std::max(largest, std::abs(w));
        double coefError = std::abs(head.fit.intercept - theirs["intercept"].get<double>());
        for (size_t j = 0; j < coef.size(); ++j) coefError = std::max(coefError, std::abs(head.fit.coef[j] - coef[j]));
        const auto probability = theirs["probability"].get<std::vector<double>>();
        double probError = 0;
        for (size_t i = 0; i < set.size(); ++i)
            probError = std::max(probError, std::abs(head.fit.probability(set.standardised(i)) - probability[i]));
        qInfo("%s: %d Newton steps in %.1f ms (lbfgs %d iterations); max |Δcoef| %.2g of max |coef| %.3g; "
              "max |Δp| %.2g",
              c.name, head.fit.iterations, ms, theirs["n_iter"].get<int>(), coefError, largest, probError);
        QVERIFY2(coefError <= 1e-4 * std::max(1.0, largest), qPrintable(QString::number(coefError)));
        QVERIFY2(probError <= 1e-4, qPrintable(QString::number(probError)));

        // The head scores a raw vector as it scores the candidate's prepared row.
        const std::vector<float> raw(data_[size_t(index)].values.begin(), data_[size_t(index)].values.begin() + c.dim);
        QVERIFY(std::abs(head.probability(raw) - head.fit.probability(set.standardised(0))) < 1e-12);
    }

    void averagePrecisionMatchesScikitLearn() {
        const char* names[] = {"ties", "one_positive", "all_tied", "perfect"};
        for (size_t i = 0; i < apScores_.size(); ++i) {
            const double ours = averagePrecision(apScores_[i], apTruth_[i]);
            const double theirs = peer_["ap"][names[i]].get<double>();
            QVERIFY2(std::abs(ours - theirs) < 1e-12, qPrintable(QString("%1: %2 vs %3").arg(names[i]).arg(ours).arg(theirs)));
        }
        QCOMPARE(averagePrecision({4, 3, 2, 1}, {1, 1, 0, 0}), 1.0);
    }

    void rankScoresEveryUnlabelledObject() {
        const auto& data = data_[0];
        const CandidateSet set(data.ids, data.values, kCases[0].dim);
        const auto labels = firstLabels(data, 5, 5);
        const auto head = trainHead(set, labels, {});
        const auto ranked = rank(set, head, labels);
        QCOMPARE(ranked.size(), set.size() - labels.size());
        std::set<int64_t> seen;
        for (size_t i = 0; i < ranked.size(); ++i) {
            QVERIFY(seen.insert(ranked[i].id).second);
            if (i) QVERIFY(ranked[i - 1].probability >= ranked[i].probability);
            for (const auto& l : labels) QVERIFY(l.id != ranked[i].id);
        }
    }

    void suggestionsAreUncertainDistinctAndSpread() {
        const auto& data = data_[1];
        const CandidateSet set(data.ids, data.values, kCases[1].dim);
        const auto labels = firstLabels(data, 4, 4);
        const auto ranked = rank(set, trainHead(set, labels, {}), labels);
        const size_t n = 8, poolFactor = 10;
        const auto suggestions = suggest(set, ranked, n, poolFactor);
        QCOMPARE(suggestions.size(), n);

        // The pool: the n · poolFactor probabilities nearest 0.5.
        std::vector<double> uncertainty;
        for (const auto& r : ranked) uncertainty.push_back(std::abs(r.probability - 0.5));
        std::sort(uncertainty.begin(), uncertainty.end());
        const double poolEdge = uncertainty[n * poolFactor - 1];
        QCOMPARE(std::abs(suggestions[0].probability - 0.5), uncertainty[0]);  // starts at the most uncertain

        std::set<int64_t> ids;
        for (const auto& s : suggestions) {
            QVERIFY(ids.insert(s.id).second);
            for (const auto& l : labels) QVERIFY(s.id != l.id);
            QVERIFY(std::abs(s.probability - 0.5) <= poolEdge);
        }
        // Farthest-point selection: each pick's distance to the earlier ones never grows, and the
        // last one is the smallest distance between any two suggestions (recomputed here).
        for (size_t i = 2; i < suggestions.size(); ++i) QVERIFY(suggestions[i].distance <= suggestions[i - 1].distance);
        double closest = 2;
        for (size_t a = 0; a < n; ++a)
            for (size_t b = a + 1; b < n; ++b) {
                const double* u = set.unit(*set.rowOf(suggestions[a].id));
                const double* v = set.unit(*set.rowOf(suggestions[b].id));
                double dot = 0;
                for (int j = 0; j < set.dim(); ++j) dot += u[j] * v[j];
                closest = std::min(closest, 1 - dot);
            }
        QVERIFY(std::abs(closest - suggestions.back().distance) < 1e-12);
        // Deterministic.
        const auto again = suggest(set, ranked, n, poolFactor);
        for (size_t i = 0; i < n; ++i) QCOMPARE(again[i].id, suggestions[i].id);
    }

    void fewLabelsFindTheClusterFarAbovePrevalence() {
        const auto data = clustered(2000, 64, 8, 0.05, 99);
        const CandidateSet set(data.ids, data.values, 64);
        FewShotEvalParams params;
        params.ks = {5, 10};
        params.seeds = 4;
        std::vector<Progress> reports;
        const auto eval = evaluateFewShot(set, data.truth, params, [&](const Progress& p) {
            reports.push_back(p);
            return true;
        });
        QCOMPARE(reports.size(), size_t(9));  // the start, then each draw
        for (size_t i = 0; i < reports.size(); ++i) {
            QCOMPARE(reports[i].stage, std::string("few-shot"));
            QCOMPARE(reports[i].done, int64_t(i));
            QCOMPARE(reports[i].total, int64_t(8));
        }
        QCOMPARE(eval.rows.size(), size_t(2));
        const auto positives = std::count(data.truth.begin(), data.truth.end(), uint8_t(1));
        QCOMPARE(eval.positives, int64_t(positives));
        for (const auto& row : eval.rows) {
            QCOMPARE(row.ranked, int64_t(2000 - 2 * row.k));
            QCOMPARE(row.prevalence, double(positives - row.k) / double(2000 - 2 * row.k));
            qInfo("k = %d: AP %.3f ± %.3f, prevalence %.3f", row.k, row.mean, row.std, row.prevalence);
            QVERIFY2(row.mean > row.prevalence + 0.5, qPrintable(QString::number(row.mean)));
        }
        // The same seed draws the same labels.
        const auto again = evaluateFewShot(set, data.truth, params);
        QCOMPARE(again.rows[1].ap, eval.rows[1].ap);
        // Cancelling stops it.
        QVERIFY_THROWS_EXCEPTION(Cancelled, evaluateFewShot(set, data.truth, params, [](const Progress& p) {
                                     return p.done < 3;
                                 }));
    }

    void refusals() {
        const auto& data = data_[1];
        const int dim = kCases[1].dim;
        const CandidateSet set(data.ids, data.values, dim);
        const auto positivesOnly = firstLabels(data, 3, 0), negativesOnly = firstLabels(data, 0, 3);
        QVERIFY(usageErrorOf([&] { trainHead(set, positivesOnly); }).contains("0 negative"));
        QVERIFY(usageErrorOf([&] { trainHead(set, negativesOnly); }).contains("0 positive"));
        auto unknown = firstLabels(data, 2, 2);
        unknown.push_back({7, true});
        QVERIFY(usageErrorOf([&] { trainHead(set, unknown); }).contains("object 7 has no vector"));
        auto twice = firstLabels(data, 2, 2);
        twice.push_back(twice.front());
        QVERIFY(usageErrorOf([&] { trainHead(set, twice); }).contains("labelled twice"));

        // Dimension mismatches: values that do not fill the vectors, a vector of another width.
        QVERIFY(usageErrorOf([&] { CandidateSet(data.ids, data.values, dim + 1); }).contains("do not make"));
        const auto head = trainHead(set, firstLabels(data, 2, 2));
        QVERIFY(usageErrorOf([&] { head.probability(std::vector<float>(size_t(dim - 1), 1.f)); }).contains("dimensions"));
        const std::vector<int64_t> two = {1, 2};
        const CandidateSet narrow(two, std::vector<float>(2 * 3, 0.5f), 3);
        QVERIFY(usageErrorOf([&] { rank(narrow, head, {}); }).contains("dimensional"));

        QVERIFY(usageErrorOf([&] { averagePrecision({0.1, 0.2}, {0, 0}); }).contains("without a positive"));
        QVERIFY(usageErrorOf([&] { averagePrecision({0.1}, {0, 1}); }).contains("truth values"));
        FewShotEvalParams tooMany;
        tooMany.ks = {1000};
        QVERIFY(usageErrorOf([&] { evaluateFewShot(set, data.truth, tooMany); }).contains("more than k"));
        QVERIFY(usageErrorOf([&] {
                    const double nan = std::nan("");
                    fitLogistic(&nan, 1, 1, {1});
                }).contains("not finite"));
    }
};

QTEST_GUILESS_MAIN(TestFewShot)
#include "tst_fewshot.moc"
