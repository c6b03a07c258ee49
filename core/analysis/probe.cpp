#include "core/analysis/probe.h"

#include "core/analysis/knn.h"
#include "core/analysis/mlp_probe.h"
#include "core/analysis/ridge.h"
#include "core/common/error.h"
#include "core/dataset/split.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>

namespace astroclip::analysis {

namespace {

const ColumnInfo& findColumn(Catalog& catalog, const std::string& name, std::vector<ColumnInfo>& storage) {
    storage = catalog.columns();
    for (const auto& c : storage)
        if (c.name == name) return c;
    std::string known;
    for (const auto& c : storage) known += (known.empty() ? "" : ", ") + c.name;
    throw UsageError(catalog.path() + ": unknown column '" + name + "' (known: " + known + ")");
}

// A class name for a value of a classification column, or "" for no value.
std::string className(const Value& v, const std::string& column) {
    if (std::holds_alternative<std::monostate>(v)) return {};
    if (const auto* s = std::get_if<std::string>(&v)) return *s;
    if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
    const double d = std::get<double>(v);
    if (std::isnan(d)) return {};
    if (d != std::floor(d))
        throw UsageError("column '" + column + "' holds real numbers such as " + std::to_string(d) +
                         "; probe it with --task regression");
    return std::to_string(int64_t(d));
}

at::Tensor rowsOf(const EmbeddingMatrix& m, const std::vector<size_t>& rows) {
    auto t = torch::empty({int64_t(rows.size()), int64_t(m.dim)}, torch::kFloat32);
    float* out = t.data_ptr<float>();
    for (size_t i = 0; i < rows.size(); ++i)
        std::copy_n(m.values.data() + rows[i] * size_t(m.dim), size_t(m.dim), out + i * size_t(m.dim));
    return t;
}

at::Tensor standardized(const at::Tensor& x, const at::Tensor& reference) {
    const auto mean = reference.mean(0, true);
    auto std = (reference - mean).pow(2).mean(0, true).sqrt();
    std = torch::where(std > 0, std, torch::ones_like(std));
    return (x - mean) / std;
}

} // namespace

const char* probeMethodName(ProbeMethod m) {
    switch (m) {
    case ProbeMethod::Knn: return "knn";
    case ProbeMethod::Ridge: return "ridge";
    case ProbeMethod::Mlp: return "mlp";
    }
    return "?";
}

const char* probeTaskName(ProbeTask t) { return t == ProbeTask::Regression ? "regression" : "classification"; }

ProbeResult runProbe(Catalog& catalog, const ProbeParams& params) {
    const auto& key = params.embeddings;
    const auto set = catalog.embeddingSet(key);
    if (!set || set->count == 0) {
        const auto model = catalog.model(key.modelId);
        throw UsageError(catalog.path() + ": model '" + (model ? model->name : std::to_string(key.modelId)) +
                         "' has no " + key.modality + " " + key.space +
                         " embeddings; compute them with astroclip embed first");
    }
    std::vector<int64_t> selected;
    const bool filtered = !params.where.empty();
    if (filtered) selected = catalog.select(params.where);
    return runProbe(catalog, params, catalog.embeddings(key, filtered ? &selected : nullptr));
}

ProbeTarget parseProbeTarget(const std::string& target) {
    if (target.starts_with("log10(") && target.ends_with(")") && target.size() > 7)
        return {target.substr(6, target.size() - 7), true};
    return {target, false};
}

ProbeResult runProbe(Catalog& catalog, const ProbeParams& params, const EmbeddingMatrix& m) {
    ProbeResult r;
    r.params = params;
    std::vector<ColumnInfo> columns;
    const ProbeTarget target = parseProbeTarget(params.target);
    if (target.log10 && params.task != ProbeTask::Regression)
        throw UsageError("'" + params.target + "': log10() applies to regression targets only");
    const ColumnInfo& column = findColumn(catalog, target.column, columns);
    if (params.task == ProbeTask::Regression && column.type == "text")
        throw UsageError("column '" + params.target + "' holds text; probe it with --task classification");
    r.dim = m.dim;
    r.candidates = int64_t(m.ids.size());
    if (m.ids.empty()) throw UsageError(catalog.path() + ": no object matching --where '" + params.where + "' has a vector");

    // Values; objects without one leave the probe.
    std::vector<size_t> usable;
    std::vector<double> values;
    if (params.task == ProbeTask::Regression) {
        auto numbers = catalog.numbers(m.ids, target.column);
        if (target.log10)
            for (double& v : numbers) v = v > 0 ? std::log10(v) : std::numeric_limits<double>::quiet_NaN();
        for (size_t i = 0; i < m.ids.size(); ++i)
            if (std::isfinite(numbers[i])) {
                usable.push_back(i);
                values.push_back(numbers[i]);
            }
    } else {
        std::map<std::string, int64_t> index;
        std::vector<std::string> names(m.ids.size());
        for (size_t i = 0; i < m.ids.size(); ++i) {
            names[i] = className(catalog.value(m.ids[i], params.target), params.target);
            if (!names[i].empty()) index.emplace(names[i], 0);
        }
        for (auto& [name, i] : index) {
            i = int64_t(r.classes.size());
            r.classes.push_back(name);
        }
        for (size_t i = 0; i < m.ids.size(); ++i)
            if (!names[i].empty()) {
                usable.push_back(i);
                values.push_back(double(index.at(names[i])));
            }
        if (r.classes.size() < 2)
            throw UsageError("column '" + params.target + "' has " + std::to_string(r.classes.size()) +
                             " distinct value(s) among the embedded objects; a classification needs two or more");
    }
    r.withoutValue = r.candidates - int64_t(usable.size());

    std::vector<int64_t> usableIds;
    for (const size_t i : usable) usableIds.push_back(m.ids[i]);
    const auto split = splitHeldOut(usableIds, params.heldOutFraction, params.splitSeed);
    std::vector<size_t> train = split.train;
    if (params.labels < 0) throw UsageError("--labels must be positive (or 0 for every training object)");
    if (params.labels > 0) {
        if (params.labels > int64_t(train.size()))
            throw UsageError("--labels " + std::to_string(params.labels) + " is more than the " +
                             std::to_string(train.size()) + " objects on the training side");
        std::mt19937_64 rng(params.seed);
        std::shuffle(train.begin(), train.end(), rng);
        train.resize(size_t(params.labels));
        std::sort(train.begin(), train.end());
    }
    if (train.size() < 2 || split.heldOut.size() < 2)
        throw UsageError("the probe needs at least 2 labelled and 2 held-out objects; it has " +
                         std::to_string(train.size()) + " and " + std::to_string(split.heldOut.size()) +
                         " (widen --where or change --labels)");
    r.labelled = int64_t(train.size());
    r.evaluated = int64_t(split.heldOut.size());

    std::vector<size_t> trainRows, testRows;
    std::vector<double> trainY;
    for (const size_t i : train) {
        trainRows.push_back(usable[i]);
        trainY.push_back(values[i]);
    }
    for (const size_t i : split.heldOut) {
        testRows.push_back(usable[i]);
        r.ids.push_back(usableIds[i]);
        r.truth.push_back(values[i]);
    }
    const auto xTrain = rowsOf(m, trainRows), xTest = rowsOf(m, testRows);

    if (params.task == ProbeTask::Regression) {
        r.metric = "r2";
        double mean = 0;
        for (const double y : trainY) mean += y;
        r.baseline = r2Score(r.truth, std::vector<double>(r.truth.size(), mean / double(trainY.size())));
        switch (params.method) {
        case ProbeMethod::Knn: {
            KnnOptions o;
            o.k = r.neighbours = std::min<int64_t>(params.k, r.labelled);
            o.distanceWeighted = true;
            r.predicted = knnRegress(xTrain, trainY, xTest, o);
            break;
        }
        case ProbeMethod::Ridge: {
            const auto model = fitRidgeCV(standardized(xTrain, xTrain), torch::tensor(trainY, torch::kDouble));
            r.ridgeAlpha = model.alpha;
            const auto p = model.predict(standardized(xTest, xTrain)).squeeze(1).contiguous();
            r.predicted.assign(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
            break;
        }
        case ProbeMethod::Mlp: {
            MlpProbeOptions o;
            o.seed = params.seed;
            // AstroCLIP's few-shot redshift head is narrower.
            if (params.target == "truth_z" || params.target == "z") o.hidden = {32};
            r.predicted = mlpRegress(xTrain, trainY, xTest, o);
            break;
        }
        }
        r.score = r2Score(r.truth, r.predicted);
        return r;
    }

    r.metric = "accuracy";
    const auto numClasses = int64_t(r.classes.size());
    std::vector<int64_t> trainLabels(trainY.begin(), trainY.end()), truthLabels(r.truth.begin(), r.truth.end());
    std::vector<int64_t> counts(size_t(numClasses), 0);
    for (const int64_t c : trainLabels) ++counts[size_t(c)];
    const int64_t majority = int64_t(std::max_element(counts.begin(), counts.end()) - counts.begin());
    r.baseline = accuracyScore(truthLabels, std::vector<int64_t>(truthLabels.size(), majority));
    std::vector<int64_t> predicted;
    switch (params.method) {
    case ProbeMethod::Knn: {
        KnnOptions o;
        o.k = r.neighbours = std::min<int64_t>(params.k, r.labelled);
        o.distanceWeighted = true;
        predicted = knnClassify(xTrain, trainLabels, numClasses, xTest, o);
        break;
    }
    case ProbeMethod::Ridge: {
        // One-vs-rest on ±1 targets, the largest decision value wins.
        auto targets = torch::full({r.labelled, numClasses}, -1.0, torch::kDouble);
        for (int64_t i = 0; i < r.labelled; ++i) targets[i][trainLabels[size_t(i)]] = 1.0;
        const auto model = fitRidgeCV(standardized(xTrain, xTrain), targets);
        r.ridgeAlpha = model.alpha;
        const auto best = model.predict(standardized(xTest, xTrain)).argmax(1).contiguous();
        predicted.assign(best.data_ptr<int64_t>(), best.data_ptr<int64_t>() + best.numel());
        break;
    }
    case ProbeMethod::Mlp: {
        MlpProbeOptions o;
        o.seed = params.seed;
        const auto best = mlpClassify(xTrain, trainLabels, numClasses, xTest, o).argmax(1).contiguous();
        predicted.assign(best.data_ptr<int64_t>(), best.data_ptr<int64_t>() + best.numel());
        break;
    }
    }
    r.predicted.assign(predicted.begin(), predicted.end());
    r.score = accuracyScore(truthLabels, predicted);
    return r;
}

} // namespace astroclip::analysis
