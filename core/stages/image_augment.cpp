#include "core/stages/image_augment.h"

#include "core/common/error.h"

#include <torch/torch.h>

#include <cassert>
#include <cmath>
#include <numbers>
#include <sstream>

namespace astroclip::stages {

nlohmann::json ImageNormalization::toJson() const {
    return {{"kind", "asinh"}, {"band_scale", bandScale}, {"softening", softening}};
}

ImageNormalization ImageNormalization::fromJson(const nlohmann::json& json) {
    ImageNormalization norm;
    norm.bandScale = json.value("band_scale", norm.bandScale);
    norm.softening = json.value("softening", norm.softening);
    if (!(norm.softening > 0)) throw UsageError("image normalisation softening Q must be > 0");
    return norm;
}

at::Tensor normalizeNanomaggies(const at::Tensor& images, const ImageNormalization& norm) {
    if (images.dim() < 3 || images.size(-3) != 3)
        throw UsageError("image normalisation takes [..., 3, H, W] g,r,z images");
    std::vector<int64_t> shape(size_t(images.dim()), 1);
    shape[shape.size() - 3] = 3;
    const auto scale = torch::tensor(std::vector<float>(norm.bandScale.begin(), norm.bandScale.end()),
                                     images.options().dtype(torch::kFloat32))
                           .to(images.scalar_type())
                           .reshape(shape);
    const double q = norm.softening;
    return torch::asinh(images * scale * q) / std::sqrt(q);
}

namespace {

void requireProbability(double p, const char* name) {
    if (!(p >= 0.0 && p <= 1.0))
        throw UsageError(std::string("augmentation ") + name + " must be in [0, 1], got " + std::to_string(p));
}

void requireRange(double lo, double hi, double floor, const char* name) {
    if (!(lo >= floor && hi >= lo))
        throw UsageError(std::string("augmentation ") + name + " range must satisfy " + std::to_string(floor) +
                         " <= min <= max, got [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

} // namespace

void AugmentParams::validate() const {
    requireProbability(rotateProbability, "rotate_probability");
    requireProbability(flipProbability, "flip_probability");
    requireProbability(blurProbability, "blur_probability");
    requireProbability(noiseProbability, "noise_probability");
    requireProbability(gainProbability, "gain_probability");
    requireRange(blurSigmaMin, blurSigmaMax, 0.0, "blur sigma");
    requireRange(noiseSigmaMin, noiseSigmaMax, 0.0, "noise sigma");
    requireRange(gainMin, gainMax, 1e-6, "gain");
    if (!(bandJitter >= 0.0 && bandJitter < 0.5))
        throw UsageError("augmentation band_jitter must be in [0, 0.5), got " + std::to_string(bandJitter));
}

nlohmann::json AugmentParams::toJson() const {
    return {{"rotate_probability", rotateProbability}, {"flip_probability", flipProbability},
            {"blur_probability", blurProbability},     {"blur_sigma", {blurSigmaMin, blurSigmaMax}},
            {"noise_probability", noiseProbability},   {"noise_sigma", {noiseSigmaMin, noiseSigmaMax}},
            {"gain_probability", gainProbability},     {"gain", {gainMin, gainMax}},
            {"band_jitter", bandJitter}};
}

AugmentParams AugmentParams::fromJson(const nlohmann::json& json) {
    AugmentParams p;
    p.rotateProbability = json.value("rotate_probability", p.rotateProbability);
    p.flipProbability = json.value("flip_probability", p.flipProbability);
    p.blurProbability = json.value("blur_probability", p.blurProbability);
    p.noiseProbability = json.value("noise_probability", p.noiseProbability);
    p.gainProbability = json.value("gain_probability", p.gainProbability);
    p.bandJitter = json.value("band_jitter", p.bandJitter);
    auto range = [&](const char* key, double& lo, double& hi) {
        if (!json.contains(key)) return;
        const auto& r = json.at(key);
        if (!r.is_array() || r.size() != 2) throw UsageError(std::string("augmentation ") + key + " must be [min, max]");
        lo = r[0].get<double>();
        hi = r[1].get<double>();
    };
    range("blur_sigma", p.blurSigmaMin, p.blurSigmaMax);
    range("noise_sigma", p.noiseSigmaMin, p.noiseSigmaMax);
    range("gain", p.gainMin, p.gainMax);
    p.validate();
    return p;
}

ImageAugmenter::ImageAugmenter(AugmentParams params, uint64_t seed) : params_(params), rng_(seed) {
    params_.validate();
}

double ImageAugmenter::uniform() {
    return double(rng_() >> 11) * 0x1.0p-53;
}

double ImageAugmenter::normal() {
    // Box–Muller, one value per call (no cached second value, so the state is only the engine).
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

uint64_t ImageAugmenter::below(uint64_t n) {
    assert(n > 0);
    // Lemire-free rejection: unbiased and portable.
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = rng_();
    while (x >= limit);
    return x % n;
}

std::string ImageAugmenter::state() const {
    std::ostringstream out;
    out << rng_;
    return out.str();
}

void ImageAugmenter::loadState(const std::string& state) {
    std::istringstream in(state);
    std::mt19937_64 restored;
    in >> restored;
    if (in.fail()) throw UsageError("augmentation RNG state in the checkpoint is malformed");
    rng_ = restored;
}

at::Tensor ImageAugmenter::randomCrop(const at::Tensor& image, int64_t size) {
    if (image.dim() != 3 || size < 1 || size > image.size(1) || size > image.size(2))
        throw UsageError("random crop of " + std::to_string(size) + " px does not fit the image");
    const int64_t y = int64_t(below(uint64_t(image.size(1) - size + 1)));
    const int64_t x = int64_t(below(uint64_t(image.size(2) - size + 1)));
    return image.slice(1, y, y + size).slice(2, x, x + size);
}

at::Tensor gaussianBlur(const at::Tensor& image, double sigma) {
    assert(image.dim() == 3);
    if (!(sigma > 0)) return image.clone();
    const int64_t radius = std::max<int64_t>(1, int64_t(std::ceil(3.0 * sigma)));
    std::vector<float> weights(size_t(2 * radius + 1));
    double total = 0;
    for (int64_t i = -radius; i <= radius; ++i) {
        const double w = std::exp(-0.5 * double(i * i) / (sigma * sigma));
        weights[size_t(i + radius)] = float(w);
        total += w;
    }
    for (auto& w : weights) w = float(w / total);
    const int64_t channels = image.size(0);
    auto kernel = torch::tensor(weights, image.options().dtype(torch::kFloat32));
    namespace F = torch::nn::functional;
    // Separable: rows then columns, each a depthwise conv over reflected borders. Reflection
    // needs radius < side; wider kernels fall back to replicated borders.
    const bool canReflect = radius < image.size(1) && radius < image.size(2);
    auto padded = [&](const torch::Tensor& t, std::vector<int64_t> pad) {
        auto options = F::PadFuncOptions(std::move(pad));
        if (canReflect) options.mode(torch::kReflect);
        else options.mode(torch::kReplicate);
        return F::pad(t, options);
    };
    auto x = image.to(torch::kFloat32).unsqueeze(0);
    x = padded(x, {radius, radius, 0, 0});
    x = F::conv2d(x, kernel.view({1, 1, 1, -1}).expand({channels, 1, 1, 2 * radius + 1}).contiguous(),
                  F::Conv2dFuncOptions().groups(channels));
    x = padded(x, {0, 0, radius, radius});
    x = F::conv2d(x, kernel.view({1, 1, -1, 1}).expand({channels, 1, 2 * radius + 1, 1}).contiguous(),
                  F::Conv2dFuncOptions().groups(channels));
    return x.squeeze(0).to(image.scalar_type());
}

at::Tensor ImageAugmenter::augment(const at::Tensor& image, AppliedAugment* applied) {
    if (image.dim() != 3 || image.size(0) != 3 || image.device().type() != c10::kCPU)
        throw UsageError("augmentation takes a CPU image [3, H, W]");
    AppliedAugment did;
    // Every draw is made whether or not the augmentation fires, so one sample's choices do not
    // shift the random stream of the next (a fixed number of draws per sample, noise aside).
    auto fires = [&](double p) { return uniform() < p; };

    auto out = image.to(torch::kFloat32).clone();
    const bool rotate = fires(params_.rotateProbability);
    const int quarterTurns = 1 + int(below(3));
    if (rotate) {
        did.rotations = quarterTurns;
        out = torch::rot90(out, quarterTurns, {1, 2});
    }
    if (fires(params_.flipProbability)) {
        did.flipped = true;
        out = torch::flip(out, {2});
    }
    const bool blur = fires(params_.blurProbability);
    const double sigma = params_.blurSigmaMin + (params_.blurSigmaMax - params_.blurSigmaMin) * uniform();
    if (blur && sigma > 0) {
        did.blurred = true;
        did.blurSigma = sigma;
        out = gaussianBlur(out, sigma);
    }
    const bool noise = fires(params_.noiseProbability);
    const double noiseSigma = params_.noiseSigmaMin + (params_.noiseSigmaMax - params_.noiseSigmaMin) * uniform();
    if (noise) {
        did.noised = true;
        did.noiseSigma = noiseSigma;
        out = out.contiguous();
        float* data = out.data_ptr<float>();
        const int64_t count = out.numel();
        for (int64_t i = 0; i < count; ++i) data[i] += float(noiseSigma * normal());
    }
    const bool gain = fires(params_.gainProbability);
    const double logLo = std::log(params_.gainMin), logHi = std::log(params_.gainMax);
    const double factor = std::exp(logLo + (logHi - logLo) * uniform());
    std::array<double, 3> bandGain{};
    for (auto& g : bandGain) g = factor * (1.0 + params_.bandJitter * (2.0 * uniform() - 1.0));
    if (gain) {
        did.gained = true;
        did.bandGain = bandGain;
        out = out * torch::tensor({float(bandGain[0]), float(bandGain[1]), float(bandGain[2])}).view({3, 1, 1});
    }
    if (applied) *applied = did;
    return out;
}

} // namespace astroclip::stages
