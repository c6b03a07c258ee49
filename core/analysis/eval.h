#pragma once
// The AstroCLIP-style evaluation of one model (`astroclip eval`): for each modality the model
// embeds, zero-shot k-NN, the ridge linear probe and the MLP head on held-out objects —
// redshift and physical properties (R²), the sample class (accuracy) — and the few-shot
// tidal-feature search (average precision with k labelled positives and negatives, over
// seeds), each beside the same probe on baselines made from the data itself (raw pixels or
// flux, and their PCA); and, for a model whose modalities share a space, cross-modal
// retrieval (median rank of the true partner, top-1, top-10). Every number comes from the
// probes the CLI exposes one by one (probe.h, discovery/fewshot.h, retrieval.h).
#include "core/analysis/probe.h"
#include "core/analysis/retrieval.h"
#include "core/catalog/catalog.h"
#include "core/common/progress.h"

#include <optional>
#include <string>
#include <vector>

namespace astroclip::analysis {

struct EvalParams {
    int64_t modelId = 0;
    std::optional<std::string> space;       // default: aligned for a clip model, else backbone
    std::string where;                      // evaluate on these objects only ("" = all)
    // Targets; those the catalog lacks are left out with a note.
    std::vector<std::string> regression = {"truth_z", "truth_logmstar", "log10(truth_ssfr)"};
    std::vector<std::string> classification = {"truth_sample"};
    std::string tidalColumn = "truth_tidal", tidalPositive = "1";
    std::vector<int> tidalKs = {5, 10, 20};
    int tidalSeeds = 10;
    int64_t k = 64;                         // k-NN neighbours (AstroCLIP)
    double heldOutFraction = 0.2;
    uint64_t splitSeed = 0;
    bool baselines = true;                  // raw data and its PCA beside the model's vectors
    int pcaComponents = 32;
    ProgressFn progress;
};

// One probe of one set of features.
struct EvalRow {
    std::string modality;                   // "image", "spectrum"
    std::string features;                   // "model" or a baseline's name ("pixels", "pca32(flux)" ...)
    std::string target;                     // column
    std::string method;                     // "knn", "ridge", "mlp", "few-shot k=10"
    std::string metric;                     // "r2", "accuracy", "ap"
    double score = 0;
    double spread = 0;                      // few-shot: std of AP over draws
    double reference = 0;                   // what a guess scores: the mean (r2 0), the majority class, the prevalence
    int64_t labelled = 0, evaluated = 0;
};

struct EvalReport {
    std::string model, space;
    std::vector<std::string> modalities;    // embedded by the model in `space`
    std::vector<std::string> featureNames;  // "model" first, then the baselines, per modality in rows
    std::vector<EvalRow> rows;
    std::vector<RetrievalResult> retrieval; // image → spectrum, spectrum → image (shared space only)
    std::vector<ProbeResult> redshift;      // the model's k-NN redshift probe per modality (for plots)
    std::vector<std::string> notes;         // what was left out and why
};

// UsageError when the model has no stored embeddings in the space, or the selection is empty.
// Cancelled when progress asks to stop.
EvalReport evaluateModel(Catalog& catalog, const EvalParams& params);

// The report as Markdown: one table per modality with the features side by side in each row,
// then the retrieval table and the notes.
std::string evalMarkdown(const EvalReport& report);

} // namespace astroclip::analysis
