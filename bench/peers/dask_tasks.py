"""Dask distributed's cost per task on the scheduling micro-benchmark's shape:
10 partitions, stages of one near-empty task per partition, each depending on
the partition's task in the stage before, submitted as futures (a graph of
chained dask.delayed calls costs Dask more still). One worker process with
one thread, on this machine, after a warm-up. Prints the wall-clock microseconds per task."""
import sys
import time

from distributed import Client, LocalCluster


def step(x, s):
    return (x + s) ^ 3


def main():
    stages = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    partitions = 10
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        def run(stages):
            parts = list(range(partitions))
            for s in range(stages):
                parts = [client.submit(step, p, s, pure=False) for p in parts]
            client.gather(parts)

        run(20)  # warm up: the worker is connected and has the function
        start = time.perf_counter()
        run(stages)
        elapsed = time.perf_counter() - start
    print(f"{elapsed * 1e6 / (stages * partitions):.1f}")


if __name__ == "__main__":
    main()
