#include "core/discovery/logistic.h"

#include "core/common/error.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <cassert>
#include <cmath>
#include <string>

namespace astroclip::discovery {

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Matrix = Eigen::MatrixXd;
using Vector = Eigen::VectorXd;

double sigmoid(double z) {
    if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
    const double e = std::exp(z);
    return e / (1.0 + e);
}

// log(1 + exp(a)) without overflow.
double softplus(double a) { return a > 0 ? a + std::log1p(std::exp(-a)) : std::log1p(std::exp(a)); }

// The problem's fixed parts: the rows, ±1 labels and C·sᵢ (C times the balanced class weight).
struct Problem {
    Eigen::Map<const RowMatrix> x;
    Vector y;       // +1 / −1
    Vector weight;  // C · sᵢ

    // ½‖w‖² + Σ C sᵢ log(1 + exp(−yᵢ mᵢ)), with margins m = X w + b.
    double objective(const Vector& w, const Vector& margin) const {
        double loss = 0;
        for (Eigen::Index i = 0; i < margin.size(); ++i) loss += weight[i] * softplus(-y[i] * margin[i]);
        return 0.5 * w.squaredNorm() + loss;
    }
};

// Solves the Newton system [[I + Xᵀ H X, Xᵀh], [hᵀX, Σh]] [δw; δb] = [g_w; g_b], H = diag(h),
// in whichever space is smaller. `gram` is X Xᵀ (used, and computed once, when n < d).
class NewtonSolver {
public:
    explicit NewtonSolver(const Eigen::Map<const RowMatrix>& x) : x_(x), dual_(x.rows() < x.cols()) {
        if (dual_) gram_.noalias() = x_ * x_.transpose();
    }

    void solve(const Vector& h, const Vector& gw, double gb, Vector& dw, double& db) const {
        const double c = h.sum();
        const Vector u = x_.transpose() * h;
        if (!dual_) {
            const Eigen::Index d = x_.cols();
            Matrix hess = Matrix::Zero(d + 1, d + 1);
            const RowMatrix scaled = h.cwiseSqrt().asDiagonal() * x_;
            hess.topLeftCorner(d, d).selfadjointView<Eigen::Lower>().rankUpdate(scaled.transpose());
            hess.topLeftCorner(d, d).diagonal().array() += 1.0;
            hess.block(d, 0, 1, d) = u.transpose();
            hess(d, d) = c;
            Vector g(d + 1);
            g << gw, gb;
            const Vector step = hess.selfadjointView<Eigen::Lower>().llt().solve(g);
            dw = step.head(d);
            db = step[d];
            return;
        }
        // A = I + Xᵀ H X; A⁻¹ v = v − Xᵀ S (I + S X Xᵀ S)⁻¹ S X v with S = H^½ (Woodbury), then the
        // intercept from the Schur complement c − uᵀ A⁻¹ u (> 0 while any hᵢ > 0).
        const Vector s = h.cwiseSqrt();
        Matrix m = s.asDiagonal() * gram_ * s.asDiagonal();
        m.diagonal().array() += 1.0;
        const Eigen::LLT<Matrix> llt(m);
        const auto applyInverse = [&](const Vector& v) -> Vector {
            const Vector inner = s.cwiseProduct(llt.solve(s.cwiseProduct(x_ * v)));
            return v - x_.transpose() * inner;
        };
        const Vector aiu = applyInverse(u), aig = applyInverse(gw);
        const double schur = std::max(c - u.dot(aiu), 1e-300);
        db = (gb - u.dot(aig)) / schur;
        dw = aig - aiu * db;
    }

private:
    const Eigen::Map<const RowMatrix>& x_;
    bool dual_;
    Matrix gram_;
};

} // namespace

double LogisticFit::decision(const double* x) const {
    double z = intercept;
    for (size_t j = 0; j < coef.size(); ++j) z += coef[j] * x[j];
    return z;
}

double LogisticFit::probability(const double* x) const { return sigmoid(decision(x)); }

LogisticFit fitLogistic(const double* x, int64_t n, int64_t d, const std::vector<uint8_t>& positive,
                        const LogisticParams& params) {
    if (n < 1 || d < 1)
        throw UsageError("logistic regression needs at least one row and one dimension (got " + std::to_string(n) +
                         " × " + std::to_string(d) + ")");
    if (!(params.C > 0) || !std::isfinite(params.C))
        throw UsageError("logistic regression needs C > 0 (got " + std::to_string(params.C) + ")");
    if (int64_t(positive.size()) != n)
        throw UsageError("logistic regression got " + std::to_string(positive.size()) + " labels for " +
                         std::to_string(n) + " rows");
    for (int64_t i = 0; i < n * d; ++i)
        if (!std::isfinite(x[i]))
            throw UsageError("logistic regression: row " + std::to_string(i / d) + " has a value that is not finite");
    int64_t positives = 0;
    for (const uint8_t p : positive) positives += p ? 1 : 0;
    if (positives == 0 || positives == n)
        throw UsageError(std::string("a few-shot head needs at least one positive and one negative label (got ") +
                         (positives == 0 ? "no positive" : "no negative") + ")");

    Problem pb{Eigen::Map<const RowMatrix>(x, n, d), Vector(n), Vector(n)};
    // Balanced class weights (scikit-learn's "balanced": n / (classes · count of the class)).
    const double wPos = double(n) / (2.0 * double(positives)), wNeg = double(n) / (2.0 * double(n - positives));
    for (int64_t i = 0; i < n; ++i) {
        pb.y[i] = positive[size_t(i)] ? 1.0 : -1.0;
        pb.weight[i] = params.C * (positive[size_t(i)] ? wPos : wNeg);
    }
    const NewtonSolver solver(pb.x);

    Vector w = Vector::Zero(d), margin = Vector::Zero(n), h(n), residual(n), dw;
    double b = 0, db = 0;
    double f = pb.objective(w, margin);
    double gradScale = 0;
    LogisticFit fit;
    for (int iter = 0;; ++iter) {
        // Gradient: w + Xᵀ r, Σ r with rᵢ = C sᵢ (pᵢ − tᵢ); Hessian weights hᵢ = C sᵢ pᵢ (1 − pᵢ).
        for (Eigen::Index i = 0; i < n; ++i) {
            const double p = sigmoid(margin[i]);
            residual[i] = pb.weight[i] * (p - (pb.y[i] > 0 ? 1.0 : 0.0));
            h[i] = pb.weight[i] * p * (1.0 - p);
        }
        const Vector gw = w + pb.x.transpose() * residual;
        const double gb = residual.sum();
        const double gmax = std::max(gw.cwiseAbs().maxCoeff(), std::abs(gb));
        if (iter == 0) gradScale = std::max(1.0, gmax);
        fit.iterations = iter;
        if (gmax <= params.tol * gradScale) {
            fit.converged = true;
            break;
        }
        if (iter >= params.maxIter) break;

        solver.solve(h, gw, gb, dw, db);
        // Backtracking (Armijo) line search along the Newton direction; the full step is taken
        // near the minimum, where Newton converges quadratically.
        const double slope = gw.dot(dw) + gb * db;
        double t = 1.0;
        bool moved = false;
        for (int halvings = 0; halvings < 60; ++halvings, t *= 0.5) {
            const Vector wTry = w - t * dw;
            const double bTry = b - t * db;
            Vector mTry = pb.x * wTry;
            mTry.array() += bTry;
            const double fTry = pb.objective(wTry, mTry);
            if (fTry <= f - 1e-4 * t * slope) {
                w = wTry;
                b = bTry;
                margin = std::move(mTry);
                f = fTry;
                moved = true;
                break;
            }
        }
        if (!moved) {
            // Rounding stalls the descent only at the minimum's floating-point neighbourhood.
            fit.converged = gmax <= 1e-6 * gradScale;
            break;
        }
    }
    assert(std::isfinite(f));
    fit.coef.assign(w.data(), w.data() + d);
    fit.intercept = b;
    fit.objective = f;
    return fit;
}

} // namespace astroclip::discovery
