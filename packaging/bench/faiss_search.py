"""The python3-faiss side of packaging/bench/search.sh, and the data both sides read.

  faiss_search.py make --n N --queries Q --dim D --seed S --out DIR
      seeded clustered vectors (1,000 Gaussian clusters, like embeddings of a survey) written
      once as raw float32: DIR/base.f32 [N, D] and DIR/queries.f32 [Q, D] (same distribution)
  faiss_search.py search --base F --queries F --n N --nq Q --dim D --k K --train T
                         --threads T --factory F [--factory F ...]
      the same protocol as astroclip-search-bench: cosine = inner product of L2-normalised
      vectors (METRIC_INNER_PRODUCT), the same search defaults as ours (HNSW efSearch 64; IVF
      nprobe nlist/16; no polysemous training), single-query latency p50/p99 after a warm-up,
      recall@k of approximate factories against the first exact one. One JSON line per factory.
"""
import argparse
import json
import time

import numpy as np


def make(args):
    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((1000, args.dim), dtype=np.float32)
    for name, rows in (("base", args.n), ("queries", args.queries)):
        out = np.empty((rows, args.dim), dtype=np.float32)
        for start in range(0, rows, 100_000):
            stop = min(rows, start + 100_000)
            pick = rng.integers(0, len(centres), stop - start)
            out[start:stop] = centres[pick] + 0.5 * rng.standard_normal((stop - start, args.dim), dtype=np.float32)
        out.tofile(f"{args.out}/{name}.f32")


def search(args):
    import faiss

    if args.threads > 0:
        faiss.omp_set_num_threads(args.threads)
    base = np.fromfile(args.base, dtype=np.float32).reshape(args.n, args.dim)
    queries = np.fromfile(args.queries, dtype=np.float32).reshape(args.nq, args.dim)
    # The same normalisation our index applies on add and on search.
    faiss.normalize_L2(base)
    faiss.normalize_L2(queries)
    exact = None
    for factory in args.factory:
        index = faiss.index_factory(args.dim, factory, faiss.METRIC_INNER_PRODUCT)
        ivf = faiss.try_extract_index_ivf(index)
        if ivf is not None:
            ivf.nprobe = max(1, ivf.nlist // 16)
            if isinstance(ivf, faiss.IndexIVFPQ):
                ivf.do_polysemous_training = False
        if "HNSW" in factory:
            faiss.downcast_index(index).hnsw.efSearch = 64
        t0 = time.perf_counter()
        if not index.is_trained:
            index.train(base[: min(args.n, args.train)])
        index.add(base)
        t1 = time.perf_counter()
        for w in range(min(args.warmup, args.nq)):
            index.search(queries[w : w + 1], args.k)
        latencies, found = [], []
        for q in range(args.nq):
            s0 = time.perf_counter()
            _, ids = index.search(queries[q : q + 1], args.k)
            latencies.append(1000.0 * (time.perf_counter() - s0))
            found.append(ids[0])
        out = {"factory": factory, "n": args.n, "dim": args.dim, "k": args.k, "queries": args.nq,
               "build_s": t1 - t0, "p50_ms": float(np.percentile(latencies, 50)),
               "p99_ms": float(np.percentile(latencies, 99))}
        if factory == "Flat" and exact is None:
            exact = found
        elif exact is not None:
            hits = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(found, exact))
            out["recall"] = hits / (args.nq * args.k)
        print(json.dumps(out), flush=True)
        del index


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make")
    m.add_argument("--n", type=int, required=True)
    m.add_argument("--queries", type=int, required=True)
    m.add_argument("--dim", type=int, default=512)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--out", required=True)
    s = sub.add_parser("search")
    s.add_argument("--base", required=True)
    s.add_argument("--queries", required=True)
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--nq", type=int, required=True)
    s.add_argument("--dim", type=int, default=512)
    s.add_argument("--k", type=int, default=16)
    s.add_argument("--train", type=int, default=100000)
    s.add_argument("--warmup", type=int, default=10)
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--factory", action="append", required=True)
    args = parser.parse_args()
    make(args) if args.command == "make" else search(args)


if __name__ == "__main__":
    main()
