#pragma once
// Augmentations for g,r,z sky cutouts in nanomaggies, and the input normalisation every image
// encoder path uses (training, embedding, probes).
//
// Sky images have no preferred orientation and no "colour balance" to perturb: rotations by
// 90°, flips and integer shifts (random crops) are exact symmetries; PSF width, noise level
// and photometric zero point vary from field to field. So the photometric augmentations are
// a Gaussian blur (wider PSF), additive Gaussian noise (shallower exposure) and an achromatic
// gain — one factor for all bands — with a per-band jitter of a few percent (calibration
// scatter). Natural-image colour jitter would change galaxy colours, which carry redshift and
// stellar-population information, so it is deliberately absent.
//
// Each augmentation is applied with its stated probability p (p = 0 never, p = 1 always; the
// reference code passes 1 − p for blur and noise, which is not copied here).
//
// Random numbers come from one std::mt19937_64 with hand-written uniform and normal draws
// (the standard leaves std::*_distribution algorithms to the implementation), so a state
// saved in a checkpoint reproduces the same augmentations on any platform.
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <string>

namespace astroclip::stages {

// Display-independent input normalisation for nanomaggy g,r,z images:
//   x_b = arcsinh(Q · s_b · I_b) / √Q
// with the Legacy Surveys viewer's per-band scales s = (6.0, 3.4, 2.2) and softening Q = 20
// (DESIGN.md), applied per band and NOT clipped (the viewer's clip to [0, 1] and its offset
// m exist for display only; negative sky noise and bright cores keep their information).
// The stretch is linear (slope s_b) for faint pixels and logarithmic for bright ones, so
// galaxies spanning several magnitudes land in a similar numeric range.
struct ImageNormalization {
    std::array<double, 3> bandScale{6.0, 3.4, 2.2};  // g, r, z
    double softening = 20.0;                         // Q
    nlohmann::json toJson() const;
    static ImageNormalization fromJson(const nlohmann::json& json);
};

// images [..., 3, H, W] float (any device) → same shape. The one function used at training
// and at embedding time, so both see identical inputs.
at::Tensor normalizeNanomaggies(const at::Tensor& images, const ImageNormalization& norm = {});

struct AugmentParams {
    double rotateProbability = 1.0;  // rotate by k·90°, k uniform in {1, 2, 3} (else k = 0)
    double flipProbability = 0.5;    // mirror left–right; with rotations this covers all 8 symmetries
    double blurProbability = 0.5;
    double blurSigmaMin = 0.3;       // Gaussian sigma in pixels, uniform in [min, max]
    double blurSigmaMax = 1.5;
    double noiseProbability = 0.5;
    double noiseSigmaMin = 0.0;      // additive noise std in nanomaggies, uniform in [min, max]
    double noiseSigmaMax = 0.02;
    double gainProbability = 0.8;
    double gainMin = 0.8;            // achromatic factor, log-uniform in [min, max]
    double gainMax = 1.25;
    double bandJitter = 0.03;        // per-band factor uniform in [1 − j, 1 + j]

    // UsageError naming the first field out of range.
    void validate() const;
    nlohmann::json toJson() const;
    static AugmentParams fromJson(const nlohmann::json& json);
};

// What one call to augment() did (for tests and diagnostics).
struct AppliedAugment {
    int rotations = 0;            // quarter turns, counter-clockwise in (row, column) order
    bool flipped = false;
    bool blurred = false;
    double blurSigma = 0;
    bool noised = false;
    double noiseSigma = 0;
    bool gained = false;
    std::array<double, 3> bandGain{1.0, 1.0, 1.0};  // total factor per band (gain × jitter)
};

class ImageAugmenter {
public:
    ImageAugmenter(AugmentParams params, uint64_t seed);

    // A size × size window of image [3, H, W] at a uniform random integer offset (the
    // "RandomCrop" of the AstroDINO recipe: a shift, never a resampling). size ≤ H, W.
    at::Tensor randomCrop(const at::Tensor& image, int64_t size);
    // Rotation, flip, blur, noise and gain, each with its probability, on a CPU float image
    // [3, h, w] in nanomaggies; returns a new tensor.
    at::Tensor augment(const at::Tensor& image, AppliedAugment* applied = nullptr);

    const AugmentParams& params() const { return params_; }

    // Uniform in [0, 1) and standard normal, portable (see the file comment).
    double uniform();
    double normal();
    // Uniform integer in [0, n).
    uint64_t below(uint64_t n);
    std::mt19937_64& engine() { return rng_; }

    // The engine's state as text (the standard's stream format) and its inverse; FileError-free:
    // a malformed state throws UsageError.
    std::string state() const;
    void loadState(const std::string& state);

private:
    AugmentParams params_;
    std::mt19937_64 rng_;
};

// Gaussian blur of [C, H, W] with a normalised kernel (radius ⌈3σ⌉, at least 1) and
// reflected borders, so flux is conserved away from the edges.
at::Tensor gaussianBlur(const at::Tensor& image, double sigma);

} // namespace astroclip::stages
