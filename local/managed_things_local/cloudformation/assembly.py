"""Synthesize a CDK app and read its cloud assembly: stacks, templates, dependencies and asset directories."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from managed_things_model.contract import APP_ERROR_FILE_VARIABLE

from ..errors import DeployError
from .annotations import Annotation, read_annotations
from .things_manifest import read_things_manifests, thing_labels

STACK_ARTIFACT = "aws:cloudformation:stack"
NESTED_ASSEMBLY_ARTIFACT = "cdk:cloud-assembly"
ASSET_MANIFEST_ARTIFACT = "cdk:asset-manifest"
DEFAULT_OUTDIR = "cdk.out"
# jsii's Node.js support warnings: any value silences the deprecation box; the end-of-life one takes major versions.
JSII_QUIET = {
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}
_STAGED_ASSET = re.compile(r"asset\.[0-9a-f]{64}")
# What the CDK CLI always puts in the app's context: asset metadata is what
# names a function's code directory in the template.
CLI_DEFAULT_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
}
APP_ERROR_ADVICE = "Correct the app as each line says, then run again (`cdk synth` shows where in the app it stopped)."


@dataclass(frozen=True)
class StackArtifact:
    """One stack of the assembly, as the CDK CLI sees it."""

    artifact_id: str
    stack_name: str
    display_name: str
    template: dict[str, Any]
    assembly_dir: Path
    region: str | None
    account: str | None
    dependencies: tuple[str, ...] = ()
    asset_files: dict[str, dict[str, Any]] = field(default_factory=dict)
    annotations: tuple[Annotation, ...] = ()
    template_file: str = ""  # the template's file, relative to assembly_dir

    @property
    def template_path(self) -> Path:
        return self.assembly_dir / self.template_file

    def asset_source(self, object_key: str) -> Path | None:
        """The file or directory of this assembly's asset uploaded as ``object_key`` (its asset manifest's)."""
        digest = object_key.rsplit("/", 1)[-1].split(".", 1)[0]
        source = (self.asset_files.get(digest) or {}).get("source") or {}
        path = source.get("path")
        return (self.assembly_dir / path).resolve() if isinstance(path, str) else None

    labels: Mapping[str, str] = field(default_factory=dict)  # logical id -> label, of the fleet things it holds

    def code_directory(self, logical_id: str) -> Path:
        """The synthesized code directory of a Lambda function of this stack (zips are extracted by the caller)."""
        resource = self.template.get("Resources", {}).get(logical_id, {})
        metadata = resource.get("Metadata") or {}
        asset_path = metadata.get("aws:asset:path")
        if isinstance(asset_path, str) and metadata.get("aws:asset:property", "Code") == "Code":
            return (self.assembly_dir / asset_path).resolve()
        code = (resource.get("Properties") or {}).get("Code") or {}
        key = code.get("S3Key")
        source = self.asset_source(key) if isinstance(key, str) else None
        if source is not None:
            return source
        raise DeployError(
            f"{self.stack_name}: cannot find the code of {logical_id}: its template has neither "
            "aws:asset:path metadata nor an S3Key of this assembly's assets (inline or external code "
            "is not run locally)"
        )


@dataclass(frozen=True)
class CloudAssembly:
    directory: Path
    stacks: tuple[StackArtifact, ...]

    def select(self, patterns: Sequence[str]) -> list[StackArtifact]:
        """Stacks matching any pattern (artifact id, display name or stack name; globs allowed); all without any."""
        if not patterns:
            return list(self.stacks)
        selected: list[StackArtifact] = []
        for pattern in patterns:
            matches = [s for s in self.stacks if _matches(s, pattern)]
            if not matches:
                names = ", ".join(s.display_name for s in self.stacks) or "none"
                raise DeployError(f"No stack matches '{pattern}' (stacks in the app: {names})")
            selected += [s for s in matches if s not in selected]
        return selected


def _matches(stack: StackArtifact, pattern: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for name in (stack.artifact_id, stack.display_name, stack.stack_name))


def synthesize(app: str, outdir: Path, cwd: Path) -> None:
    """Run the app command the way the CDK CLI does: a shell command with CDK_OUTDIR and CDK_CONTEXT_JSON set.

    The app's ``ConfigurationError`` (a wrong construct argument or inventory row) is the DeployError's message,
    without the app's traceback; any other failure of the app keeps the output it printed.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="managed-things-app-") as directory:
        error_file = Path(directory) / "configuration-error.txt"
        code = _run_app(app, cwd, outdir, error_file)
        if code != 0 and error_file.is_file():
            raise DeployError(f"{error_file.read_text(encoding='utf-8', errors='replace')}\n{APP_ERROR_ADVICE}")
    if code != 0:
        hint = ": the shell found no such command" if code == 127 else ""
        raise DeployError(f"The app failed: `{app}` exited with code {code}{hint}")
    if not (outdir / "manifest.json").is_file():
        raise DeployError(f"The app `{app}` wrote no cloud assembly to {outdir} (does it call app.synth()?)")


def _run_app(app: str, cwd: Path, outdir: Path, error_file: Path) -> int:
    """Run the app, its output streamed to stderr; its exit code."""
    env = app_environment(os.environ)
    env["CDK_OUTDIR"] = str(outdir)
    env["CDK_CONTEXT_JSON"] = json.dumps(app_context(cwd))
    env[APP_ERROR_FILE_VARIABLE] = str(error_file)  # where the construct library writes a ConfigurationError
    # The app's own output goes to stderr: stdout stays free for the --json document.
    try:
        process = subprocess.Popen(
            app,
            shell=True,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    except OSError as error:
        raise DeployError(f"Cannot run the app `{app}` in {cwd}: {error.strerror or error}") from None
    assert process.stdout is not None
    for line in process.stdout:
        sys.stderr.write(line.decode(errors="replace"))
    sys.stderr.flush()
    return process.wait()


def app_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The app process's environment: this interpreter's scripts first on PATH, and jsii's Node banner off.

    With this Python's bin directory first, cdk.json's ``python3 app.py`` runs the
    interpreter ``managed-things`` runs under (the one with aws_cdk), also when it
    is started as ``.venv/bin/managed-things`` without activating the venv. jsii
    prints a box on every synth when Node.js is past its support date (Node 20 on
    this project's machine); the user's own setting of either variable wins.
    """
    env = dict(environ)
    scripts = str(Path(sys.executable).parent)
    path = env.get("PATH", os.defpath).split(os.pathsep)
    env["PATH"] = os.pathsep.join([scripts, *(entry for entry in path if entry != scripts)])
    for variable, value in JSII_QUIET.items():
        env.setdefault(variable, value)
    return env


def app_context(cwd: Path) -> dict[str, Any]:
    """cdk.json's and cdk.context.json's context, over the CLI's defaults."""
    context: dict[str, Any] = dict(CLI_DEFAULT_CONTEXT)
    for name, key in (("cdk.json", "context"), ("cdk.context.json", None)):
        path = cwd / name
        if path.is_file():
            data = _read_json(path)
            context.update((data.get(key) if key else data) or {})
    return context


def cdk_json(cwd: Path) -> dict[str, Any]:
    path = cwd / "cdk.json"
    return _read_json(path) if path.is_file() else {}


def read_assembly(directory: Path) -> CloudAssembly:
    directory = directory.resolve()
    if not (directory / "manifest.json").is_file():
        raise DeployError(f"{directory} is not a cloud assembly (no manifest.json)")
    stacks: list[StackArtifact] = []
    _read_manifest(directory, "", stacks)
    return CloudAssembly(directory, tuple(stacks))


def _read_manifest(directory: Path, prefix: str, stacks: list[StackArtifact]) -> None:
    manifest = _read_json(directory / "manifest.json")
    artifacts: dict[str, Any] = manifest.get("artifacts") or {}
    stack_ids = {name for name, a in artifacts.items() if a.get("type") == STACK_ARTIFACT}
    asset_files: dict[str, dict[str, Any]] = {}
    for artifact in artifacts.values():
        if artifact.get("type") == ASSET_MANIFEST_ARTIFACT:
            file = (artifact.get("properties") or {}).get("file")
            if file and (directory / file).is_file():
                asset_files.update(_read_json(directory / file).get("files") or {})
    # Labels only name fleet things in output: a manifest of another version names none rather than stop a deploy.
    labels = thing_labels(read_things_manifests(directory, skip_other_versions=True))
    for name, artifact in artifacts.items():
        kind = artifact.get("type")
        properties = artifact.get("properties") or {}
        if kind == NESTED_ASSEMBLY_ARTIFACT and properties.get("directoryName"):
            _read_manifest(directory / properties["directoryName"], f"{prefix}{name}/", stacks)
            continue
        if kind != STACK_ARTIFACT:
            continue
        account, region = _environment(artifact.get("environment", ""))
        stacks.append(
            StackArtifact(
                artifact_id=prefix + name,
                stack_name=properties.get("stackName") or name,
                display_name=artifact.get("displayName") or name,
                template=_read_json(directory / properties["templateFile"]),
                assembly_dir=directory,
                region=region,
                account=account,
                dependencies=tuple(prefix + d for d in artifact.get("dependencies") or () if d in stack_ids),
                asset_files=asset_files,
                annotations=read_annotations(artifact, directory),
                template_file=properties["templateFile"],
                labels=labels.get(name, {}),
            )
        )


def _environment(environment: str) -> tuple[str | None, str | None]:
    """``aws://account/region``; the ``unknown-*`` placeholders of environment-agnostic stacks are None."""
    if not environment.startswith("aws://"):
        return None, None
    account, _, region = environment[len("aws://") :].partition("/")
    return (
        None if not account or account.startswith("unknown-") else account,
        None if not region or region.startswith("unknown-") else region,
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DeployError(f"Cannot read {path}: {error}") from None
    if not isinstance(data, dict):
        raise DeployError(f"{path} is not a JSON object")
    return data


def stage_code(source: Path, cache: Path) -> Path:
    """Copy a function's code to the local deploy's own directory, once per asset, and return the copy.

    Like Lambda's copy of the deployment package: a later synth that replaces or
    garbage-collects cdk.out does not take the deployed code away (deletes run on it).
    """
    if not source.exists():
        raise DeployError(f"The function code {source} does not exist (synthesize the app again)")
    name = source.name.removesuffix(".zip")
    if not _STAGED_ASSET.fullmatch(name):  # not staged by CDK (staging disabled): name it by its content
        name = f"code.{_content_hash(source)}"
    target = cache / name
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = cache / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    if source.is_dir():
        shutil.copytree(source, staging, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            archive.extractall(staging)
    else:
        raise DeployError(f"The function code {source} is neither a directory nor a zip file")
    try:
        staging.rename(target)
    except OSError:  # another deploy staged it first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _content_hash(source: Path) -> str:
    digest = hashlib.sha256()
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    for path in files:
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(source).as_posix().encode() if path != source else b"")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def prune_code(cache: Path, keep: Iterable[str]) -> None:
    """Remove staged code that no deployed stack and no current function uses."""
    if not cache.is_dir():
        return
    kept = {Path(k).resolve() for k in keep}
    for entry in cache.iterdir():
        if entry.is_dir() and not entry.name.startswith(".") and entry.resolve() not in kept:
            shutil.rmtree(entry, ignore_errors=True)
