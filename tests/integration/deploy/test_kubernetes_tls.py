"""deploy/kubernetes-tls/ renders the plain manifests with server.tls on and HTTPS probes.

No cluster here, so: `kubectl kustomize` builds the variant; it changes only what TLS needs;
every probe asks the same route over HTTPS; the certificate comes from the Secret that the
documented `kubectl create secret tls` makes (run here with a throwaway CA, client side only),
mounted where the server is told to read it; and runbookd's own loader accepts that config with
those files, so the pod would start serving HTTPS.
"""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from runbookd.config.settings import load_settings
from tests.deploy_files import KUBERNETES, KUBERNETES_TLS, REPO, kubectl, kustomize
from tests.tls_files import server_cert

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def _one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def _container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = _one(docs, "Deployment", "runbookd")["spec"]["template"]["spec"]["containers"]
    return container


def _documented_secret(tmp_path: Path) -> dict[str, Any]:
    """The TLS Secret docs/operations.md creates, made by kubectl (client side) from a throwaway
    CA's certificate and key written under the file names the command uses."""
    docs = (REPO / "docs" / "operations.md").read_text()
    command = re.search(r"kubectl create secret tls (\S+) --cert=(\S+) --key=(\S+)", docs)
    assert command, "docs/operations.md does not show how to create the TLS Secret"
    cert = server_cert(tmp_path / "issued")
    (tmp_path / command.group(2)).write_bytes(cert.cert_file.read_bytes())
    (tmp_path / command.group(3)).write_bytes(cert.key_file.read_bytes())
    done = subprocess.run(
        [kubectl(), *command.group(0).split()[1:], "--dry-run=client", "-o", "yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    secret: dict[str, Any] = yaml.safe_load(done.stdout)
    return secret


def test_the_variant_builds_and_changes_only_what_tls_needs() -> None:
    plain, tls = kustomize(KUBERNETES), kustomize(KUBERNETES_TLS)
    assert sorted(d["kind"] for d in tls) == sorted(d["kind"] for d in plain)
    for doc in plain:
        if doc["kind"] != "Deployment":  # ConfigMaps and the Service are the plain ones
            assert _one(tls, doc["kind"], doc["metadata"]["name"]) == doc
    before, after = _container(plain), _container(tls)
    assert {k: v for k, v in after.items() if k not in {"env", "volumeMounts", *PROBES}} == {
        k: v for k, v in before.items() if k not in {"env", "volumeMounts", *PROBES}
    }
    assert all(e in after["env"] for e in before["env"])  # the Secret and cluster ones kept


def test_every_probe_asks_the_same_route_over_https() -> None:
    plain, tls = _container(kustomize(KUBERNETES)), _container(kustomize(KUBERNETES_TLS))
    for probe in PROBES:
        assert tls[probe]["httpGet"] == {**plain[probe]["httpGet"], "scheme": "HTTPS"}, probe
        assert {k: v for k, v in tls[probe].items() if k != "httpGet"} == {
            k: v for k, v in plain[probe].items() if k != "httpGet"
        }, probe
    template = _one(kustomize(KUBERNETES_TLS), "Deployment", "runbookd")["spec"]["template"]
    assert template["metadata"]["annotations"]["prometheus.io/scheme"] == "https"


def test_the_documented_secret_is_mounted_where_the_server_reads_its_certificate(
    tmp_path: Path,
) -> None:
    docs = kustomize(KUBERNETES_TLS)
    pod = _one(docs, "Deployment", "runbookd")["spec"]["template"]["spec"]
    container = _container(docs)
    secret = _documented_secret(tmp_path)
    (volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == secret["metadata"]["name"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True
    # Readable by the pod's group, which the unprivileged container user is in; no one else.
    assert volume["secret"]["defaultMode"] == 0o440
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]

    # The Secret's files, where the mount puts them (a folder of this test standing for it).
    folder = tmp_path / "mounted"
    folder.mkdir()
    for key, value in secret["data"].items():
        (folder / key).write_bytes(base64.b64decode(value))
    env = {e["name"]: e.get("value", f"<{e['name']}>") for e in container["env"]}
    env["RUNBOOKD_DATABASE_URL"] = "postgresql+psycopg://runbookd:pw@db.internal/runbookd"
    for name in ("RUNBOOKD_SERVER__TLS__CERT_FILE", "RUNBOOKD_SERVER__TLS__KEY_FILE"):
        path = Path(env[name])
        assert path.parent == Path(mount["mountPath"]), name
        assert path.name in secret["data"], f"{name}: the Secret has no key {path.name}"
        env[name] = str(folder / path.name)
    (config,) = _one(docs, "ConfigMap", "runbookd-config")["data"].values()
    (tmp_path / "config.yaml").write_text(config)
    settings = load_settings(tmp_path / "config.yaml", env)  # loads the cert and key: they fit
    assert settings.server.tls is not None
    assert settings.server.tls.cert_file == folder / "tls.crt"
