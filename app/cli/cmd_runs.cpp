// astroclip runs: the training runs a catalog records, with their final metrics; the same
// listing closes `astroclip info`.
#include "app/cli/cli_common.h"
#include "core/catalog/catalog.h"
#include "core/common/error.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>

namespace astroclip::cli {

namespace {

std::string utcTime(int64_t seconds) {
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

int64_t lastStep(const std::map<std::string, MetricSample>& metrics) {
    int64_t step = 0;
    for (const auto& [name, sample] : metrics) step = std::max(step, sample.step);
    return step;
}

} // namespace

nlohmann::json trainingRunsJson(Catalog& catalog, std::optional<int64_t> modelId) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : catalog.trainingRuns(modelId)) {
        const auto metrics = catalog.finalMetrics(r.id);
        nlohmann::json final = nlohmann::json::object();
        for (const auto& [name, sample] : metrics)
            final[name] = std::isfinite(sample.value) ? nlohmann::json(sample.value) : nullptr;
        nlohmann::json params = nullptr;
        try {
            params = nlohmann::json::parse(r.params);
        } catch (const nlohmann::json::exception&) {
            params = r.params;  // stored as text by another program: shown as it is
        }
        out.push_back({{"id", r.id},
                       {"model", r.model},
                       {"model_id", r.modelId},
                       {"status", r.status},
                       {"started", utcTime(r.started)},
                       {"finished", r.finished ? nlohmann::json(utcTime(*r.finished)) : nlohmann::json(nullptr)},
                       {"step", lastStep(metrics)},
                       {"final_metrics", final},
                       {"message", r.message},
                       {"params", params}});
    }
    return out;
}

void printTrainingRuns(Catalog& catalog, std::optional<int64_t> modelId) {
    const auto runs = catalog.trainingRuns(modelId);
    std::printf("runs        %zu\n", runs.size());
    for (const auto& r : runs) {
        const auto metrics = catalog.finalMetrics(r.id);
        std::printf("  #%-4lld %-20s %-9s step %-7lld", (long long)r.id, r.model.c_str(), r.status.c_str(),
                    (long long)lastStep(metrics));
        if (const auto it = metrics.find("loss"); it != metrics.end()) std::printf(" loss %-10.5g", it->second.value);
        std::printf(" %s", utcTime(r.started).c_str());
        if (!r.message.empty()) std::printf("  %s", r.message.c_str());
        std::printf("\n");
    }
}

Runner addRunsCommand(CLI::App& app) {
    auto* cmd = app.add_subcommand("runs", "List the training runs a catalog records, with their final metrics");
    struct Opts {
        std::string catalog, model;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--catalog", o->catalog, "Catalog file")->required();
    cmd->add_option("--model", o->model, "Only the runs of this model");
    cmd->add_flag("--json", o->json, "Print as JSON");
    return [o]() {
        if (!std::filesystem::exists(o->catalog)) throw FileError(o->catalog, "no such catalog");
        auto catalog = Catalog::open(o->catalog, /*create=*/false);
        std::optional<int64_t> modelId;
        if (!o->model.empty()) {
            const auto model = catalog.model(o->model);
            if (!model) throw UsageError(o->catalog + ": no model called '" + o->model + "'");
            modelId = model->id;
        }
        if (o->json) printJson(trainingRunsJson(catalog, modelId));
        else printTrainingRuns(catalog, modelId);
        return 0;
    };
}

} // namespace astroclip::cli
