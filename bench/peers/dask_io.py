"""The io benchmark in Dask: the same CSV read with dask.dataframe.read_csv
on a distributed LocalCluster of 2 worker processes x 1 thread, and the sum
and count of its numbers computed (what the Canary job outputs).

    dask_io.py FILE  -> prints "SECONDS LINES SUM"
"""
import sys
import time

import dask.dataframe as dd
from distributed import Client, LocalCluster

if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, Client(cluster):
        start = time.perf_counter()
        frame = dd.read_csv(sys.argv[1], header=None, names=["a", "b", "c", "d"], blocksize="64MB")
        lines, total = dd.compute(frame.shape[0], frame.sum().sum())
        print(f"{time.perf_counter() - start:.4f} {lines} {total:.6f}")
