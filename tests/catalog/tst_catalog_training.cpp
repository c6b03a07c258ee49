// The catalog's record of learning: models (unique names, parents, configuration), training
// runs (start, finish, refusals), metric histories (one transaction per step, idempotent
// re-reports, NaN as "no value", all or nothing), and what another connection reads back.
#include "catalog_test_util.h"

#include "core/common/error.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <ctime>

using namespace astroclip;
using namespace astroclip::testing;

namespace {

ModelRecord spectrumModel(const std::string& name) {
    ModelRecord m;
    m.name = name;
    m.stage = "spectrum";
    m.path = "/runs/" + name + "/checkpoint-20.safetensors";
    m.config = R"({"preset":"tiny","train":{"lr":0.0003}})";
    m.step = 20;
    return m;
}

} // namespace

class TestCatalogTraining : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    int n_ = 0;
    std::string fresh() { return dir_.filePath(QString("cat%1.sqlite").arg(++n_)).toStdString(); }

private Q_SLOTS:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void modelsRoundTrip() {
        const std::string path = fresh();
        const int64_t before = std::time(nullptr);
        int64_t parent = 0, child = 0;
        {
            auto cat = Catalog::open(path);
            parent = cat.registerModel(spectrumModel("spec-a"));
            ModelRecord m = spectrumModel("clip-a");
            m.stage = "clip";
            m.parentId = parent;
            child = cat.registerModel(m);
            QVERIFY(parent != child);
        }
        // Another connection reads what the first committed.
        auto cat = Catalog::open(path, false);
        const auto models = cat.models();
        QCOMPARE(models.size(), size_t(2));
        QCOMPARE(models[0].id, parent);
        QCOMPARE(models[0].name, std::string("spec-a"));
        QCOMPARE(models[0].stage, std::string("spectrum"));
        QCOMPARE(models[0].path, std::string("/runs/spec-a/checkpoint-20.safetensors"));
        QCOMPARE(models[0].config, std::string(R"({"preset":"tiny","train":{"lr":0.0003}})"));
        QCOMPARE(models[0].step, int64_t(20));
        QVERIFY(!models[0].parentId);
        QVERIFY(models[0].created >= before && models[0].created <= std::time(nullptr) + 1);
        QCOMPARE(models[1].parentId.value_or(-1), parent);
        QCOMPARE(cat.model("clip-a")->id, child);
        QCOMPARE(cat.model(child)->name, std::string("clip-a"));
        QVERIFY(!cat.model("nothing"));
        QVERIFY(!cat.model(int64_t(9999)));
        // info() lists them as before.
        QCOMPARE(cat.info().models.size(), size_t(2));
    }

    void modelRefusals_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("stage");
        QTest::addColumn<QString>("config");
        QTest::addColumn<int>("step");
        QTest::newRow("taken name") << "spec-a" << "spectrum" << "{}" << 0;
        QTest::newRow("empty name") << "" << "spectrum" << "{}" << 0;
        QTest::newRow("empty stage") << "x" << "" << "{}" << 0;
        QTest::newRow("invalid JSON") << "x" << "spectrum" << "{\"lr\": }" << 0;
        QTest::newRow("negative step") << "x" << "spectrum" << "{}" << -1;
    }
    void modelRefusals() {
        QFETCH(QString, name);
        QFETCH(QString, stage);
        QFETCH(QString, config);
        QFETCH(int, step);
        auto cat = Catalog::open(fresh());
        cat.registerModel(spectrumModel("spec-a"));
        ModelRecord m = spectrumModel(name.toStdString());
        m.stage = stage.toStdString();
        m.config = config.toStdString();
        m.step = step;
        QVERIFY_THROWS_EXCEPTION(UsageError, cat.registerModel(m));
        QCOMPARE(cat.models().size(), size_t(1));
    }

    void updateModelRewritesFields() {
        auto cat = Catalog::open(fresh());
        const int64_t a = cat.registerModel(spectrumModel("spec-a"));
        const int64_t b = cat.registerModel(spectrumModel("spec-b"));
        ModelRecord m = *cat.model(a);
        m.path = "/runs/spec-a/checkpoint-40.safetensors";
        m.step = 40;
        m.config = R"({"preset":"small"})";
        m.parentId = b;
        cat.updateModel(m);
        const auto back = *cat.model(a);
        QCOMPARE(back.path, m.path);
        QCOMPARE(back.step, int64_t(40));
        QCOMPARE(back.config, m.config);
        QCOMPARE(back.parentId.value_or(-1), b);
        QCOMPARE(back.created, m.created);

        m.name = "spec-b";  // taken by the other model
        QVERIFY_THROWS_EXCEPTION(UsageError, cat.updateModel(m));
        m.name = "spec-a";
        m.parentId = a;
        QVERIFY_THROWS_EXCEPTION(UsageError, cat.updateModel(m));
        m.parentId.reset();
        m.id = 12345;
        m.name = "spec-new";
        QVERIFY_THROWS_EXCEPTION(CatalogError, cat.updateModel(m));
        QCOMPARE(cat.model(a)->step, int64_t(40));  // refused updates changed nothing
    }

    void runLifecycle() {
        auto cat = Catalog::open(fresh());
        const int64_t model = cat.registerModel(spectrumModel("spec-a"));
        const int64_t before = std::time(nullptr);
        const int64_t run = cat.startTrainingRun(model, R"({"steps":20,"device":"cpu"})");
        auto r = *cat.trainingRun(run);
        QCOMPARE(r.modelId, model);
        QCOMPARE(r.model, std::string("spec-a"));
        QCOMPARE(r.status, std::string("running"));
        QCOMPARE(r.params, std::string(R"({"steps":20,"device":"cpu"})"));
        QVERIFY(r.started >= before);
        QVERIFY(!r.finished);
        QVERIFY(r.message.empty());

        QVERIFY_THROWS_EXCEPTION(UsageError, cat.finishTrainingRun(run, "running", ""));
        QVERIFY_THROWS_EXCEPTION(UsageError, cat.finishTrainingRun(run, "done", ""));
        cat.finishTrainingRun(run, "cancelled", "stopped by the user at step 7; checkpoint-7 written");
        r = *cat.trainingRun(run);
        QCOMPARE(r.status, std::string("cancelled"));
        QCOMPARE(r.message, std::string("stopped by the user at step 7; checkpoint-7 written"));
        QVERIFY(r.finished && *r.finished >= r.started);
        // A run ends once.
        QVERIFY_THROWS_EXCEPTION(CatalogError, cat.finishTrainingRun(run, "finished", ""));
        QCOMPARE(cat.trainingRun(run)->status, std::string("cancelled"));

        QVERIFY_THROWS_EXCEPTION(CatalogError, cat.finishTrainingRun(run + 100, "failed", "x"));
        QVERIFY_THROWS_EXCEPTION(CatalogError, cat.startTrainingRun(model + 100, "{}"));
        QVERIFY_THROWS_EXCEPTION(UsageError, cat.startTrainingRun(model, "not json"));
        QCOMPARE(cat.trainingRuns().size(), size_t(1));
    }

    void runsOfOneModel() {
        auto cat = Catalog::open(fresh());
        const int64_t a = cat.registerModel(spectrumModel("spec-a"));
        const int64_t b = cat.registerModel(spectrumModel("spec-b"));
        const int64_t a1 = cat.startTrainingRun(a, "{}");
        const int64_t b1 = cat.startTrainingRun(b, "{}");
        const int64_t a2 = cat.startTrainingRun(a, R"({"resume":true})");
        const auto ofA = cat.trainingRuns(a);
        QCOMPARE(ofA.size(), size_t(2));
        QCOMPARE(ofA[0].id, a1);
        QCOMPARE(ofA[1].id, a2);
        QCOMPARE(ofA[1].params, std::string(R"({"resume":true})"));
        QCOMPARE(cat.trainingRuns(b).size(), size_t(1));
        QCOMPARE(cat.trainingRuns(b)[0].id, b1);
        QCOMPARE(cat.trainingRuns().size(), size_t(3));
        QCOMPARE(cat.trainingRuns(int64_t(999)).size(), size_t(0));
    }

    // Re-reporting a step (a resumed run repeats what its checkpoint knew) replaces values;
    // rows are never duplicated.
    void metricsAreIdempotentPerStep() {
        auto cat = Catalog::open(fresh());
        const int64_t run = cat.startTrainingRun(cat.registerModel(spectrumModel("spec-a")), "{}");
        for (int step = 1; step <= 5; ++step)
            cat.recordMetrics(run, step, {{"loss", 1.0 / step}, {"lr", 1e-4 * step}, {"grad_norm", 2.0 + step}});
        const int64_t rows = queryInt(cat.handle(), "SELECT count(*) FROM training_metrics");
        QCOMPARE(rows, int64_t(15));
        cat.recordMetrics(run, 3, {{"loss", 0.25}, {"lr", 3e-4}, {"grad_norm", 5.0}});
        cat.recordMetrics(run, 4, {{"loss", 0.2}});
        QCOMPARE(queryInt(cat.handle(), "SELECT count(*) FROM training_metrics"), rows);

        const auto history = cat.runMetrics(run);
        QCOMPARE(history.size(), size_t(3));
        const auto& loss = history.at("loss");
        QCOMPARE(loss.size(), size_t(5));
        for (size_t i = 0; i < loss.size(); ++i) QCOMPARE(loss[i].step, int64_t(i + 1));
        QCOMPARE(loss[0].value, 1.0);
        QCOMPARE(loss[2].value, 0.25);
        QCOMPARE(loss[3].value, 0.2);
        QCOMPARE(loss[4].value, 0.2);  // 1/5 as first recorded
        QCOMPARE(history.at("grad_norm")[2].value, 5.0);

        const auto onlyLr = cat.runMetrics(run, "lr");
        QCOMPARE(onlyLr.size(), size_t(1));
        QCOMPARE(onlyLr.at("lr").size(), size_t(5));

        const auto last = cat.finalMetrics(run);
        QCOMPARE(last.size(), size_t(3));
        QCOMPARE(last.at("loss").step, int64_t(5));
        QCOMPARE(last.at("loss").value, 0.2);
        QCOMPARE(last.at("lr").value, 5e-4);
    }

    void nonFiniteMetricsReadAsNaN() {
        auto cat = Catalog::open(fresh());
        const int64_t run = cat.startTrainingRun(cat.registerModel(spectrumModel("spec-a")), "{}");
        cat.recordMetrics(run, 1, {{"loss", std::nan("")}, {"grad_norm", INFINITY}, {"lr", 1e-4}});
        QCOMPARE(queryInt(cat.handle(), "SELECT count(*) FROM training_metrics WHERE value IS NULL"), int64_t(2));
        const auto h = cat.runMetrics(run);
        QVERIFY(std::isnan(h.at("loss")[0].value));
        QVERIFY(std::isnan(h.at("grad_norm")[0].value));
        QCOMPARE(h.at("lr")[0].value, 1e-4);
    }

    // A step's metrics go in together or not at all.
    void metricsOfAStepAreAtomic() {
        auto cat = Catalog::open(fresh());
        const int64_t run = cat.startTrainingRun(cat.registerModel(spectrumModel("spec-a")), "{}");
        cat.recordMetrics(run, 1, {{"loss", 1.0}});
        QVERIFY_THROWS_EXCEPTION(UsageError, cat.recordMetrics(run, 2, {{"loss", 0.9}, {"", 3.0}, {"lr", 1e-4}}));
        QVERIFY_THROWS_EXCEPTION(CatalogError, cat.recordMetrics(run + 1, 2, {{"loss", 0.9}}));
        QCOMPARE(queryInt(cat.handle(), "SELECT count(*) FROM training_metrics"), int64_t(1));
        // Inside a caller's transaction the step is a savepoint: rolling back the caller
        // takes it back too.
        {
            Catalog::Transaction tx(cat);
            cat.recordMetrics(run, 2, {{"loss", 0.9}, {"lr", 1e-4}});
        }
        QCOMPARE(queryInt(cat.handle(), "SELECT count(*) FROM training_metrics"), int64_t(1));
        QCOMPARE(cat.runMetrics(run).at("loss").size(), size_t(1));
    }

    // Removing a model removes its runs and their metrics (the schema's cascades).
    void modelRemovalCascades() {
        auto cat = Catalog::open(fresh());
        const int64_t a = cat.registerModel(spectrumModel("spec-a"));
        const int64_t b = cat.registerModel(spectrumModel("spec-b"));
        ModelRecord child = *cat.model(b);
        child.parentId = a;
        cat.updateModel(child);
        const int64_t run = cat.startTrainingRun(a, "{}");
        cat.recordMetrics(run, 1, {{"loss", 1.0}});
        sqlite3_exec(cat.handle(), "DELETE FROM models WHERE name = 'spec-a'", nullptr, nullptr, nullptr);
        QCOMPARE(cat.trainingRuns().size(), size_t(0));
        QCOMPARE(queryInt(cat.handle(), "SELECT count(*) FROM training_metrics"), int64_t(0));
        QVERIFY(!cat.model(b)->parentId);  // the child stays, without its parent
    }

    void schemaOneHasNoLearningTables() {
        const std::string path = fresh();
        auto cat = Catalog::openAtVersion(path, 1);
        QVERIFY_THROWS_EXCEPTION(CatalogError, cat.models());
        QVERIFY_THROWS_EXCEPTION(CatalogError, cat.registerModel(spectrumModel("spec-a")));
        QVERIFY_THROWS_EXCEPTION(CatalogError, cat.trainingRuns());
    }
};

QTEST_GUILESS_MAIN(TestCatalogTraining)
#include "tst_catalog_training.moc"
