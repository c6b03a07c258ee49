#include "core/train/train_params.h"

#include "core/common/error.h"

#include <cmath>
#include <numbers>

namespace astroclip::train {

namespace {

void require(bool ok, const std::string& message) {
    if (!ok) throw UsageError("training parameters: " + message);
}

} // namespace

void validate(const TrainParams& p) {
    require(p.steps > 0, "steps must be positive (got " + std::to_string(p.steps) + ")");
    require(p.warmupSteps >= 0 && p.warmupSteps < p.steps,
            "warm-up steps must be in [0, steps) (got " + std::to_string(p.warmupSteps) + " of " +
                std::to_string(p.steps) + ")");
    require(std::isfinite(p.lr) && p.lr > 0, "the peak learning rate must be positive");
    require(std::isfinite(p.minLr) && p.minLr >= 0 && p.minLr <= p.lr,
            "the final learning rate must be in [0, peak learning rate]");
    require(std::isfinite(p.weightDecay) && p.weightDecay >= 0, "weight decay must be >= 0");
    require(p.beta1 >= 0 && p.beta1 < 1 && p.beta2 >= 0 && p.beta2 < 1, "AdamW betas must be in [0, 1)");
    require(p.eps > 0, "AdamW eps must be positive");
    require(std::isfinite(p.gradClip) && p.gradClip >= 0, "gradient clipping must be >= 0 (0 = off)");
    require(p.accumulate >= 1, "accumulation must be at least 1 micro-batch per step");
    require(p.threads >= 0, "threads must be >= 0 (0 = all cores)");
    require(p.checkpointEvery >= 0, "checkpoint interval must be >= 0 (0 = only at the end)");
    for (const auto& guard : p.healthGuards) {
        require(!guard.metric.empty(), "a health guard needs a metric name");
        require(guard.floor || guard.ceiling, "health guard on '" + guard.metric + "' has neither floor nor ceiling");
        require(guard.patience >= 1, "health guard on '" + guard.metric + "' needs patience >= 1");
    }
}

double scheduledLr(const TrainParams& p, int64_t step) {
    if (step < p.warmupSteps) return p.lr * static_cast<double>(step + 1) / static_cast<double>(p.warmupSteps);
    const double progress =
        static_cast<double>(step - p.warmupSteps) / static_cast<double>(p.steps - p.warmupSteps);
    return p.minLr + 0.5 * (p.lr - p.minLr) * (1.0 + std::cos(std::numbers::pi * progress));
}

nlohmann::json toJson(const HealthGuard& g) {
    nlohmann::json j = {{"metric", g.metric}, {"patience", g.patience}, {"stop_run", g.stopRun}};
    if (g.floor) j["floor"] = *g.floor;
    if (g.ceiling) j["ceiling"] = *g.ceiling;
    return j;
}

nlohmann::json toJson(const TrainParams& p) {
    nlohmann::json guards = nlohmann::json::array();
    for (const auto& g : p.healthGuards) guards.push_back(toJson(g));
    return {{"steps", p.steps},
            {"warmup_steps", p.warmupSteps},
            {"lr", p.lr},
            {"min_lr", p.minLr},
            {"weight_decay", p.weightDecay},
            {"betas", {p.beta1, p.beta2}},
            {"eps", p.eps},
            {"grad_clip", p.gradClip},
            {"accumulate", p.accumulate},
            {"device", p.device},
            {"threads", p.threads},
            {"seed", p.seed},
            {"mixed_precision", p.mixedPrecision},
            {"checkpoint_every", p.checkpointEvery},
            {"out_dir", p.outDir},
            {"resume_from", p.resumeFrom},
            {"health_guards", guards}};
}

} // namespace astroclip::train
