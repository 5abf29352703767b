"""deploy/kubernetes/ holds manifests Kubernetes accepts and that run runbookd as it is.

No cluster here, so: every document has what the API server requires; the probes ask the
service's real routes on the container's port; the Service reaches the pods; the config in the
ConfigMap loads with runbookd's own loader from the environment the Deployment gives it, on the
port and paths the Deployment mounts; the runbooks in it check clean; secrets come from the
Secret that docs/operations.md tells how to create; and `kubectl kustomize` builds the folder.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from runbookd.config.settings import SettingsError, load_settings
from runbookd.toolchain.library import load_library
from tests.deploy_files import (
    KUBERNETES,
    REPO,
    dockerfile_stages,
    kubectl,
    kustomize,
    manifest,
    manifests,
    route_paths,
    serve_arguments,
)

API_VERSIONS = {"Deployment": "apps/v1", "Service": "v1", "ConfigMap": "v1", "Secret": "v1"}
DEPLOYMENT = manifest("Deployment", "runbookd")
POD = DEPLOYMENT["spec"]["template"]["spec"]
(CONTAINER,) = POD["containers"]


def _mounted(path: str) -> dict[str, Any]:
    """The volume mounted at ``path`` (the longest mount path that contains it)."""
    mounts = [m for m in CONTAINER["volumeMounts"] if path.startswith(m["mountPath"])]
    assert mounts, f"nothing is mounted at {path}"
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    (volume,) = [v for v in POD["volumes"] if v["name"] == mount["name"]]
    return {"mount": mount, "volume": volume}


def _config_map_file(path: str) -> str:
    found = _mounted(path)
    name = found["volume"]["configMap"]["name"]
    key = path.removeprefix(found["mount"]["mountPath"]).strip("/")
    return str(manifest("ConfigMap", name)["data"][key])


def _settings_file(tmp_path: Path) -> Path:
    args = serve_arguments(CONTAINER["args"])
    path = tmp_path / "config.yaml"
    path.write_text(_config_map_file(args.config))
    return path


# What the Secret's values look like, for the variables that must parse as something.
STAND_INS = {"RUNBOOKD_DATABASE_URL": "postgresql+psycopg://runbookd:pw@db.internal/runbookd"}


def _environment() -> dict[str, str]:
    """The container's environment, with a stand-in value for each secret."""
    return {
        e["name"]: e.get("value", STAND_INS.get(e["name"], f"<{e['name']}>"))
        for e in CONTAINER["env"]
    }


def test_every_document_has_what_the_api_server_requires() -> None:
    for name, docs in manifests().items():
        for doc in docs:
            assert doc["apiVersion"] == API_VERSIONS[doc["kind"]], name
            assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"]), name
    listed = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(manifests())


def test_three_replicas_rolled_one_at_a_time_with_the_cluster_on(tmp_path: Path) -> None:
    assert DEPLOYMENT["spec"]["replicas"] == 3
    rolling = DEPLOYMENT["spec"]["strategy"]
    assert rolling["type"] == "RollingUpdate"
    assert rolling["rollingUpdate"] == {"maxUnavailable": 1, "maxSurge": 0}
    settings = load_settings(_settings_file(tmp_path), _environment())
    assert settings.cluster.enabled and settings.cluster.role == "all"
    env = {e["name"]: e for e in CONTAINER["env"]}
    assert env["RUNBOOKD_CLUSTER__NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    (spread,) = POD["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["labelSelector"]["matchLabels"].items() <= (
        DEPLOYMENT["spec"]["template"]["metadata"]["labels"].items()
    )


def test_probes_ask_the_real_routes_on_the_container_port() -> None:
    ports = {p["name"]: p["containerPort"] for p in CONTAINER["ports"]}
    routes = route_paths()
    expected = {
        "readinessProbe": "/readyz",
        "livenessProbe": "/healthz",
        "startupProbe": "/healthz",
    }
    for probe, path in expected.items():
        get = CONTAINER[probe]["httpGet"]
        assert get["path"] == path and path in routes, probe
        assert get["port"] in ports, f"{probe} asks port {get['port']!r}: not a container port"
    # docs/operations.md: five minutes for the journal replay before liveness counts.
    startup = CONTAINER["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300


def test_the_service_reaches_the_pods_on_the_http_port() -> None:
    service = manifest("Service", "runbookd")
    labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    assert DEPLOYMENT["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in CONTAINER["ports"]}


def test_the_config_map_config_loads_on_the_mounted_paths(tmp_path: Path) -> None:
    settings = load_settings(_settings_file(tmp_path), _environment())
    assert settings.server.port == CONTAINER["ports"][0]["containerPort"]
    assert settings.server.host == "0.0.0.0"
    for folder in settings.runbooks:
        assert _mounted(str(folder))["volume"].get("configMap"), folder
    assert "emptyDir" in _mounted(str(settings.data_dir))["volume"]
    # The token comes from the Secret, through the environment: the API is never left open.
    assert settings.auth.bearer_token is not None
    assert settings.auth.bearer_token.get_secret_value() == "<RUNBOOKD_TOKEN>"
    assert settings.database_url_resolved() == STAND_INS["RUNBOOKD_DATABASE_URL"]


def test_the_pod_cannot_start_without_its_secret_so_never_on_sqlite(tmp_path: Path) -> None:
    env = {e["name"]: e for e in CONTAINER["env"]}
    assert env["RUNBOOKD_DATABASE_URL"]["valueFrom"]["secretKeyRef"].get("optional") is not True
    without = {k: v for k, v in _environment().items() if k != "RUNBOOKD_DATABASE_URL"}
    # Were the value missing anyway, replicas refuse to start on the SQLite default.
    with pytest.raises(SettingsError, match=r"cluster\.enabled needs a PostgreSQL database_url"):
        load_settings(_settings_file(tmp_path), without)


def test_the_runbooks_in_the_config_map_check_clean(tmp_path: Path) -> None:
    settings = load_settings(_settings_file(tmp_path), _environment())
    (folder,) = settings.runbooks
    name = _mounted(str(folder))["volume"]["configMap"]["name"]
    for key, text in manifest("ConfigMap", name)["data"].items():
        (tmp_path / key).write_text(text)
    library = load_library([tmp_path / key for key in manifest("ConfigMap", name)["data"]])
    assert library.ok, "\n".join(str(d) for d in library.diagnostics)
    assert library.loaded


def test_it_runs_as_the_image_user_without_privileges() -> None:
    _, stages = dockerfile_stages()
    uid = int(stages[-1].one("USER").args.split(":")[0])
    assert POD["securityContext"]["runAsNonRoot"] is True
    assert POD["securityContext"]["runAsUser"] == uid
    security = CONTAINER["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    # With a read-only root, the only writable places are volumes.
    assert "emptyDir" in _mounted("/tmp")["volume"]


def test_the_secret_the_docs_create_has_every_key_the_pod_reads() -> None:
    refs = {
        (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for e in CONTAINER["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    docs = (REPO / "docs" / "operations.md").read_text()
    created = re.search(r"kubectl create secret generic (\S+)((?:\s+\\?\s*--from-\S+)+)", docs)
    assert created, "docs/operations.md does not show how to create the Secret"
    keys = re.findall(r"--from-(?:literal|file)=([a-z0-9-]+)=", created.group(2))
    assert {(created.group(1), k) for k in keys} == refs


def test_kubectl_kustomize_builds_the_folder() -> None:
    kinds = sorted(d["kind"] for d in kustomize(KUBERNETES))
    assert kinds == ["ConfigMap", "ConfigMap", "Deployment", "Service"]


def test_the_documented_runbooks_config_map_holds_every_runbook(tmp_path: Path) -> None:
    docs = (REPO / "docs" / "operations.md").read_text()
    command = re.search(r"kubectl create configmap runbookd-runbooks \\\n(.*?) \| ", docs, re.S)
    assert command, "docs/operations.md does not show how to build the runbooks ConfigMap"
    shell = "kubectl create configmap runbookd-runbooks " + command.group(1).replace("\\\n", " ")
    done = subprocess.run(
        ["bash", "-c", shell.replace("kubectl", kubectl(), 1)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = yaml.safe_load(done.stdout)["data"]
    for key, text in data.items():
        (tmp_path / key).write_text(text)
    library = load_library([tmp_path])
    assert library.ok, "\n".join(str(d) for d in library.diagnostics)
    assert len(library.loaded) == len(list((REPO / "runbooks").rglob("*.yaml")))
