#include "core/analysis/eval.h"

#include "core/analysis/baselines.h"
#include "core/catalog/model_lookup.h"
#include "core/common/error.h"
#include "core/dataset/split.h"
#include "core/discovery/catalog_candidates.h"
#include "core/discovery/fewshot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace astroclip::analysis {

namespace {

struct Features {
    std::string name;
    EmbeddingMatrix matrix;
};

// Whether the catalog has a target's column ("log10(truth_ssfr)" reads truth_ssfr).
bool hasColumn(const std::vector<ColumnInfo>& columns, const std::string& target) {
    const std::string name = parseProbeTarget(target).column;
    return std::any_of(columns.begin(), columns.end(), [&](const ColumnInfo& c) { return c.name == name; });
}

// The few-shot tidal search on one set of features: candidates = its objects with a value.
void tidalRows(Catalog& catalog, const EvalParams& params, const std::string& modality, const Features& f,
               EvalReport& report) {
    std::vector<uint8_t> truth;
    std::vector<int64_t> ids;
    std::vector<float> vectors;
    const auto values = catalog.numbers(f.matrix.ids, params.tidalColumn);
    for (size_t i = 0; i < f.matrix.ids.size(); ++i) {
        if (!std::isfinite(values[i])) continue;
        ids.push_back(f.matrix.ids[i]);
        truth.push_back(discovery::isPositive(Value(values[i]), params.tidalPositive) ? 1 : 0);
        vectors.insert(vectors.end(), f.matrix.values.begin() + long(i * size_t(f.matrix.dim)),
                       f.matrix.values.begin() + long((i + 1) * size_t(f.matrix.dim)));
    }
    const int64_t positives = std::count(truth.begin(), truth.end(), 1);
    const int64_t negatives = int64_t(truth.size()) - positives;
    // Each k needs more positives and negatives than it labels, or nothing is left to rank.
    std::vector<int> ks, dropped;
    for (const int k : params.tidalKs) (k < positives && k < negatives ? ks : dropped).push_back(k);
    if (!dropped.empty() && f.name == "model") {
        std::string list;
        for (const int k : dropped) list += (list.empty() ? "" : ", ") + std::to_string(k);
        report.notes.push_back(modality + ": tidal search with k = " + list + " left out: " + std::to_string(positives) +
                               " of " + std::to_string(truth.size()) + " objects have " + params.tidalColumn + " = " +
                               params.tidalPositive + " (simulate more galaxies or a larger tidal fraction)");
    }
    if (ks.empty()) return;
    const discovery::CandidateSet candidates(ids, vectors, f.matrix.dim);
    discovery::FewShotEvalParams fp;
    fp.ks = ks;
    fp.seeds = params.tidalSeeds;
    const auto e = discovery::evaluateFewShot(candidates, truth, fp, params.progress);
    for (const auto& row : e.rows) {
        EvalRow r;
        r.modality = modality;
        r.features = f.name;
        r.target = params.tidalColumn;
        r.method = "few-shot k=" + std::to_string(row.k);
        r.metric = "ap";
        r.score = row.mean;
        r.spread = row.std;
        r.reference = row.prevalence;
        r.labelled = 2 * row.k;
        r.evaluated = row.ranked;
        report.rows.push_back(r);
    }
}

void probeRows(Catalog& catalog, const EvalParams& params, const std::string& modality, const Features& f,
               const std::string& target, ProbeTask task, EvalReport& report) {
    for (const auto method : {ProbeMethod::Knn, ProbeMethod::Ridge, ProbeMethod::Mlp}) {
        ProbeParams p;
        p.embeddings = {params.modelId, modality, f.name == "model" ? report.space : f.name};  // labels results, plots
        p.target = target;
        p.task = task;
        p.method = method;
        p.heldOutFraction = params.heldOutFraction;
        p.splitSeed = params.splitSeed;
        p.k = params.k;
        astroclip::report(params.progress, {"eval", 0, 0, modality + " " + f.name + " " + target + " " + probeMethodName(method)});
        const auto r = runProbe(catalog, p, f.matrix);
        EvalRow row;
        row.modality = modality;
        row.features = f.name;
        row.target = target;
        row.method = probeMethodName(method);
        row.metric = r.metric;
        row.score = r.score;
        row.reference = r.baseline;
        row.labelled = r.labelled;
        row.evaluated = r.evaluated;
        report.rows.push_back(row);
        if (f.name == "model" && method == ProbeMethod::Knn && (target == "truth_z" || target == "z"))
            report.redshift.push_back(r);
    }
}

std::string fmt(double v, const char* f = "%.3f") {
    char b[32];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

} // namespace

EvalReport evaluateModel(Catalog& catalog, const EvalParams& params) {
    const auto model = catalog.model(params.modelId);
    if (!model) throw UsageError(catalog.path() + ": no model with id " + std::to_string(params.modelId));
    EvalReport report;
    report.model = model->name;
    report.space = params.space.value_or(defaultEmbeddingSpace(*model));

    std::vector<int64_t> selected;
    if (!params.where.empty()) {
        selected = catalog.select(params.where);
        if (selected.empty()) throw UsageError(catalog.path() + ": no object matches --where '" + params.where + "'");
    }
    const auto* only = params.where.empty() ? nullptr : &selected;
    std::map<std::string, EmbeddingMatrix> vectors;
    for (const std::string modality : {"image", "spectrum"}) {
        const auto set = catalog.embeddingSet({model->id, modality, report.space});
        if (!set || set->count == 0) continue;
        vectors[modality] = catalog.embeddings(set->key, only);
        if (vectors[modality].ids.size() < 4) {
            report.notes.push_back(modality + ": only " + std::to_string(vectors[modality].ids.size()) +
                                   " objects embedded in the selection; left out");
            vectors.erase(modality);
            continue;
        }
        report.modalities.push_back(modality);
    }
    if (report.modalities.empty())
        throw UsageError(catalog.path() + ": model '" + model->name + "' has no " + report.space +
                         " embeddings" + (params.where.empty() ? "" : " of objects matching --where") +
                         "; compute them with astroclip embed first");

    const auto columns = catalog.columns();
    for (const auto& modality : report.modalities) {
        std::vector<Features> features{{"model", vectors[modality]}};
        if (params.baselines) {
            // A baseline the data cannot give (e.g. cutouts smaller than its crop) is noted, not fatal:
            // the model's own rows still stand.
            try {
                const auto raw = modality == "image" ? pixelFeatures(catalog, vectors[modality].ids, params.progress)
                                                     : fluxFeatures(catalog, vectors[modality].ids, params.progress);
                if (raw.unreadable > 0)
                    report.notes.push_back(modality + ": " + std::to_string(raw.unreadable) +
                                           " objects' data could not be read for the baselines");
                auto pca = pcaFeatures(raw, params.pcaComponents);
                features.push_back({pca.name, std::move(pca.features)});
                features.push_back({raw.name, raw.features});
            } catch (const UsageError& e) {
                report.notes.push_back(modality + ": raw-data baselines left out: " + e.what());
            }
        }
        for (const auto& f : features) {
            if (std::find(report.featureNames.begin(), report.featureNames.end(), f.name) == report.featureNames.end())
                report.featureNames.push_back(f.name);
            for (const auto& t : params.regression)
                if (hasColumn(columns, t)) probeRows(catalog, params, modality, f, t, ProbeTask::Regression, report);
            for (const auto& t : params.classification)
                if (hasColumn(columns, t)) probeRows(catalog, params, modality, f, t, ProbeTask::Classification, report);
            if (!params.tidalColumn.empty() && hasColumn(columns, params.tidalColumn))
                tidalRows(catalog, params, modality, f, report);
        }
    }
    for (const auto& t : params.regression)
        if (!hasColumn(columns, t)) report.notes.push_back("no column " + t + " in the catalog: its rows are left out");
    for (const auto& t : params.classification)
        if (!hasColumn(columns, t)) report.notes.push_back("no column " + t + " in the catalog: its rows are left out");

    // Retrieval on the held-out side, in a shared space only.
    if (vectors.count("image") && vectors.count("spectrum") && vectors["image"].dim == vectors["spectrum"].dim &&
        report.space == "aligned") {
        std::vector<int64_t> heldOut;
        for (const int64_t id : vectors["image"].ids)
            if (isHeldOut(id, params.heldOutFraction, params.splitSeed)) heldOut.push_back(id);
        report.retrieval.push_back(crossModalRetrieval(vectors["image"], vectors["spectrum"], "image", "spectrum", &heldOut));
        report.retrieval.push_back(crossModalRetrieval(vectors["spectrum"], vectors["image"], "spectrum", "image", &heldOut));
    } else if (report.modalities.size() == 2) {
        report.notes.push_back("cross-modal retrieval left out: the " + report.space + " image and spectrum vectors are "
                               "not one space (evaluate a clip model in its aligned space)");
    }
    return report;
}

std::string evalMarkdown(const EvalReport& report) {
    std::string md = "# Evaluation of model " + report.model + " (" + report.space + " space)\n\n";
    md += "Held-out objects (by hash of id); k-NN is zero-shot (standardised vectors, distance-weighted), ridge the "
          "linear probe (alpha by leave-one-out), mlp the small head; few-shot rows train a logistic head on k "
          "labelled positives and k negatives and rank the rest (average precision, mean ± std over draws). "
          "`guess` is what predicting the mean (R² 0), the majority class or a random ranking (prevalence) scores.\n";
    for (const auto& modality : report.modalities) {
        std::vector<std::string> names;
        for (const auto& r : report.rows)
            if (r.modality == modality && std::find(names.begin(), names.end(), r.features) == names.end())
                names.push_back(r.features);
        md += "\n## " + modality + "\n\n| target | method | metric |";
        for (const auto& n : names) md.append(" ").append(n == "model" ? report.model : n).append(" |");
        md += " guess | n (labelled / evaluated) |\n|---|---|---|";
        for (size_t i = 0; i < names.size(); ++i) md += "---|";
        md += "---|---|\n";
        std::vector<std::pair<std::string, std::string>> keys;  // (target, method) in first-seen order
        for (const auto& r : report.rows)
            if (r.modality == modality && std::find(keys.begin(), keys.end(), std::pair(r.target, r.method)) == keys.end())
                keys.emplace_back(r.target, r.method);
        for (const auto& [target, method] : keys) {
            const EvalRow* first = nullptr;
            std::string cells;
            for (const auto& n : names) {
                const auto it = std::find_if(report.rows.begin(), report.rows.end(), [&](const EvalRow& r) {
                    return r.modality == modality && r.features == n && r.target == target && r.method == method;
                });
                if (it == report.rows.end()) {
                    cells += " – |";
                    continue;
                }
                if (!first) first = &*it;
                cells.append(" ").append(fmt(it->score));
                if (it->metric == "ap") cells.append(" ± ").append(fmt(it->spread));
                cells.append(" |");
            }
            md += "| " + target + " | " + method + " | " + first->metric + " |" + cells + " " + fmt(first->reference) +
                  " | " + std::to_string(first->labelled) + " / " + std::to_string(first->evaluated) + " |\n";
        }
    }
    if (!report.retrieval.empty()) {
        md += "\n## Cross-modal retrieval (held-out objects)\n\n| query → candidates | objects | median rank | top-1 | "
              "top-10 | random: median rank, top-1, top-10 |\n|---|---|---|---|---|---|\n";
        for (const auto& r : report.retrieval) {
            const double n = double(r.ids.size());
            md += "| " + r.from + " → " + r.to + " | " + std::to_string(r.ids.size()) + " | " + fmt(r.medianRank, "%.1f") +
                  " | " + fmt(r.top1) + " | " + fmt(r.top10) + " | " + fmt((n + 1) / 2, "%.1f") + ", " + fmt(1 / n) +
                  ", " + fmt(std::min(1.0, 10 / n)) + " |\n";
        }
    }
    if (!report.notes.empty()) {
        md += "\n## Notes\n\n";
        for (const auto& n : report.notes) md += "- " + n + "\n";
    }
    return md;
}

} // namespace astroclip::analysis
