// Models, training runs and their metric histories (schema 2): what the trainer records so a
// user can see which checkpoint came from which data and settings, and how training went.
#include "core/catalog/catalog.h"
#include "core/catalog/catalog_impl.h"

#include "core/common/error.h"

#include <cmath>

namespace astroclip {

namespace {

constexpr const char* kModelColumns = "id, name, stage, path, config, step, parent_id, created";
constexpr const char* kRunColumns =
    "r.id, r.model_id, m.name, r.params, r.status, r.started, r.finished, r.message";

void requireLearningTables(const std::string& path, int version) {
    if (version < 2)
        throw CatalogError(path + ": catalog schema " + std::to_string(version) +
                           " has no models or training runs; open it with this build to upgrade it");
}

// SQLite's own JSON parser decides, so what is stored is what SQLite's json functions read.
// `check` is the cached statement "SELECT json_valid(?1)".
void requireJson(sql::Stmt& check, const std::string& path, const std::string& text, const std::string& what) {
    sql::Use u(check);
    check.bind(1, text);
    check.step("checking JSON text");
    if (check.int64(0) != 1) throw UsageError(path + ": the " + what + " is not valid JSON text");
}

ModelRecord readModel(const sql::Stmt& q) {
    ModelRecord m;
    m.id = q.int64(0);
    m.name = q.text(1);
    m.stage = q.text(2);
    m.path = q.text(3);
    m.config = q.text(4);
    m.step = q.int64(5);
    if (!q.isNull(6)) m.parentId = q.int64(6);
    m.created = q.int64(7);
    return m;
}

TrainingRunRecord readRun(const sql::Stmt& q) {
    TrainingRunRecord r;
    r.id = q.int64(0);
    r.modelId = q.int64(1);
    r.model = q.text(2);
    r.params = q.text(3);
    r.status = q.text(4);
    r.started = q.int64(5);
    if (!q.isNull(6)) r.finished = q.int64(6);
    r.message = q.text(7);
    return r;
}

double readMetric(const sql::Stmt& q, int col) { return q.isNull(col) ? std::nan("") : q.real(col); }

void checkModel(sql::Stmt& jsonCheck, const std::string& path, const ModelRecord& m) {
    if (m.name.empty()) throw UsageError(path + ": a model needs a name");
    if (m.stage.empty()) throw UsageError(path + ": model '" + m.name + "' needs a stage");
    if (m.step < 0) throw UsageError(path + ": model '" + m.name + "' has a negative step");
    requireJson(jsonCheck, path, m.config, "configuration of model '" + m.name + "'");
}

constexpr const char* kJsonValid = "SELECT json_valid(?1)";

} // namespace

int64_t Catalog::registerModel(const ModelRecord& m) {
    Impl& I = *impl_;
    requireLearningTables(I.path, I.version);
    Transaction tx(*this);
    checkModel(I.stmt(kJsonValid), I.path, m);
    if (model(m.name))
        throw UsageError(I.path + ": a model called '" + m.name + "' exists already; choose another name");
    auto& s = I.stmt("INSERT INTO models(name, stage, path, config, step, parent_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    {
        sql::Use u(s);
        s.bind(1, m.name);
        s.bind(2, m.stage);
        s.bind(3, m.path);
        s.bind(4, m.config);
        s.bind(5, m.step);
        if (m.parentId) s.bind(6, *m.parentId);
        s.step("registering model '" + m.name + "'");
    }
    const int64_t id = sqlite3_last_insert_rowid(I.db);
    tx.commit();
    return id;
}

void Catalog::updateModel(const ModelRecord& m) {
    Impl& I = *impl_;
    requireLearningTables(I.path, I.version);
    Transaction tx(*this);
    checkModel(I.stmt(kJsonValid), I.path, m);
    if (!model(m.id)) throw CatalogError(I.path + ": no model with id " + std::to_string(m.id));
    if (const auto owner = model(m.name); owner && owner->id != m.id)
        throw UsageError(I.path + ": the name '" + m.name + "' belongs to model " + std::to_string(owner->id));
    if (m.parentId && *m.parentId == m.id)
        throw UsageError(I.path + ": model '" + m.name + "' cannot be its own parent");
    auto& s = I.stmt("UPDATE models SET name = ?2, stage = ?3, path = ?4, config = ?5, step = ?6, parent_id = ?7 "
                     "WHERE id = ?1");
    {
        sql::Use u(s);
        s.bind(1, m.id);
        s.bind(2, m.name);
        s.bind(3, m.stage);
        s.bind(4, m.path);
        s.bind(5, m.config);
        s.bind(6, m.step);
        if (m.parentId) s.bind(7, *m.parentId);
        s.step("updating model '" + m.name + "'");
    }
    tx.commit();
}

std::optional<ModelRecord> Catalog::model(const std::string& name) {
    requireLearningTables(impl_->path, impl_->version);
    auto& q = impl_->stmt(std::string("SELECT ") + kModelColumns + " FROM models WHERE name = ?1");
    sql::Use u(q);
    q.bind(1, name);
    if (!q.step("reading a model")) return std::nullopt;
    return readModel(q);
}

std::optional<ModelRecord> Catalog::model(int64_t id) {
    requireLearningTables(impl_->path, impl_->version);
    auto& q = impl_->stmt(std::string("SELECT ") + kModelColumns + " FROM models WHERE id = ?1");
    sql::Use u(q);
    q.bind(1, id);
    if (!q.step("reading a model")) return std::nullopt;
    return readModel(q);
}

std::vector<ModelRecord> Catalog::models() {
    requireLearningTables(impl_->path, impl_->version);
    auto& q = impl_->stmt(std::string("SELECT ") + kModelColumns + " FROM models ORDER BY id");
    sql::Use u(q);
    std::vector<ModelRecord> out;
    while (q.step("listing models")) out.push_back(readModel(q));
    return out;
}

int64_t Catalog::startTrainingRun(int64_t modelId, const std::string& paramsJson) {
    Impl& I = *impl_;
    requireLearningTables(I.path, I.version);
    Transaction tx(*this);
    requireJson(I.stmt(kJsonValid), I.path, paramsJson, "parameters of a training run");
    if (!model(modelId)) throw CatalogError(I.path + ": no model with id " + std::to_string(modelId));
    auto& s = I.stmt("INSERT INTO training_runs(model_id, params, status) VALUES (?1, ?2, 'running')");
    {
        sql::Use u(s);
        s.bind(1, modelId);
        s.bind(2, paramsJson);
        s.step("starting a training run");
    }
    const int64_t id = sqlite3_last_insert_rowid(I.db);
    tx.commit();
    return id;
}

void Catalog::recordMetrics(int64_t runId, int64_t step, const std::vector<std::pair<std::string, double>>& values) {
    Impl& I = *impl_;
    requireLearningTables(I.path, I.version);
    if (values.empty()) return;
    Transaction tx(*this);
    if (!trainingRun(runId)) throw CatalogError(I.path + ": no training run with id " + std::to_string(runId));
    auto& s = I.stmt("INSERT OR REPLACE INTO training_metrics(run_id, step, name, value) VALUES (?1, ?2, ?3, ?4)");
    for (const auto& [name, value] : values) {
        if (name.empty()) throw UsageError(I.path + ": a metric of run " + std::to_string(runId) + " has no name");
        sql::Use u(s);
        s.bind(1, runId);
        s.bind(2, step);
        s.bind(3, name);
        if (std::isfinite(value)) s.bind(4, value);  // else NULL: SQLite has no NaN or infinity
        s.step("recording metric '" + name + "' of run " + std::to_string(runId));
    }
    tx.commit();
}

void Catalog::finishTrainingRun(int64_t runId, const std::string& status, const std::string& message) {
    Impl& I = *impl_;
    requireLearningTables(I.path, I.version);
    if (status != "finished" && status != "cancelled" && status != "failed")
        throw UsageError(I.path + ": a training run ends as finished, cancelled or failed, not '" + status + "'");
    Transaction tx(*this);
    const auto run = trainingRun(runId);
    if (!run) throw CatalogError(I.path + ": no training run with id " + std::to_string(runId));
    if (run->status != "running")
        throw CatalogError(I.path + ": training run " + std::to_string(runId) + " has ended already (" + run->status +
                           ")");
    auto& s = I.stmt("UPDATE training_runs SET status = ?2, message = ?3, "
                     "finished = CAST(strftime('%s', 'now') AS INTEGER) WHERE id = ?1");
    {
        sql::Use u(s);
        s.bind(1, runId);
        s.bind(2, status);
        s.bind(3, message);
        s.step("ending training run " + std::to_string(runId));
    }
    tx.commit();
}

std::optional<TrainingRunRecord> Catalog::trainingRun(int64_t runId) {
    requireLearningTables(impl_->path, impl_->version);
    auto& q = impl_->stmt(std::string("SELECT ") + kRunColumns +
                          " FROM training_runs r JOIN models m ON m.id = r.model_id WHERE r.id = ?1");
    sql::Use u(q);
    q.bind(1, runId);
    if (!q.step("reading a training run")) return std::nullopt;
    return readRun(q);
}

std::vector<TrainingRunRecord> Catalog::trainingRuns(std::optional<int64_t> modelId) {
    requireLearningTables(impl_->path, impl_->version);
    auto& q = impl_->stmt(std::string("SELECT ") + kRunColumns +
                          " FROM training_runs r JOIN models m ON m.id = r.model_id "
                          "WHERE ?1 IS NULL OR r.model_id = ?1 ORDER BY r.id");
    sql::Use u(q);
    if (modelId) q.bind(1, *modelId);
    std::vector<TrainingRunRecord> out;
    while (q.step("listing training runs")) out.push_back(readRun(q));
    return out;
}

std::map<std::string, std::vector<MetricSample>> Catalog::runMetrics(int64_t runId, const std::string& name) {
    requireLearningTables(impl_->path, impl_->version);
    auto& q = impl_->stmt("SELECT name, step, value FROM training_metrics WHERE run_id = ?1 "
                          "AND (?2 = '' OR name = ?2) ORDER BY name, step");
    sql::Use u(q);
    q.bind(1, runId);
    q.bind(2, name);
    std::map<std::string, std::vector<MetricSample>> out;
    while (q.step("reading the metrics of a training run")) out[q.text(0)].push_back({q.int64(1), readMetric(q, 2)});
    return out;
}

std::map<std::string, MetricSample> Catalog::finalMetrics(int64_t runId) {
    requireLearningTables(impl_->path, impl_->version);
    // The primary key (run_id, name, step) serves both the grouping and the max.
    auto& q = impl_->stmt("SELECT t.name, t.step, t.value FROM training_metrics t "
                          "JOIN (SELECT name, max(step) AS step FROM training_metrics WHERE run_id = ?1 GROUP BY name) "
                          "last ON last.name = t.name AND last.step = t.step WHERE t.run_id = ?1 ORDER BY t.name");
    sql::Use u(q);
    q.bind(1, runId);
    std::map<std::string, MetricSample> out;
    while (q.step("reading the final metrics of a training run")) out[q.text(0)] = {q.int64(1), readMetric(q, 2)};
    return out;
}

} // namespace astroclip
