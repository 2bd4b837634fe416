"""The apps benchmark's jobs in Dask distributed with numpy: logistic
regression, k-means and PageRank on the very data of the Canary jobs
(written by bench/peers/dump_data.cpp into DIR), on 2 worker processes x 1
thread and 2 partitions, as the Canary runs. Each partition lives on a
worker as a future; every iteration maps over them and combines on the
client, the usual shape of an iterative job on Dask's futures API.

    dask_apps.py lr|kmeans|pagerank ITERATIONS DIR  -> prints seconds per iteration
"""
import sys
import time

import numpy as np
from distributed import Client, LocalCluster

PARTITIONS = 2


def lr_data(directory, p):
    return np.fromfile(f"{directory}/lr-{p}.x").reshape(-1, 20), np.fromfile(f"{directory}/lr-{p}.y")


def lr_gradient(part, w):
    x, y = part
    return x.T @ (1.0 / (1.0 + np.exp(-(x @ w))) - y)


def kmeans_data(directory, p):
    return np.fromfile(f"{directory}/kmeans-{p}.x").reshape(-1, 4)


def kmeans_sums(x, centroids):
    d = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    best = d.argmin(axis=1)
    k = len(centroids)
    sums = np.stack([np.bincount(best, weights=x[:, j], minlength=k) for j in range(4)], axis=1)
    return sums, np.bincount(best, minlength=k)


def pagerank_data(directory, p, first, degree):
    return first, np.fromfile(f"{directory}/pagerank-{p}.t", dtype=np.int64).reshape(-1, degree)


def pagerank_contributions(part, rank, vertices):
    first, targets = part
    share = rank[first:first + len(targets)] / targets.shape[1]
    return np.bincount(targets.ravel(), weights=np.repeat(share, targets.shape[1]), minlength=vertices)


def main():
    job, iterations, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        bounds = lambda n: [(n * p // PARTITIONS, n * (p + 1) // PARTITIONS) for p in range(PARTITIONS)]
        if job == "lr":
            n = 1000000
            parts = [client.submit(lr_data, directory, p) for p in range(PARTITIONS)]
            w = np.zeros(20)

            def step():
                nonlocal w
                grads = client.gather(client.map(lr_gradient, parts, w=w, pure=False))
                w = w - 0.1 * sum(grads) / n
        elif job == "kmeans":
            clusters = 5
            parts = [client.submit(kmeans_data, directory, p) for p in range(PARTITIONS)]
            centroids = np.array([[c * (k + 1) for k in range(4)] for c in range(clusters)], dtype=np.float64)

            def step():
                nonlocal centroids
                results = client.gather(client.map(kmeans_sums, parts, centroids=centroids, pure=False))
                sums = sum(r[0] for r in results)
                counts = sum(r[1] for r in results)
                moved = counts > 0
                centroids[moved] = sums[moved] / counts[moved][:, None]
        else:
            vertices, degree = 1000000, 8
            parts = [client.submit(pagerank_data, directory, p, b, degree) for p, (b, _) in enumerate(bounds(vertices))]
            rank = np.full(vertices, 1.0 / vertices)

            def step():
                nonlocal rank
                sums = client.gather(client.map(pagerank_contributions, parts, rank=rank, vertices=vertices,
                                                pure=False))
                rank = (1 - 0.85) / vertices + 0.85 * sum(sums)
        client.gather(parts)  # the data is made before the clock starts
        step()  # warm up
        start = time.perf_counter()
        for _ in range(iterations):
            step()
        elapsed = time.perf_counter() - start
    print(f"{elapsed / iterations:.6f}")


if __name__ == "__main__":
    main()
