#pragma once
// A probe of stored embeddings (`astroclip probe`, the evaluation table): how well one model's
// vectors of one modality predict a catalog column on objects they were not fitted on.
//   knn    zero-shot: the k nearest labelled vectors (AstroCLIP: standardised, k = 64,
//          distance-weighted), no fitting
//   ridge  linear probe, alpha by leave-one-out cross-validation (ridge.h); a classification
//          is one-vs-rest on ±1 targets (scikit-learn's RidgeClassifierCV)
//   mlp    few-shot head (mlp_probe.h)
// Objects with a vector and a value are split by a hash of their id (dataset/split.h): the
// held-out side is evaluated, the other side labels the probe — all of it, or `labels`
// objects drawn from it with `seed` (few-shot). A classification takes the column's distinct
// values (text or integers) as classes; a regression needs a numeric column.
#include "core/catalog/catalog.h"

#include <cstdint>
#include <string>
#include <vector>

namespace astroclip::analysis {

enum class ProbeMethod { Knn, Ridge, Mlp };
enum class ProbeTask { Regression, Classification };
const char* probeMethodName(ProbeMethod m);  // "knn", "ridge", "mlp"
const char* probeTaskName(ProbeTask t);      // "regression", "classification"

struct ProbeParams {
    EmbeddingKey embeddings;        // whose vectors
    std::string target;             // catalog column (e.g. truth_z, truth_sample), or log10(column) for a regression
    ProbeTask task = ProbeTask::Regression;
    ProbeMethod method = ProbeMethod::Knn;
    std::string where;              // restrict to objects matching this filter ("" = all)
    double heldOutFraction = 0.2;
    uint64_t splitSeed = 0;
    int64_t labels = 0;             // labelled objects drawn from the training side; 0 = all
    uint64_t seed = 0;              // draws the labels and seeds the MLP
    int64_t k = 64;                 // knn neighbours (fewer when fewer objects are labelled)
};

struct ProbeResult {
    ProbeParams params;
    int64_t dim = 0;
    int64_t candidates = 0;         // objects with a vector (and matching `where`)
    int64_t withoutValue = 0;       // of those: no value in the target column
    int64_t labelled = 0, evaluated = 0;
    std::string metric;             // "r2" or "accuracy"
    double score = 0;
    double baseline = 0;            // predicting the labelled mean (r2) or the majority class (accuracy)
    double ridgeAlpha = 0;          // ridge only
    int64_t neighbours = 0;         // knn only: k used
    std::vector<int64_t> ids;       // evaluated objects
    std::vector<double> truth, predicted;  // regression: values; classification: class indices
    std::vector<std::string> classes;      // classification: class names, index order
};

// A target is a column or log10(column): quantities spanning decades (sSFR, SFR, fluxes) are
// predicted in log, as astronomers quote them; values <= 0 have no log and leave the probe.
struct ProbeTarget {
    std::string column;
    bool log10 = false;
};
ProbeTarget parseProbeTarget(const std::string& target);

// UsageError when the embeddings are not stored, the column is unknown or unsuitable, the
// split leaves too few objects on a side, or labels exceeds what the training side holds.
ProbeResult runProbe(Catalog& catalog, const ProbeParams& params);
// The same probe on features computed elsewhere (the evaluation's baselines: raw pixels, PCA of
// them): row i of `features` is object features.ids[i]; params.embeddings and params.where are
// not used (select the rows before).
ProbeResult runProbe(Catalog& catalog, const ProbeParams& params, const EmbeddingMatrix& features);

} // namespace astroclip::analysis
