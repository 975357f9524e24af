"""k-shot MSTAR-style evaluation: fine-tune (or probe) for each shot count and seed, pretrained and
from random init, through the command line; prints mean ± std accuracy per setting.

    python benchmarks/sar_kshot.py --checkpoint runs/sar/checkpoints/last.ckpt --shots 10 20 40 --seeds 5
    python benchmarks/sar_kshot.py --checkpoint CKPT --mode probe --out runs/sar-kshot -- --finetune.max_epochs 20

Without --data the demo tree is used.
Arguments after ``--`` are passed to every run (recipe overrides).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

RECIPE = Path(__file__).parents[1] / "recipes" / "sar" / "mstar-soc.yaml"
CLI = str(Path(sys.executable).parent / "jepa-platform")


def run_one(mode: str, shots: int, seed: int, checkpoint: str | None, out: Path, extra: list[str]) -> float:
    """Test accuracy of one run (reused when its results.json exists)."""
    results = out / "results.json"
    if not results.exists():
        command = [CLI, mode, "--recipe", str(RECIPE), "--out", str(out)]
        command += ["--task.shots", str(shots), "--task.seed", str(seed)]
        command += ["--checkpoint", checkpoint] if checkpoint else []
        done = subprocess.run(command + extra, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return float(json.loads(results.read_text())["value"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="pretrained checkpoint")
    parser.add_argument("--mode", choices=["finetune", "probe"], default="finetune")
    parser.add_argument("--shots", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 .. N-1 of the k-shot draw")
    parser.add_argument("--out", type=Path, default=Path("runs/sar-kshot"))
    parser.add_argument("--data", help="MSTAR-like tree (default: the checkpoint's data, or the demo)")
    parser.add_argument("extra", nargs="*", help="recipe overrides after --")
    args = parser.parse_args()
    extra = (["--data", args.data] if args.data else []) + args.extra
    print(f"| shots | init | {args.mode} accuracy (mean ± std over {args.seeds} seeds) |\n|---|---|---|")
    for shots in args.shots:
        for init, checkpoint in [("pretrained", args.checkpoint), ("random", None)]:
            # a random-init run builds the model pretraining builds for the same data (pass model.* overrides
            # after -- when the checkpoint's model differs from those defaults)
            accuracy = np.array([
                run_one(args.mode, shots, seed, checkpoint, args.out / f"{args.mode}-{init}-{shots}-{seed}", extra)
                for seed in range(args.seeds)
            ])
            print(f"| {shots} | {init} | {accuracy.mean():.3f} ± {accuracy.std():.3f} |", flush=True)


if __name__ == "__main__":
    main()
