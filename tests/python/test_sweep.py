"""A Ray Tune sweep of the native trainer across a two-node Ray cluster on this machine."""

import pytest

import gesture_lab
from gesture_lab.sweep import parse_grid, run_sweep

import ray  # noqa: E402  (CI installs ray[tune]: a missing Ray fails here, it is never skipped)
from ray.cluster_utils import Cluster  # noqa: E402

SMALL = {"hidden": [16], "batch_size": [32], "random_steps": [100], "eval_interval": [100_000], "eval_episodes": [2]}


@pytest.fixture(scope="module")
def two_nodes():
    """A head and a worker node with one CPU each: two trials at once must use both."""
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 80 * 2**20})
    cluster.add_node(num_cpus=1, object_store_memory=80 * 2**20)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def test_a_sweep_runs_on_both_nodes_and_every_bundle_loads(two_nodes, tmp_path):
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    grid = SMALL | {"actor_lr": [3e-4, 1e-3]}
    rows = run_sweep("needle-reach", "sac-her", 300, [0, 1], grid, tmp_path / "sweep")
    assert len(rows) == 4
    assert len({r["node_id"] for r in rows}) == 2, "trials ran on both nodes"
    for r in rows:
        policy = gesture_lab.Policy.load(r["bundle"])
        assert policy.task == "needle-reach"
        assert policy.manifest["seed"] == r["seed"]
        assert policy.manifest["hyperparameters"]["actor_lr"] in (3e-4, 1e-3)
    csv_lines = (tmp_path / "sweep" / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 5 and csv_lines[0].startswith("hyper,seed,final_success")
    assert (tmp_path / "sweep" / "results.md").read_text().count("\n") == 6


def test_grid_arguments_parse_and_bad_ones_are_named():
    assert parse_grid(["batch_size=128,256", "learning_rate=3e-4", "q_filter=true"]) == {"batch_size": [128, 256], "learning_rate": [3e-4], "q_filter": [True]}
    with pytest.raises(ValueError, match="--grid 'batch_size'"):
        parse_grid(["batch_size"])
