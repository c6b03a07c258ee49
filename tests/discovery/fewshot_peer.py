"""scikit-learn's answers for tests/discovery/tst_fewshot.cpp.

Usage: fewshot_peer.py IN.json  (answer as JSON on stdout; exit 3 when a module is missing)

IN.json: {"logistic": [{"name", "C", "x": rows, "y": 0/1 labels, "queries": rows}],
          "ap": [{"name", "scores", "truth"}]}
Answer:  {"logistic": {name: {"coef", "intercept", "probability", "n_iter"}}, "ap": {name: value}}
LogisticRegression is fit as the few-shot head is: L2 penalty with the same C, balanced class
weights, lbfgs, intercept fitted and not penalised, tolerance tight enough that its own
convergence error is well below the 1e-4 the test allows.
"""
import json
import sys

try:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
except ImportError as e:  # the test skips, naming the module
    print(e, file=sys.stderr)
    sys.exit(3)

spec = json.load(open(sys.argv[1]))
answer = {"logistic": {}, "ap": {}}
for case in spec.get("logistic", []):
    x = np.asarray(case["x"], dtype=np.float64)
    y = np.asarray(case["y"], dtype=np.int64)
    model = LogisticRegression(C=case["C"], class_weight="balanced", solver="lbfgs", tol=1e-12, max_iter=100000)
    model.fit(x, y)
    q = np.asarray(case["queries"], dtype=np.float64)
    answer["logistic"][case["name"]] = {
        "coef": model.coef_[0].tolist(),
        "intercept": float(model.intercept_[0]),
        "probability": model.predict_proba(q)[:, 1].tolist(),
        "n_iter": int(model.n_iter_[0]),
    }
for case in spec.get("ap", []):
    answer["ap"][case["name"]] = float(average_precision_score(np.asarray(case["truth"]), np.asarray(case["scores"])))
json.dump(answer, sys.stdout)
