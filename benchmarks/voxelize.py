"""LiDAR voxelization speed, and the step time of the sparse (spconv) against the dense pillar BEV encoder.

One synthetic 64-beam sweep of the demo's street (about 120k points with the
default 2,200 azimuths) is voxelized by the vectorized voxelizer and by a
straightforward per-point Python loop, side by side in each round (the
voxelizer's few-millisecond call timed over ``--repeats`` calls in a row), at
AD-L-JEPA's KITTI setting (range [0, -40, -3, 70.4, 40, 1] m, 0.05 × 0.05 ×
0.1 m voxels, 5 points each) and at the demo's 0.5 m pillars. Then both BEV
encoders run a forward and backward pass on a batch of voxelized sweeps on one
grid both can take (0.4 × 0.4 × 0.5 m voxels: 8 × 200 × 176; the dense encoder
folds the 8 z levels into channels), alternating round by round.

    .venv/bin/python benchmarks/voxelize.py [--rounds 5 --repeats 10 --azimuths 2200 --batch-size 2 --threads 2]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch
from jepa_domains.lidar.config import LidarDataConfig
from jepa_domains.lidar.demo import place_objects, place_scenery, sweep
from jepa_domains.lidar.tokenizer import BEVTokenizer, spconv_available
from jepa_domains.lidar.voxels import voxelize, voxelize_loop

GOAL = 100.0  # the project's target speed-up of the voxelizer over the per-point loop
SETTINGS = {
    "KITTI voxels 0.05 × 0.05 × 0.1 m, 5 points": ((0.0, -40.0, -3.0, 70.4, 40.0, 1.0), (0.05, 0.05, 0.1), 5),
    "demo pillars 0.5 × 0.5 × 4 m, 16 points": ((0.0, -24.0, -3.0, 48.0, 24.0, 1.0), (0.5, 0.5, 4.0), 16),
}


def make_sweep(seed: int, azimuths: int) -> np.ndarray:
    """One 64-beam sweep of a demo street."""
    rng = np.random.default_rng(seed)
    names, boxes = place_objects(rng)
    return sweep(names, boxes, place_scenery(rng), rng, beams=64, azimuths=azimuths)


def voxel_rows(points: np.ndarray, rounds: int, repeats: int) -> list[tuple[str, int, float, float]]:
    """Per setting: occupied voxels, and points/s of the voxelizer (mean of ``repeats`` calls in a row, as on a
    stream of sweeps) and of the loop (one call), alternating; medians over ``rounds``."""
    rows = []
    for name, (point_range, size, max_points) in SETTINGS.items():
        fast, slow = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(repeats):
                voxels = voxelize(points, point_range, size, max_points, 10**7)
            fast.append((time.perf_counter() - start) / repeats)
            start = time.perf_counter()
            reference = voxelize_loop(points, point_range, size, max_points)
            slow.append(time.perf_counter() - start)
        assert voxels.count == len(reference)
        rows.append((name, voxels.count, len(points) / statistics.median(fast), len(points) / statistics.median(slow)))
    return rows


def encoder_times(sweeps: list[np.ndarray], rounds: int) -> dict[str, float]:
    """Median seconds of a forward and backward pass of each BEV encoder on the voxelized ``sweeps``."""
    data = LidarDataConfig(voxel_size=(0.4, 0.4, 0.5), max_voxels=40000, token_cells=8, channels=32)
    settings = (data.point_range, data.voxel_size, data.max_points_per_voxel, data.max_voxels)
    frames = [voxelize(points, *settings) for points in sweeps]
    batch = {"voxels": torch.from_numpy(np.stack([f.features for f in frames])),
             "coords": torch.from_numpy(np.stack([f.coords for f in frames])),
             "count": torch.tensor([f.count for f in frames])}
    encoders = {"dense pillars (z folded into channels)": BEVTokenizer(data, 192, sparse=False)}
    if spconv_available():
        encoders["sparse 3-D (spconv, ConvAlgo.Native)"] = BEVTokenizer(data, 192, sparse=True)
    times: dict[str, list[float]] = {name: [] for name in encoders}
    for round_ in range(rounds + 1):  # the first round warms up
        for name, encoder in encoders.items():
            start = time.perf_counter()
            encoder(batch).tokens.square().mean().backward()
            if round_:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10, help="voxelizer calls in a row per round")
    parser.add_argument("--azimuths", type=int, default=2200, help="azimuth steps of the 64-beam sweep")
    parser.add_argument("--batch-size", type=int, default=2, help="sweeps per encoder step")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    points = make_sweep(0, args.azimuths)
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} threads; sweep of {len(points):,} points (64 beams × {args.azimuths} azimuths)\n")
    print("| setting | occupied voxels | vectorized points/s | per-point loop points/s | speed-up |")
    print("|---|---|---|---|---|")
    rows = voxel_rows(points, args.rounds, args.repeats)
    for name, count, fast, slow in rows:
        print(f"| {name} | {count:,} | {fast:,.0f} | {slow:,.0f} | {fast / slow:.0f}× |")
    print()
    for name, _, fast, slow in rows:
        print(f"{name}: speed-up {fast / slow:.1f}× (goal >= {GOAL:.0f}×)")
    print()
    sweeps = [make_sweep(seed, args.azimuths) for seed in range(args.batch_size)]
    times = encoder_times(sweeps, args.rounds)
    print(f"| BEV encoder, batch {args.batch_size}, grid 8 × 200 × 176, 32 channels | forward + backward s |")
    print("|---|---|")
    for name, seconds in times.items():
        print(f"| {name} | {seconds:.3f} |")
    if len(times) == 1:
        print("\nspconv is not installed: the sparse encoder was not timed")


if __name__ == "__main__":
    main()
