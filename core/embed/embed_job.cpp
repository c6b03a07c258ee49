#include "core/embed/embed_job.h"

#include "core/common/error.h"
#include "core/common/log.h"
#include "core/embed/encode.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <unordered_set>

namespace fs = std::filesystem;

namespace astroclip::embed {

namespace {

// The path made absolute and canonical as far as it exists ("" is the current folder).
std::string absolute(const std::string& path) {
    std::error_code ec;
    const auto full = fs::absolute(path.empty() ? fs::path(".") : fs::path(path), ec);
    if (ec) return path;
    const auto p = fs::weakly_canonical(full, ec);
    return ec ? full.string() : p.string();
}

// The modalities to embed: those asked for (each must be there), or every one the run holds.
std::vector<Modality> modalitiesToEmbed(const runs::TrainedEncoders& encoders, const EmbedJobParams& params,
                                        runs::EmbeddingSpace space) {
    if (!params.modalities.empty()) {
        for (const auto m : params.modalities) {
            if (m == Modality::Both) throw UsageError("embed one modality at a time, or list both (image, spectrum)");
            runs::requireEncoder(encoders, m, space);
        }
        return params.modalities;
    }
    std::vector<Modality> held;
    for (const auto m : {Modality::Image, Modality::Spectrum})
        if (encoders.has(m, space)) held.push_back(m);
    if (held.empty())
        throw UsageError(std::string(runs::stageKindName(encoders.kind)) + " run " + encoders.runDir + " has no " +
                         runs::spaceName(space) + " encoder");
    return held;
}

// One chunk's inputs on the CPU: images [n, 3, S, S] or flux [n, L] (the snapshot's storage).
at::Tensor chunkInputs(const DatasetSnapshot& snap, Modality modality) {
    const auto n = int64_t(snap.size());
    if (modality == Modality::Image)
        return torch::from_blob(const_cast<float*>(snap.images.data()), {n, 3, snap.cropSize, snap.cropSize},
                                torch::kFloat32);
    return torch::from_blob(const_cast<float*>(snap.spectrumFlux.data()), {n, snap.spectrumLength}, torch::kFloat32);
}

at::Tensor encodeChunk(runs::TrainedEncoders& encoders, Modality modality, runs::EmbeddingSpace space,
                       const at::Tensor& inputs, const EncodeOptions& options) {
    const bool aligned = space == runs::EmbeddingSpace::Aligned;
    if (modality == Modality::Image)
        return encodeImages(**encoders.vit, inputs, encoders.imageNormalization, options,
                            aligned ? encoders.imageHead->get() : nullptr);
    return encodeSpectra(**encoders.specformer, inputs, options, aligned ? encoders.spectrumHead->get() : nullptr);
}

} // namespace

std::string embeddingSource(const runs::TrainedEncoders& encoders) {
    return absolute(encoders.checkpoint) + " step " + std::to_string(encoders.step);
}

ModelRecord catalogModelFor(Catalog& catalog, const runs::TrainedEncoders& encoders) {
    const std::string runDir = absolute(encoders.runDir);
    const auto inThisRun = [&](const ModelRecord& m) {
        return !m.path.empty() && absolute(fs::path(m.path).parent_path().string()) == runDir;
    };
    const std::string baseName = encoders.modelName.empty() ? fs::path(runDir).filename().string() : encoders.modelName;
    for (const std::string& name : {baseName, baseName + "@" + runDir}) {
        const auto existing = catalog.model(name);
        if (existing && inThisRun(*existing)) return *existing;
        if (existing) continue;  // that name belongs to another run: try the qualified one
        ModelRecord m;
        m.name = name;
        m.stage = runs::stageKindName(encoders.kind);
        m.path = absolute(encoders.checkpoint) + ".safetensors";
        m.config = encoders.configJson.empty() ? "{}" : encoders.configJson;
        m.step = encoders.step;
        m.id = catalog.registerModel(m);
        logInfo(catalog.path() + ": registered model '" + name + "' (" + m.stage + " run " + runDir + ")");
        return m;
    }
    throw UsageError(catalog.path() + ": the model names '" + baseName + "' and '" + baseName + "@" + runDir +
                     "' both belong to other runs; rename one of those models");
}

EmbedJobResult embedCatalog(Catalog& catalog, runs::TrainedEncoders& encoders, const EmbedJobParams& params) {
    if (params.batchSize < 1) throw UsageError("--batch must be at least 1 (got " + std::to_string(params.batchSize) + ")");
    if (params.chunkSize < 1) throw UsageError("the chunk size must be at least 1 (got " + std::to_string(params.chunkSize) + ")");
    const auto space = params.space.value_or(encoders.defaultSpace());
    const auto modalities = modalitiesToEmbed(encoders, params, space);
    const std::vector<int64_t> selected = catalog.select(params.where);
    if (selected.empty())
        throw UsageError(catalog.path() + ": no object matches " +
                         (params.where.empty() ? std::string("(the catalog is empty)") : "--where '" + params.where + "'"));

    EmbedJobResult result;
    const ModelRecord model = catalogModelFor(catalog, encoders);
    result.modelId = model.id;
    result.modelName = model.name;
    result.device = encoders.device.str();
    const std::string source = embeddingSource(encoders);

    for (const auto modality : modalities) {
        const auto started = std::chrono::steady_clock::now();
        EmbedModalityResult r;
        r.modality = modality;
        r.space = space;
        r.dim = encoders.dim(modality, space);
        r.selected = int64_t(selected.size());
        const EmbeddingKey key{model.id, modalityName(modality), runs::spaceName(space)};
        if (const auto set = catalog.embeddingSet(key); set && (set->source != source || set->dim != r.dim)) {
            logInfo(catalog.path() + ": replacing " + std::to_string(set->count) + " " + key.modality + " " + key.space +
                    " vectors of model '" + model.name + "' made by " + (set->source.empty() ? "an older build" : set->source) +
                    " with vectors of " + source);
            catalog.deleteEmbeddings(key);
            r.replacedStale = true;
        }
        std::vector<int64_t> pending;  // selected objects without a stored vector (all of them with recompute)
        if (params.recompute) {
            pending = selected;
        } else {
            const auto done = catalog.embeddedObjects(key);
            const std::unordered_set<int64_t> have(done.begin(), done.end());
            for (const int64_t id : selected)
                if (have.count(id)) ++r.alreadyEmbedded;
                else pending.push_back(id);
        }

        const std::string stage = std::string("embed ") + modalityName(modality);
        const int64_t total = int64_t(pending.size());
        report(params.progress, {stage, 0, total, encoders.describe(modality, space)});
        EncodeOptions options;
        options.batchSize = params.batchSize;
        options.device = encoders.device;
        for (int64_t begin = 0; begin < total; begin += params.chunkSize) {
            const int64_t end = std::min(total, begin + params.chunkSize);
            auto snapParams = encoders.snapshotParams(modality);
            snapParams.ids = std::vector<int64_t>(pending.begin() + begin, pending.begin() + end);
            snapParams.allowEmpty = true;
            const auto snap = buildSnapshot(catalog, snapParams);
            r.withoutData += snap.counts.skippedNoImage + snap.counts.skippedNoSpectrum;
            r.failures.insert(r.failures.end(), snap.failures.begin(), snap.failures.end());
            if (snap.size() > 0) {
                const auto vectors = encodeChunk(encoders, modality, space, chunkInputs(snap, modality), options)
                                         .contiguous();
                assert(vectors.size(0) == int64_t(snap.size()) && vectors.size(1) == r.dim);
                catalog.storeEmbeddings(key, snap.ids, vectors.data_ptr<float>(), int(r.dim), source);
                r.embedded += int64_t(snap.size());
            }
            report(params.progress, {stage, end, total, std::to_string(r.embedded) + " embedded"});
        }
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        result.modalities.push_back(std::move(r));
    }
    return result;
}

} // namespace astroclip::embed
