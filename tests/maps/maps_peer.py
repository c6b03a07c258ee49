"""The independent answers for the maps tests (run by /usr/bin/python3): umap-learn 0.5.3,
scikit-learn and numpy on the vectors the C++ tests wrote. Matrices travel as raw
little-endian float32 files (row-major, shape given on the command line); answers as JSON.

usage:
  maps_peer.py ab SPREAD:MINDIST ...                      -> [{"spread", "min_dist", "a", "b"}]
  maps_peer.py digits OUT.f32                              -> {"n", "d"}  (sklearn's load_digits)
  maps_peer.py umap X.f32 N D OURS.f32 DIMS SEED EPOCHS    -> {"peer_trust", "ours_trust"}
  maps_peer.py trust X.f32 N D E.f32 DIMS K                -> {"trust"}
  maps_peer.py pca X.f32 N D K                             -> {"variance", "ratio", "axes", "scores"}
A missing module prints "missing module: NAME" and exits 3, so a test can skip.
"""
import json
import sys


def load(path, n, d, dtype="float64"):
    import numpy as np
    return np.fromfile(path, dtype="<f4").reshape(int(n), int(d)).astype(dtype)


def cmd_ab(args):
    from umap.umap_ import find_ab_params
    out = []
    for pair in args:
        spread, min_dist = (float(v) for v in pair.split(":"))
        a, b = find_ab_params(spread, min_dist)
        out.append({"spread": spread, "min_dist": min_dist, "a": float(a), "b": float(b)})
    return out


def cmd_digits(args):
    import numpy as np
    from sklearn.datasets import load_digits
    x = load_digits().data.astype("<f4")
    x.tofile(args[0])
    return {"n": int(x.shape[0]), "d": int(x.shape[1])}


def cmd_umap(args):
    import umap
    from sklearn.manifold import trustworthiness
    path, n, d, ours_path, dims, seed, epochs = args
    x = load(path, n, d, "float32")
    ours = load(ours_path, n, dims)
    model = umap.UMAP(n_neighbors=15, n_components=int(dims), min_dist=0.1, random_state=int(seed),
                      n_epochs=int(epochs) if int(epochs) > 0 else None)
    peer = model.fit_transform(x)
    x64 = x.astype("float64")
    return {"peer_trust": float(trustworthiness(x64, peer.astype("float64"), n_neighbors=15)),
            "ours_trust": float(trustworthiness(x64, ours, n_neighbors=15))}


def cmd_trust(args):
    from sklearn.manifold import trustworthiness
    path, n, d, e_path, dims, k = args
    return {"trust": float(trustworthiness(load(path, n, d), load(e_path, n, dims), n_neighbors=int(k)))}


def cmd_pca(args):
    import numpy as np
    path, n, d, k = args
    x = load(path, n, d)
    k = int(k)
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    variance = s ** 2 / (x.shape[0] - 1)
    total = centred.var(axis=0, ddof=1).sum()
    return {"variance": variance[:k].tolist(), "ratio": (variance[:k] / total).tolist(),
            "axes": vt[:k].tolist(), "scores": (centred @ vt[:k].T).tolist()}


def main():
    command, args = sys.argv[1], sys.argv[2:]
    try:
        result = {"ab": cmd_ab, "digits": cmd_digits, "umap": cmd_umap, "trust": cmd_trust, "pca": cmd_pca}[command](args)
    except ModuleNotFoundError as e:
        print(f"missing module: {e.name}")
        sys.exit(3)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
