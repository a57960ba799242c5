"""FAISS's side of the ANN benchmark (pip faiss-cpu): the same data and settings as
`ann_cascade` — an HNSW graph (IndexHNSWFlat, inner product on unit vectors) with M links per
node and the given efConstruction, built on the given thread count; then for each efSearch the
batched search of all queries, timed (median of --repeats), with recall@K against truth.npy.
Prints one JSON line for the build and one per efSearch, in ann_cascade's format. --save keeps
the built index (faiss.write_index); --load searches a saved one instead of building.
"""

import argparse
import json
import os
import time

import faiss
import numpy as np


def recall(truth, found):
    """Mean fraction of each query's true top-K found among its returned ids."""
    k = truth.shape[1]
    hits = sum(len(np.intersect1d(t, f[:k])) for t, f in zip(truth, found))
    return hits / truth.size


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True, help="folder written by ann_data")
    p.add_argument("--m", type=int, default=32)
    p.add_argument("--ef-construction", type=int, default=40)
    p.add_argument("--ef", default="16,24,32,48,64,96,128,192,256")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--save", help="write the built index here")
    p.add_argument("--load", help="search this saved index instead of building one")
    a = p.parse_args()
    faiss.omp_set_num_threads(a.threads)
    items = np.load(os.path.join(a.dir, "items.npy"))
    queries = np.load(os.path.join(a.dir, "queries.npy"))
    truth = np.load(os.path.join(a.dir, "truth.npy"))[:, :a.k]

    if a.load:
        start = time.perf_counter()
        index = faiss.read_index(a.load)
        if index.ntotal != len(items):
            raise SystemExit(f"{a.load} holds {index.ntotal} items, items.npy {len(items)}")
        print(json.dumps({"tool": "faiss-hnsw", "phase": "load", "items": index.ntotal,
                          "m": index.hnsw.nb_neighbors(1), "threads": a.threads,
                          "ef_construction": index.hnsw.efConstruction,
                          "seconds": time.perf_counter() - start, "faiss": faiss.__version__}),
              flush=True)
    else:
        index = faiss.IndexHNSWFlat(items.shape[1], a.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = a.ef_construction
        start = time.perf_counter()
        index.add(items)
        build = time.perf_counter() - start
        print(json.dumps({"tool": "faiss-hnsw", "phase": "build", "items": index.ntotal,
                          "m": a.m, "ef_construction": a.ef_construction, "threads": a.threads,
                          "seconds": build, "faiss": faiss.__version__}), flush=True)
        if a.save:
            faiss.write_index(index, a.save)
    for ef in (int(e) for e in a.ef.split(",")):
        index.hnsw.efSearch = ef
        seconds = []
        for _ in range(a.repeats):
            start = time.perf_counter()
            _, ids = index.search(queries, a.k)
            seconds.append(time.perf_counter() - start)
        median = sorted(seconds)[len(seconds) // 2]
        print(json.dumps({"tool": "faiss-hnsw", "phase": "search", "ef": ef, "k": a.k,
                          "queries": len(queries), "recall": recall(truth, ids),
                          "seconds": median, "queries_per_s": len(queries) / median}),
              flush=True)


if __name__ == "__main__":
    main()
