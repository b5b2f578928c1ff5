"""The workloads, one module each: ``run(bench) -> list[Figure]``."""
