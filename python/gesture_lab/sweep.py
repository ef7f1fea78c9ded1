"""Sweeps of the native trainer on Ray Tune: seeds × hyper-parameters, one
trial per CPU, on every node of a Ray cluster.

    python -m gesture_lab.sweep --task needle-reach --algo sac-her --steps 20000 \\
        --seeds 0 1 2 --grid batch_size=128,256 --out sweeps/needle-reach [--address auto]

Each trial runs ``gesture_lab.train`` on one thread and hands its policy
bundle to Tune as the trial's checkpoint, so it reaches the driver from any
node. The driver copies every bundle to ``OUT/bundles/<trial>`` and writes
``OUT/results.csv`` and ``OUT/results.md``: final success, env steps to 90 %
evaluation success, wall time and the node each trial ran on.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import os
import pathlib
import socket
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

SUCCESS_BAR = 0.9


def steps_to(curve: Sequence[Mapping[str, Any]], bar: float = SUCCESS_BAR) -> int | None:
    """Env steps of the first evaluation at or above ``bar`` success (None: never)."""
    return next((e["env_steps"] for e in curve if e["success_rate"] >= bar), None)


def _trial(params: dict[str, Any]) -> None:
    """One Tune trial: train, then report the figures with the bundle as checkpoint."""
    import ray
    from ray import tune

    import gesture_lab

    with tempfile.TemporaryDirectory() as scratch:
        bundle = pathlib.Path(scratch) / "bundle"
        report = gesture_lab.train(
            params["task"],
            params["algo"],
            params["steps"],
            params["seed"],
            config=params["hyper"] or None,
            out=bundle,
            threads=1,
            grasp=params.get("grasp"),
            demos=params.get("demos", ()),
        )
        context = ray.get_runtime_context()
        metrics = {
            "seed": params["seed"],
            "hyper": json.dumps(params["hyper"], sort_keys=True),
            "final_success": report["evaluation"]["success_rate"],
            "final_error_mm": report["evaluation"]["mean_final_error_mm"],
            "steps_to_90": steps_to(report["curve"]),
            "wall_s": report["wall_s"],
            "env_steps": report["env_steps"],
            "node_id": context.get_node_id(),
            "host": socket.gethostname(),
        }
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(bundle))


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["batch_size=128,256", "learning_rate=3e-4"]`` → ``{"batch_size": [128, 256], ...}``."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise ValueError(f"--grid {item!r}: expected KEY=V1,V2,...")
        grid[key.strip()] = [_value(v.strip()) for v in values.split(",")]
    return grid


def _value(text: str) -> Any:
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def run_sweep(
    task: str,
    algo: str,
    steps: int,
    seeds: Sequence[int],
    grid: Mapping[str, Sequence[Any]],
    out: str | os.PathLike,
    *,
    grasp: str | None = None,
    demos: Sequence[str | os.PathLike] = (),
    cpus_per_trial: float = 1.0,
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Runs every seed × grid point as a Ray Tune trial and collects the
    bundles and the results table in ``out``; returns one row per trial.

    Connects to the Ray cluster at ``address`` ("auto": the running one), or
    uses the one ``ray.init`` already started, or starts a local one."""
    import ray
    from ray import tune

    out = pathlib.Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: is a file, not a directory for the sweep's results")
    out.mkdir(parents=True, exist_ok=True)
    (out / ".write-probe").write_text("")
    (out / ".write-probe").unlink()
    if not seeds:
        raise ValueError("no seeds: give at least one")
    if not ray.is_initialized():
        ray.init(address=address)

    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())] if grid else [{}]
    param_space = {
        "task": task,
        "algo": algo,
        "steps": steps,
        "grasp": grasp,
        "demos": [str(pathlib.Path(d).resolve()) for d in demos],
        "seed": tune.grid_search(list(seeds)),
        "hyper": tune.grid_search(points),
    }
    tuner = tune.Tuner(
        tune.with_resources(_trial, {"cpu": cpus_per_trial}),
        param_space=param_space,
        run_config=tune.RunConfig(name="gesture-lab-sweep", storage_path=str(out / "ray"), verbose=0),
    )
    results = tuner.fit()
    rows = []
    for result in results:
        if result.error is not None:
            raise RuntimeError(f"trial {result.path} failed: {result.error}")
        m = result.metrics
        name = f"seed{m['seed']}-" + ("-".join(f"{k}{v}" for k, v in sorted(json.loads(m["hyper"]).items())) or "default")
        bundle = out / "bundles" / name
        result.checkpoint.to_directory(str(bundle))
        rows.append({key: m[key] for key in ("seed", "hyper", "final_success", "final_error_mm", "steps_to_90", "wall_s", "env_steps", "node_id", "host")} | {"bundle": str(bundle)})
    rows.sort(key=lambda r: (r["hyper"], r["seed"]))
    write_tables(rows, out)
    return rows


def write_tables(rows: Sequence[Mapping[str, Any]], out: pathlib.Path) -> None:
    """``results.csv`` and ``results.md``, each written whole then renamed."""
    columns = ["hyper", "seed", "final_success", "final_error_mm", "steps_to_90", "wall_s", "node_id", "bundle"]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _write_atomic(out / "results.csv", text.getvalue())
    lines = [
        "| hyper-parameters | seed | final success | final error (mm) | env steps to 90 % | wall time (s) | node |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        reached = "—" if r["steps_to_90"] is None else f"{r['steps_to_90']:,}"
        lines.append(f"| `{r['hyper']}` | {r['seed']} | {r['final_success'] * 100:.0f} % | {r['final_error_mm']:.2f} | {reached} | {r['wall_s']:.1f} | {r['node_id'][:8]} |")
    _write_atomic(out / "results.md", "\n".join(lines) + "\n")


def _write_atomic(path: pathlib.Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gesture_lab.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="needle-reach")
    parser.add_argument("--algo", default="sac-her")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2", help="a hyper-parameter and its values (repeatable)")
    parser.add_argument("--grasp", choices=["friction", "assisted"])
    parser.add_argument("--demos", nargs="*", default=[])
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    parser.add_argument("--address", help="Ray cluster address ('auto': the running cluster); default: start a local one")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        grid = parse_grid(args.grid)
        rows = run_sweep(args.task, args.algo, args.steps, args.seeds, grid, args.out, grasp=args.grasp, demos=args.demos, cpus_per_trial=args.cpus_per_trial, address=args.address)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print((pathlib.Path(args.out) / "results.md").read_text())
    print(f"{len(rows)} trials; bundles in {pathlib.Path(args.out) / 'bundles'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
