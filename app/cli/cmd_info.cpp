#include "app/cli/cli_common.h"
#include "core/catalog/catalog.h"
#include "core/common/error.h"
#include "core/ingest/reader.h"
#include "plugins/readers/builtin.h"

#include <cstdio>
#include <filesystem>

namespace astroclip::cli {

namespace {
nlohmann::json infoJson(const CatalogInfo& i) {
    nlohmann::json cols = nlohmann::json::array();
    for (const auto& c : i.columns) {
        nlohmann::json j{{"name", c.name}, {"kind", c.kind}, {"type", c.type}, {"count", c.count}};
        if (c.min) j["min"] = *c.min;
        if (c.max) j["max"] = *c.max;
        if (c.example) j["example"] = *c.example;
        cols.push_back(j);
    }
    nlohmann::json models = nlohmann::json::array();
    for (const auto& m : i.models) models.push_back({{"id", m.id}, {"name", m.name}, {"stage", m.stage}, {"path", m.path}, {"step", m.step}});
    nlohmann::json emb = nlohmann::json::array();
    for (const auto& e : i.embeddings)
        emb.push_back({{"model", e.model}, {"modality", e.modality}, {"space", e.space}, {"count", e.count}, {"dim", e.dim}});
    nlohmann::json maps = nlohmann::json::array();
    for (const auto& m : i.maps)
        maps.push_back({{"model", m.model}, {"modality", m.modality}, {"space", m.space}, {"method", m.method},
                        {"dims", m.dims}, {"count", m.count}, {"stale", m.stale}});
    return {{"catalog", i.path},
            {"schema_version", i.schemaVersion},
            {"objects", i.objects},
            {"by_modality", {{"image", i.objectsWithImage}, {"band_images_only", i.objectsWithBandImages},
                             {"spectrum", i.objectsWithSpectrum}, {"image_and_spectrum", i.objectsWithBoth}}},
            {"images", i.images},
            {"spectra", i.spectra},
            {"files", {{"ingested", i.ingestedFiles}, {"failed", i.failedFiles}}},
            {"columns", cols},
            {"models", models},
            {"embeddings", emb},
            {"maps", maps}};
}

void printInfo(const CatalogInfo& i) {
    std::printf("catalog     %s (schema v%d)\n", i.path.c_str(), i.schemaVersion);
    std::printf("objects     %lld\n", (long long)i.objects);
    std::printf("  with g,r,z image       %lld\n", (long long)i.objectsWithImage);
    std::printf("  with band images only  %lld\n", (long long)i.objectsWithBandImages);
    std::printf("  with spectrum          %lld\n", (long long)i.objectsWithSpectrum);
    std::printf("  with image + spectrum  %lld\n", (long long)i.objectsWithBoth);
    std::printf("files       %lld ingested, %lld failed\n", (long long)i.ingestedFiles, (long long)i.failedFiles);
    std::printf("columns     %zu\n", i.columns.size());
    for (const auto& c : i.columns) {
        std::printf("  %-28s %-7s %-7s %8lld", c.name.c_str(), c.kind.c_str(), c.type.c_str(), (long long)c.count);
        if (c.min && c.max) std::printf("  [%g, %g]", *c.min, *c.max);
        else if (c.example) std::printf("  e.g. '%s'", c.example->c_str());
        std::printf("\n");
    }
    std::printf("models      %zu\n", i.models.size());
    for (const auto& m : i.models) std::printf("  %s (%s, step %lld) %s\n", m.name.c_str(), m.stage.c_str(), (long long)m.step, m.path.c_str());
    std::printf("embeddings  %zu sets\n", i.embeddings.size());
    for (const auto& e : i.embeddings)
        std::printf("  %s %s/%s: %lld × %d\n", e.model.c_str(), e.modality.c_str(), e.space.c_str(), (long long)e.count, e.dim);
    if (!i.maps.empty()) std::printf("maps        %zu\n", i.maps.size());
    for (const auto& m : i.maps)
        std::printf("  %s %s/%s: %d-D %s of %lld points%s\n", m.model.c_str(), m.modality.c_str(), m.space.c_str(), m.dims,
                    m.method.c_str(), (long long)m.count, m.stale ? " (stale: the vectors changed since)" : "");
}
} // namespace

Runner addInfoCommand(CLI::App& app) {
    auto* cmd = app.add_subcommand("info", "Summarise a catalog: counts by modality, columns and ranges, models, embeddings, training runs");
    struct Opts { std::string catalog; bool json = false; };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--catalog", o->catalog, "Catalog file")->required();
    cmd->add_flag("--json", o->json, "Print as JSON");
    return [o]() {
        if (!std::filesystem::exists(o->catalog)) throw UsageError(o->catalog + ": no such catalog");
        auto catalog = Catalog::open(o->catalog, /*create=*/false);
        const auto info = catalog.info();
        if (o->json) {
            auto j = infoJson(info);
            if (info.schemaVersion >= 2) j["runs"] = trainingRunsJson(catalog, std::nullopt);
            printJson(j);
        } else {
            printInfo(info);
            if (info.schemaVersion >= 2) printTrainingRuns(catalog, std::nullopt);
        }
        return 0;
    };
}

Runner addReadersCommand(CLI::App& app) {
    auto* cmd = app.add_subcommand("readers", "List the file readers (built-in and plugins)");
    struct Opts { bool json = false; };
    auto o = std::make_shared<Opts>();
    cmd->add_flag("--json", o->json, "Print as JSON");
    return [o]() {
        auto readers = defaultReaderRegistry();
        nlohmann::json arr = nlohmann::json::array();
        for (const auto* r : readers.readers()) {
            if (o->json) arr.push_back({{"name", r->name()}, {"description", r->description()}});
            else std::printf("%-16s %s\n", r->name().c_str(), r->description().c_str());
        }
        if (o->json) printJson(arr);
        return 0;
    };
}

} // namespace astroclip::cli
