"""scikit-learn's answer for tst_probe_methods: RidgeCV and RidgeClassifierCV (generalised
cross-validation, fit_intercept) and KNeighborsClassifier on the vectors the C++ test wrote.

usage: probe_peer.py IN.json OUT.json
IN:  {"x": [[...]], "y": [...], "labels": [...], "queries": [[...]], "alphas": [...],
      "knn": [{"name", "k", "weights"}]}
OUT: {"ridge": {"alpha", "predictions"}, "ridge_classifier": {"alpha", "predictions"},
      name: {"predictions"} for each knn case}
"""
import json
import sys

import numpy as np
from sklearn.linear_model import RidgeClassifierCV, RidgeCV
from sklearn.neighbors import KNeighborsClassifier


def main(src, dst):
    with open(src) as f:
        data = json.load(f)
    x = np.asarray(data["x"], dtype=np.float64)
    y = np.asarray(data["y"], dtype=np.float64)
    labels = np.asarray(data["labels"], dtype=np.int64)
    queries = np.asarray(data["queries"], dtype=np.float64)
    alphas = np.asarray(data["alphas"], dtype=np.float64)
    out = {}
    ridge = RidgeCV(alphas=alphas).fit(x, y)
    out["ridge"] = {"alpha": float(ridge.alpha_), "predictions": ridge.predict(queries).tolist()}
    classifier = RidgeClassifierCV(alphas=alphas).fit(x, labels)
    out["ridge_classifier"] = {"alpha": float(classifier.alpha_),
                               "predictions": classifier.predict(queries).astype(int).tolist()}
    for case in data["knn"]:
        model = KNeighborsClassifier(n_neighbors=case["k"], weights=case["weights"]).fit(x, labels)
        out[case["name"]] = {"predictions": model.predict(queries).astype(int).tolist()}
    with open(dst, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
