"""The deployment files keep the promises deploy/README.md makes.

There is no container engine or cluster here, so the Dockerfile, the kustomize trees, the GitLab
CI job and the compose file are parsed and checked structurally. Where `kubectl` is installed
its bundled kustomize also builds the overlays. The Dockerfile's install steps are replayed in a
fresh virtual environment by a `network` test (it needs PyPI).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
import venv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUBE = DEPLOY / "kubernetes"
BASE, SERVE, OVERLAY = KUBE / "base", KUBE / "serve", KUBE / "overlays" / "example"

# Where every container deployment mounts the configuration (its directory is the mount).
CONFIG_PATH = "/etc/recipe-bot/recipe-bot.yaml"
BOT_UID = 10001


def load_yaml(path: Path) -> list[Any]:
    """Every document of a YAML file, as plain Python values."""
    documents = YAML(typ="safe", pure=True).load_all(path.read_text())
    return [doc for doc in documents if doc is not None]


# --- Dockerfile ----------------------------------------------------------------------------


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"no {keyword} in stage {self.name or self.image}"
        return found[-1]


def dockerfile_stages(path: Path = ROOT / "Dockerfile") -> list[Stage]:
    """The Dockerfile's stages, with continuations joined and global ARG defaults applied."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # comments inside a continued instruction are dropped
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: global_args[m[1] or m[2]], args)
            parts = image.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        elif not stages and keyword == "ARG":
            key, _, default = args.partition("=")
            global_args[key] = default
        elif stages:
            stages[-1].instructions.append((keyword, args))
    return stages


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"not exec (JSON) form: {args}"
    return value


def healthcheck_command() -> list[str]:
    args = dockerfile_stages()[-1].last("HEALTHCHECK")
    return exec_form(args[args.index("CMD") + len("CMD") :].strip())


def config() -> dict[str, Any]:
    """The example recipe-bot.yaml every container deployment ships."""
    return load_yaml(BASE / "recipe-bot.yaml")[0]


def test_image_is_slim_python_matching_the_project_and_the_lock() -> None:
    """Every stage builds on a slim Python image of the version the project and lock are for."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    lock_header = re.search(
        r"pip-compile with Python (\d+\.\d+)", (ROOT / "requirements.lock").read_text()
    )
    assert lock_header, "requirements.lock lost its pip-compile header"
    for stage in dockerfile_stages():
        match = re.fullmatch(
            r"(?:docker\.io/library/)?python:(\d+\.\d+)[.\d]*-slim[-\w]*(@sha256:\w+)?", stage.image
        )
        assert match, f"not a slim Python base: {stage.image}"
        assert match[1] in SpecifierSet(requires), (
            f"{stage.image} outside requires-python {requires}"
        )
        assert match[1] == lock_header[1], "lock compiled for another Python than the image runs"


def test_image_runs_as_a_numeric_non_root_user() -> None:
    """The final stage switches to a numeric non-zero uid, which runAsNonRoot can verify."""
    user = dockerfile_stages()[-1].last("USER").split(":")[0]
    assert user.isdigit() and int(user) == BOT_UID


def test_image_entrypoint_is_the_cli_and_defaults_to_run() -> None:
    """`docker run IMAGE` is one run; any other subcommand replaces only the default command."""
    final = dockerfile_stages()[-1]
    assert exec_form(final.last("ENTRYPOINT")) == ["recipe-bot"]
    assert exec_form(final.last("CMD")) == ["run"]


def test_image_installs_pinned_dependencies_then_the_app_without_resolving() -> None:
    """Dependencies come only from requirements.lock (with hashes); the app adds none of its own."""
    build = dockerfile_stages()[0]
    assert any("requirements.lock" in copy.split()[:-1] for copy in build.all("COPY"))
    runs = " && ".join(build.all("RUN"))
    assert re.search(r"pip install --no-deps --require-hashes -r requirements\.lock", runs)
    assert re.search(r"pip install --no-deps \.(\s|$)", runs)
    assert "pip check" in runs
    final = dockerfile_stages()[-1]
    assert not any("pip install" in run for run in final.all("RUN")), "the runtime stage resolves"


def test_image_declares_the_cache_volume_the_config_points_into() -> None:
    """VOLUME holds the directory of the configured http.cache, owned by the bot's user."""
    final = dockerfile_stages()[-1]
    volumes = [v for args in final.all("VOLUME") for v in exec_form(args)]
    assert str(PurePosixPath(config()["http"]["cache"]).parent) in volumes
    assert any("chown" in run and "/cache" in run for run in final.all("RUN"))


class _Healthz(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def healthz_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _run_healthcheck(tmp_path: Path, argv: list[str], port: int) -> int:
    """The image's HEALTHCHECK with PID 1's command line and the port redirected to test doubles."""
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"".join(arg.encode() + b"\0" for arg in argv))
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]
    code = command[2].replace("/proc/1/cmdline", str(cmdline)).replace(":8080/", f":{port}/")
    assert code != command[2], "the healthcheck no longer reads /proc/1/cmdline and port 8080"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30).returncode


def test_healthcheck_follows_healthz_in_serve_mode_only(
    tmp_path: Path, healthz_server: http.server.HTTPServer
) -> None:
    """In serve mode the check mirrors /healthz (200 healthy, 503 not); other commands pass."""
    port = healthz_server.server_address[1]
    _Healthz.status = 200
    assert _run_healthcheck(tmp_path, ["/opt/venv/bin/python", "recipe-bot", "serve"], port) == 0
    _Healthz.status = 503
    assert _run_healthcheck(tmp_path, ["/opt/venv/bin/python", "recipe-bot", "serve"], port) != 0
    assert _run_healthcheck(tmp_path, ["/opt/venv/bin/python", "recipe-bot", "run"], port) == 0


# --- .dockerignore -------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore glob: `*` and `?` stay within a path segment, `**` crosses them."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignored(path: str) -> bool:
    """Whether the build context leaves `path` out: the last matching rule (or its `!`) wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = _pattern_regex(line.lstrip("!").strip("/"))
        if any(pattern.fullmatch(prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        "tests/test_deploy.py",
        "recipes-fixtures/python-attrs/meta.yaml",
        "deploy/kubernetes/overlays/example/secrets.env",
        ".pytest_cache/v/cache/nodeids",
        ".mypy_cache/3.11/bot.json",
        ".venv/bin/python",
        "bot/__pycache__/cli.cpython-311.pyc",
        ".recipe-bot-cache.sqlite",
        ".env",
    ],
)
def test_dockerignore_leaves_out(path: str) -> None:
    """History, tests, fixtures, deployment secrets and local caches never reach the build."""
    assert dockerignored(path)


def test_dockerignore_keeps_everything_the_dockerfile_copies() -> None:
    """Every COPY source from the build context survives .dockerignore."""
    sources = [
        src
        for stage in dockerfile_stages()
        for copy in stage.all("COPY")
        if not copy.startswith("--from")
        for src in copy.split()[:-1]
    ]
    assert sources
    for src in (source.rstrip("/") for source in sources):
        assert not dockerignored(src), src
        if (ROOT / src).is_dir():
            assert not dockerignored(f"{src}/module.py"), (
                f"{src}/ is copied but its files are ignored"
            )


# --- requirements.lock ---------------------------------------------------------------------


def lock_pins() -> dict[str, str]:
    text = (ROOT / "requirements.lock").read_text()
    pins: dict[str, str] = {
        canonicalize_name(m[1]): m[2] for m in re.finditer(r"^([A-Za-z0-9._-]+)==(\S+)", text, re.M)
    }
    entries = [
        line for line in text.splitlines() if line and not line[0].isspace() and line[0] != "#"
    ]
    assert len(entries) == len(pins), "every line of the lock must be an exact `name==version` pin"
    assert text.count("--hash=sha256:") >= len(pins), "every pin needs its hashes"
    return pins


def test_lock_pins_every_runtime_dependency_within_its_range() -> None:
    """requirements.lock covers pyproject's dependencies, at versions their specifiers allow."""
    pins = lock_pins()
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dependency in map(Requirement, dependencies):
        name = canonicalize_name(dependency.name)
        assert name in pins, f"{dependency.name} missing from requirements.lock: re-run pip-compile"
        assert dependency.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} does not satisfy {dependency}: re-run pip-compile"
        )


# --- Kubernetes ----------------------------------------------------------------------------


@dataclass
class Build:
    """What `kustomize build DIR` would emit, reduced to what these checks need."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    secret_generators: list[dict[str, Any]] = field(default_factory=list)
    configmap_generators: list[dict[str, Any]] = field(default_factory=list)
    directories: list[Path] = field(default_factory=list)

    def one(self, kind: str) -> dict[str, Any]:
        found = [r for r in self.resources if r["kind"] == kind]
        assert len(found) == 1, f"expected one {kind}, found {len(found)}"
        return found[0]


def kustomization(directory: Path) -> dict[str, Any]:
    return load_yaml(directory / "kustomization.yaml")[0]


def build(directory: Path) -> Build:
    """Resources from `resources:` (recursively) minus `$patch: delete` patches, and generators."""
    k = kustomization(directory)
    out = Build(directories=[directory])
    for entry in k.get("resources", []):
        target = directory / entry
        if target.is_dir():
            inner = build(target)
            out.resources += inner.resources
            out.secret_generators += inner.secret_generators
            out.configmap_generators += inner.configmap_generators
            out.directories += inner.directories
        else:
            out.resources += load_yaml(target)
    out.secret_generators += k.get("secretGenerator", [])
    out.configmap_generators += k.get("configMapGenerator", [])
    for patch in k.get("patches", []):
        docs = (
            load_yaml(directory / patch["path"])
            if "path" in patch
            else [YAML(typ="safe", pure=True).load(patch["patch"])]
        )
        for doc in docs:
            if doc.get("$patch") == "delete":
                out.resources = [
                    r
                    for r in out.resources
                    if (r["kind"], r["metadata"]["name"]) != (doc["kind"], doc["metadata"]["name"])
                ]
    return out


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return workload["spec"]["template"]["spec"]


def env_file_keys(path: Path, *, commented: bool = False) -> set[str]:
    """Keys of a KEY=value env file; with `commented`, also keys of `# KEY=value` lines."""
    keys = set()
    for line in path.read_text().splitlines():
        match = re.match(r"(#\s*)?([A-Z_][A-Z0-9_]*)=", line.strip())
        if match and (commented or not match[1]):
            keys.add(match[2])
    return keys


def generator_file(directory: Path, name: str) -> Path:
    """A generator's input, or the committed `.example` standing in for a git-ignored secret."""
    path = directory / name
    return path if path.exists() else path.with_name(path.name + ".example")


WORKLOADS = {"cronjob": (OVERLAY, "CronJob"), "serve": (SERVE, "Deployment")}


@pytest.mark.parametrize(
    "directory", sorted(p.parent for p in KUBE.rglob("kustomization.yaml")), ids=str
)
def test_kustomization_references_only_existing_files(directory: Path) -> None:
    """Every resource, generator input and patch a kustomization names exists in the tree."""
    k = kustomization(directory)
    assert k["apiVersion"] == "kustomize.config.k8s.io/v1beta1" and k["kind"] == "Kustomization"
    for entry in k.get("resources", []):
        target = directory / entry
        assert target.is_file() or (target / "kustomization.yaml").is_file(), target
    for generator in k.get("secretGenerator", []) + k.get("configMapGenerator", []):
        for name in generator.get("envs", []) + [
            f.split("=")[-1] for f in generator.get("files", [])
        ]:
            assert generator_file(directory, name).is_file(), f"{directory}: {name}"
    for patch in k.get("patches", []):
        assert "patch" in patch or (directory / patch["path"]).is_file(), patch


def test_secret_inputs_are_git_ignored_and_only_examples_are_committed() -> None:
    """Real token and registry files are ignored; the committed examples hold placeholders."""
    ignored = (OVERLAY / ".gitignore").read_text().split()
    for generator in kustomization(OVERLAY)["secretGenerator"]:
        for name in generator.get("envs", []) + [
            f.split("=")[-1] for f in generator.get("files", [])
        ]:
            assert name in ignored
            assert not (OVERLAY / name).exists(), (
                f"{name} holds real credentials: keep it out of git"
            )
            example = OVERLAY / f"{name}.example"
            if name.endswith(".env"):
                values = [
                    line.split("=", 1)[1]
                    for line in example.read_text().splitlines()
                    if "=" in line and not line.lstrip().startswith("#")
                ]
            else:
                values = [
                    auth["password"] for auth in json.loads(example.read_text())["auths"].values()
                ]
            assert values and all("REPLACE" in value for value in values), example


def test_cronjob_runs_hourly_one_at_a_time() -> None:
    """The CronJob fires once an hour, never overlaps and gives up before the next slot."""
    cron = build(OVERLAY).one("CronJob")
    assert cron["apiVersion"] == "batch/v1"
    spec = cron["spec"]
    minute, *rest = spec["schedule"].split()
    assert minute.isdigit() and 0 <= int(minute) < 60 and rest == ["*"] * 4
    assert spec["concurrencyPolicy"] == "Forbid"
    assert 0 < spec["startingDeadlineSeconds"] < 3600
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] < 3600
    assert pod_spec(cron)["restartPolicy"] == "Never"


@pytest.mark.parametrize("variant", WORKLOADS)
def test_pods_run_non_root_with_requests_and_limits(variant: str) -> None:
    """Both workloads run as the image's uid, read-only, without privileges, within resources."""
    directory, kind = WORKLOADS[variant]
    pod = pod_spec(build(directory).one(kind))
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == BOT_UID
    assert security["fsGroup"] == BOT_UID, "the cache volume must be writable by the bot"
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][bound].keys()
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    if container["securityContext"].get("readOnlyRootFilesystem"):
        volumes = {v["name"]: v for v in pod["volumes"]}
        tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert tmp and "emptyDir" in volumes[tmp[0]["name"]], "read-only root needs a writable /tmp"


@pytest.mark.parametrize("variant", WORKLOADS)
def test_cache_is_a_pvc_mounted_where_the_config_points(variant: str) -> None:
    """http.cache lies on the PersistentVolumeClaim; the config is mounted where --config reads."""
    directory, kind = WORKLOADS[variant]
    built = build(directory)
    pod = pod_spec(built.one(kind))
    (container,) = pod["containers"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}

    cache_dir = str(PurePosixPath(config()["http"]["cache"]).parent)
    claim = volumes[mounts[cache_dir]]["persistentVolumeClaim"]["claimName"]
    assert claim == built.one("PersistentVolumeClaim")["metadata"]["name"]

    args = container["args"]
    assert args[args.index("--config") + 1] == CONFIG_PATH
    config_volume = volumes[mounts[str(PurePosixPath(CONFIG_PATH).parent)]]
    (generator,) = built.configmap_generators
    assert config_volume["configMap"]["name"] == generator["name"]
    assert PurePosixPath(CONFIG_PATH).name in generator["files"]


@pytest.mark.parametrize("variant", WORKLOADS)
def test_tokens_come_from_the_overlay_generated_secret(variant: str) -> None:
    """Each token env var the config names is set from a key of the overlay's generated Secret."""
    directory, kind = WORKLOADS[variant]
    (container,) = pod_spec(build(directory).one(kind))["containers"]
    tokens = next(g for g in kustomization(OVERLAY)["secretGenerator"] if "envs" in g)
    (env_name,) = tokens["envs"]
    example = generator_file(OVERLAY, env_name)

    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    wanted = {config()["gitlab"]["token_env"], config()["checkers"]["github"]["token_env"]}
    if variant == "serve":
        wanted.add(config()["serve"]["webhook_secret_env"])
    assert wanted <= refs.keys()
    for ref in refs.values():
        assert ref["name"] == tokens["name"]
        keys = env_file_keys(example, commented=ref.get("optional", False))
        assert ref["key"] in keys, f"{ref['key']} not in {example.name}"
    assert refs["GITHUB_TOKEN"].get("optional") is True, "GITHUB_TOKEN is optional"


def test_overlay_generates_registry_credentials_and_sets_the_image() -> None:
    """The overlay builds a dockerconfigjson pull Secret, attaches it, and names the image."""
    k = kustomization(OVERLAY)
    (registry,) = [
        g for g in k["secretGenerator"] if g.get("type") == "kubernetes.io/dockerconfigjson"
    ]
    (source,) = registry["files"]
    key, _, name = source.partition("=")
    assert key == ".dockerconfigjson"
    assert "auths" in json.loads(generator_file(OVERLAY, name).read_text())

    account = build(OVERLAY).one("ServiceAccount")
    patched = [
        d
        for p in k["patches"]
        for d in load_yaml(OVERLAY / p["path"])
        if d["kind"] == "ServiceAccount"
    ]
    assert patched and patched[0]["metadata"]["name"] == account["metadata"]["name"]
    assert {"name": registry["name"]} in patched[0]["imagePullSecrets"]
    for variant in WORKLOADS.values():
        assert (
            pod_spec(build(variant[0]).one(variant[1]))["serviceAccountName"]
            == account["metadata"]["name"]
        )

    images = {i["name"]: i for i in k["images"]}
    (container,) = pod_spec(build(OVERLAY).one("CronJob"))["containers"]
    assert container["image"] in images and images[container["image"]]["newName"]


def test_serve_replaces_the_cronjob_with_a_probed_deployment_and_service() -> None:
    """serve runs one replica probed on /healthz behind a Service that reaches port 8080."""
    built = build(SERVE)
    assert not [r for r in built.resources if r["kind"] == "CronJob"], "two runners"
    deployment = built.one("Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    pod = pod_spec(deployment)
    (container,) = pod["containers"]
    assert container["args"][0] == "serve"
    ports = {p.get("name"): p["containerPort"] for p in container["ports"]}

    def port(value: str | int) -> int:
        return value if isinstance(value, int) else ports[value]

    readiness = container["readinessProbe"]["httpGet"]
    assert readiness["path"] == "/healthz" and port(readiness["port"]) == 8080
    assert "livenessProbe" in container

    service = built.one("Service")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert [port(p["targetPort"]) for p in service["spec"]["ports"]] == [8080]
    assert config()["serve"]["listen"].endswith(":8080")


def test_overlays_build_with_kustomize(tmp_path: Path) -> None:
    """kubectl's kustomize builds the example overlay for the CronJob and for serve."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the structural checks above still ran")
    tree = tmp_path / "kubernetes"
    shutil.copytree(KUBE, tree)
    overlay = tree / OVERLAY.relative_to(KUBE)
    for example in overlay.glob("*.example"):
        shutil.copy(example, example.with_suffix(""))
    for variant, kind in (("../../base", "CronJob"), ("../../serve", "Deployment")):
        text = (OVERLAY / "kustomization.yaml").read_text()
        (overlay / "kustomization.yaml").write_text(text.replace("- ../../base", f"- {variant}"))
        result = subprocess.run(
            [kubectl, "kustomize", str(overlay)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        docs = list(YAML(typ="safe", pure=True).load_all(result.stdout))
        kinds = [d["kind"] for d in docs]
        assert kind in kinds and kinds.count("CronJob") + kinds.count("Deployment") == 1
        secrets = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
        (workload,) = [d for d in docs if d["kind"] == kind]
        (container,) = pod_spec(workload)["containers"]
        assert {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]} <= secrets
        assert container["image"] == "registry.example.com/packaging/recipe-bot:0.1.0"


# --- GitLab CI and compose -----------------------------------------------------------------


def test_gitlab_ci_job_runs_only_from_a_schedule_on_the_checkout() -> None:
    """The job runs the bot on the recipes checkout, only in scheduled pipelines, one at a time."""
    (document,) = load_yaml(DEPLOY / "gitlab-ci" / "recipe-bot.gitlab-ci.yml")
    assert list(document) == ["recipe-bot"], "an included file must not add global keywords"
    job = document["recipe-bot"]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert job["image"]["entrypoint"] == [""], "the runner needs a shell, not recipe-bot"
    assert any(
        shlex.split(line)[:4] == ["recipe-bot", "run", "--recipes", "$CI_PROJECT_DIR"]
        for line in job["script"]
    )
    assert '--recipes "$CI_PROJECT_DIR"' in " ".join(job["script"])
    assert job["resource_group"]
    assert job["cache"]["paths"] == [".recipe-bot-cache/"]


def test_compose_serves_with_the_cache_volume_and_a_healthcheck() -> None:
    """compose runs serve with /cache on a named volume, a /healthz check and no literal tokens."""
    (compose,) = load_yaml(DEPLOY / "docker-compose.yml")
    service = compose["services"]["recipe-bot"]
    assert service["command"][:1] == ["serve"]
    assert service["command"][service["command"].index("--config") + 1] == CONFIG_PATH
    volumes = {}  # target -> source
    for volume in service["volumes"]:
        # SOURCE:TARGET[:MODE], where SOURCE may be a ${VAR:-default} interpolation.
        match = re.fullmatch(r"(.+):(/[^:]*)(?::ro|:rw)?", volume)
        assert match, volume
        volumes[match[2]] = match[1]
    cache_dir = str(PurePosixPath(config()["http"]["cache"]).parent)
    assert volumes[cache_dir] in compose["volumes"], "the cache must be a named volume"
    assert CONFIG_PATH in volumes
    assert "/healthz" in " ".join(service["healthcheck"]["test"])
    assert "8080:8080" in service["ports"]
    for name, value in service["environment"].items():
        assert value.startswith("${" + name), f"{name} must come from the environment"
    assert (DEPLOY / service["build"]).resolve() == ROOT, "build context: the repository root"


# --- the Dockerfile's install steps, for real ----------------------------------------------


@pytest.mark.network
@pytest.mark.timeout(900)
def test_dockerfile_install_steps_replay_in_a_fresh_venv(tmp_path: Path) -> None:
    """The build stage's COPY and RUN steps, replayed in a fresh venv, give a working recipe-bot."""
    build_stage = dockerfile_stages()[0]
    context = tmp_path / "src"
    context.mkdir()
    prefix = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(prefix)
    env = {**os.environ, "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    replayed = 0
    for keyword, args in build_stage.instructions:
        if keyword == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            for source in sources:  # every COPY in the build stage targets the workdir
                src = ROOT / source
                if src.is_dir():
                    shutil.copytree(
                        src, context / source, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    shutil.copy(src, context / source)
        elif keyword == "RUN" and "pip" in args:
            command = args.replace("/opt/venv", str(prefix))
            result = subprocess.run(
                command, shell=True, cwd=context, env=env, capture_output=True, text=True
            )
            assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
            replayed += 1
    assert replayed >= 2
    result = subprocess.run(
        [prefix / "bin" / "recipe-bot", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
