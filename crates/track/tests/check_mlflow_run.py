"""Checks, with MLflow's own Python client, that a run Cascade logged is complete on the server.

Usage: check_mlflow_run.py TRACKING_URI EXPECTED_JSON

EXPECTED_JSON holds: run_id, status, params {key: value}, tags {key: value} (a subset),
metrics {name: [[step, value or "NaN"], ...]} (the whole history, in step order),
artifacts {path: sha256} (every file, downloaded and hashed) and optionally
model {name, alias} (the alias must point at a version of this run).
Exits non-zero with every difference listed.
"""

import hashlib
import json
import math
import sys
import tempfile

from mlflow.artifacts import download_artifacts
from mlflow.tracking import MlflowClient


def same_value(a, b):
    if isinstance(b, str):
        b = float(b.replace("Infinity", "inf"))
    return (math.isnan(a) and math.isnan(b)) or a == b


def main():
    uri, expected_path = sys.argv[1], sys.argv[2]
    with open(expected_path) as f:
        want = json.load(f)
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(want["run_id"])
    problems = []

    if run.info.status != want["status"]:
        problems.append(f"status {run.info.status}, expected {want['status']}")
    if run.data.params != want["params"]:
        missing = {k: v for k, v in want["params"].items() if run.data.params.get(k) != v}
        extra = sorted(set(run.data.params) - set(want["params"]))
        problems.append(f"params differ: wrong or missing {missing}, unexpected {extra}")
    for key, value in want.get("tags", {}).items():
        if run.data.tags.get(key) != value:
            problems.append(f"tag {key} = {run.data.tags.get(key)!r}, expected {value!r}")

    for name, series in want["metrics"].items():
        history = sorted(client.get_metric_history(want["run_id"], name), key=lambda m: (m.step, m.timestamp))
        got = [(m.step, m.value) for m in history]
        if len(got) != len(series):
            problems.append(f"metric {name}: {len(got)} values on the server, {len(series)} logged")
        for (step, value), (gstep, gvalue) in zip(series, got):
            if step != gstep or not same_value(gvalue, value):
                problems.append(f"metric {name}: server has ({gstep}, {gvalue}) where ({step}, {value}) was logged")
                break
    extra_metrics = sorted(set(run.data.metrics) - set(want["metrics"]))
    if extra_metrics:
        problems.append(f"unexpected metrics {extra_metrics}")

    listed = set()

    def walk(path):
        for info in client.list_artifacts(want["run_id"], path):
            if info.is_dir:
                walk(info.path)
            else:
                listed.add(info.path)

    walk(None)
    if listed != set(want["artifacts"]):
        problems.append(f"artifacts {sorted(listed)}, expected {sorted(want['artifacts'])}")
    with tempfile.TemporaryDirectory() as tmp:
        for path, digest in want["artifacts"].items():
            if path not in listed:
                continue
            local = download_artifacts(run_id=want["run_id"], artifact_path=path, dst_path=tmp, tracking_uri=uri)
            with open(local, "rb") as f:
                got = hashlib.sha256(f.read()).hexdigest()
            if got != digest:
                problems.append(f"artifact {path}: content differs")

    model = want.get("model")
    if model:
        version = client.get_model_version_by_alias(model["name"], model["alias"])
        if version.run_id != want["run_id"]:
            problems.append(f"model {model['name']}@{model['alias']} is from run {version.run_id}")
        files = download_artifacts(artifact_uri=version.source, tracking_uri=uri)
        if not files:
            problems.append(f"model version source {version.source} cannot be downloaded")

    if problems:
        print("MLflow run check FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        sys.exit(1)
    print(f"MLflow run {want['run_id']} checked: {len(want['params'])} params, "
          f"{sum(len(s) for s in want['metrics'].values())} metric values, {len(want['artifacts'])} artifacts")


if __name__ == "__main__":
    main()
