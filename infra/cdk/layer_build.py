"""The ``meterbill`` layer's contents, built for Lambda (arm64, Python 3.12) without Docker.

The layer is ``python/`` holding the ``meterbill`` package and its runtime dependencies (``[project]
dependencies`` of ``pyproject.toml``):

- pinned to the versions installed here, so AWS runs what the tests ran (``pydantic==2.14.3``, ...);
- without the AWS SDK (boto3, botocore, s3transfer): the Lambda runtime provides it, patched by AWS, and it is
  the largest dependency by far (~30 MB unpacked); what only the SDK needs (urllib3) stays out with it;
- with powertools' ``tracer`` extra (aws-xray-sdk): the functions trace with X-Ray;
- as wheels for the Lambda platform (``pip --platform manylinux2014_aarch64 --python-version 3.12
  --only-binary=:all:``): compiled ones such as pydantic_core are the aarch64 cp312 builds, whatever Python
  and machine synthesize.

The wheels are downloaded once into ``.cache/layer-wheels/<key>/`` (the key is a hash of the pinned
requirements and the platform) and installed there once; after that a build is offline and only copies.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Final

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from infra.cdk.sources import BUILD_LEFTOVERS, LAYER_CACHE, LAYER_PACKAGE, PYPROJECT

LAMBDA_PYTHON: Final = "3.12"
# Lambda's python3.12 runtime is Amazon Linux 2023 (glibc 2.34) on Graviton: both tags run there, and newer
# wheels (Pillow) come only as manylinux_2_28.
LAMBDA_PLATFORMS: Final = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
# The environment markers of Requires-Dist are evaluated for Lambda, not for this machine.
LAMBDA_MARKER_ENVIRONMENT: Final = {
    "implementation_name": "cpython",
    "os_name": "posix",
    "platform_machine": "aarch64",
    "platform_python_implementation": "CPython",
    "platform_system": "Linux",
    "python_full_version": "3.12.0",
    "python_version": LAMBDA_PYTHON,
    "sys_platform": "linux",
}
PROVIDED_BY_LAMBDA: Final = frozenset({"boto3", "botocore", "s3transfer"})
EXTRAS_ON_AWS: Final = {"aws-lambda-powertools": frozenset({"tracer"})}
# Installed by wheels but of no use in a layer: console scripts (with this machine's paths) and man pages.
NOT_IMPORTABLE: Final = ("bin", "share")
# Babel carries the CLDR data of ~1,000 locales (36 MB); documents are written in meterbill.domain.LANGUAGES
# only, so the layer keeps those (and their regional variants, e.g. de_AT) and the root all inherit from.
BABEL_LOCALES: Final = ("root", "en", "de")
# Bump when the way the layer is built changes, so the asset hash changes with it.
BUILD_SCHEME: Final = "2"


class LayerBuildError(RuntimeError):
    """The layer's dependencies cannot be obtained or installed (the message says which step and why)."""


@dataclass(frozen=True, slots=True)
class Wheel:
    path: Path
    name: str  # canonical
    version: str
    requires: tuple[Requirement, ...]

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"


def runtime_requirements(pyproject: Path = PYPROJECT) -> list[Requirement]:
    """``[project] dependencies`` without the AWS SDK, with the extras AWS needs, pinned to the installed
    versions (the range from pyproject when a dependency is not installed here)."""
    declared = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    requirements = []
    for text in declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name in PROVIDED_BY_LAMBDA or not _applies(requirement.marker, ()):
            continue
        requirement.extras = set(requirement.extras) | EXTRAS_ON_AWS.get(name, frozenset())
        installed = _installed_version(name)
        if installed is not None and requirement.specifier.contains(installed, prereleases=True):
            requirement.specifier = SpecifierSet(f"=={installed}")
        requirement.marker = None
        requirements.append(requirement)
    return sorted(requirements, key=lambda r: canonicalize_name(r.name))


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True, slots=True)
class LayerDependencies:
    """The runtime dependencies of one requirement list, downloaded and installed under ``directory``."""

    requirements: tuple[Requirement, ...]
    directory: Path

    @classmethod
    def of(cls, requirements: Sequence[Requirement], cache: Path = LAYER_CACHE) -> LayerDependencies:
        key_text = "\n".join([BUILD_SCHEME, LAMBDA_PYTHON, *LAMBDA_PLATFORMS, *map(str, requirements)])
        key = hashlib.sha256(key_text.encode()).hexdigest()[:20]
        return cls(tuple(requirements), cache / key)

    @property
    def wheels_dir(self) -> Path:
        return self.directory / "wheels"

    @property
    def site_dir(self) -> Path:
        """The installed dependencies, as the layer's ``python/`` holds them (without meterbill)."""
        return self.directory / "python"

    def ensure(self) -> list[Wheel]:
        """Downloads (once) and installs (once) the wheels; returns the ones the layer holds."""
        if not self.site_dir.is_dir():
            self._download()
            wheels = self.layer_wheels()
            self._install(wheels)
        return self.layer_wheels()

    def layer_wheels(self) -> list[Wheel]:
        """The downloaded wheels the requirements need on Lambda, without the SDK and what only it needs."""
        available = {wheel.name: wheel for wheel in map(_read_wheel, sorted(self.wheels_dir.glob("*.whl")))}
        needed: dict[str, Wheel] = {}
        seen: set[tuple[str, frozenset[str]]] = set()
        pending = [(r, frozenset(r.extras)) for r in self.requirements]
        while pending:
            requirement, extras = pending.pop()
            name = canonicalize_name(requirement.name)
            if name in PROVIDED_BY_LAMBDA or (name, extras) in seen:
                continue
            seen.add((name, extras))
            wheel = available.get(name)
            if wheel is None:
                raise LayerBuildError(f"no wheel of {name} in {self.wheels_dir} (download incomplete?)")
            needed[name] = wheel
            for dependency in wheel.requires:
                if _applies(dependency.marker, extras):
                    pending.append((dependency, frozenset(dependency.extras)))
        return sorted(needed.values(), key=lambda wheel: wheel.name)

    def _download(self) -> None:
        self.wheels_dir.mkdir(parents=True, exist_ok=True)
        _pip("download", "--dest", str(self.wheels_dir), *map(str, self.requirements), step="downloading")

    def _install(self, wheels: Sequence[Wheel]) -> None:
        building = self.directory / "python-building"
        shutil.rmtree(building, ignore_errors=True)
        _pip(
            "install",
            "--no-index",
            "--find-links",
            str(self.wheels_dir),
            "--no-deps",
            "--no-compile",
            "--target",
            str(building),
            *(wheel.pin for wheel in wheels),
            step="installing",
        )
        for leftover in NOT_IMPORTABLE:
            shutil.rmtree(building / leftover, ignore_errors=True)
        _prune_locales(building / "babel" / "locale-data")
        building.rename(self.site_dir)


def _prune_locales(locale_data: Path) -> None:
    for data in locale_data.glob("*.dat"):
        if data.stem.split("_")[0] not in BABEL_LOCALES:
            data.unlink()


def _pip(command: str, *arguments: str, step: str) -> None:
    platform = [option for tag in LAMBDA_PLATFORMS for option in ("--platform", tag)]
    lambda_python = ["--python-version", LAMBDA_PYTHON, "--implementation", "cp", "--only-binary=:all:"]
    argv = [sys.executable, "-m", "pip", command, "--quiet", *platform, *lambda_python, *arguments]
    done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "PIP_NO_INPUT": "1"})
    if done.returncode != 0:
        raise LayerBuildError(f"pip failed {step} the layer's wheels:\n{done.stderr.strip()[-3000:]}")


def _read_wheel(path: Path) -> Wheel:
    with zipfile.ZipFile(path) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = HeaderParser().parsestr(archive.read(metadata_name).decode("utf-8"))
    return Wheel(
        path=path,
        name=canonicalize_name(metadata["Name"]),
        version=metadata["Version"],
        requires=tuple(Requirement(text) for text in metadata.get_all("Requires-Dist") or ()),
    )


def _applies(marker: Marker | None, extras: Iterable[str]) -> bool:
    if marker is None:
        return True
    return any(marker.evaluate({**LAMBDA_MARKER_ENVIRONMENT, "extra": extra}) for extra in ("", *extras))


@dataclass(frozen=True, slots=True)
class LayerContents:
    """What ``python/`` of the layer holds: the installed dependencies and the meterbill package."""

    dependencies: LayerDependencies
    wheels: tuple[Wheel, ...]
    package: Path = LAYER_PACKAGE

    @classmethod
    def prepare(cls, requirements: Sequence[Requirement] | None = None) -> LayerContents:
        dependencies = LayerDependencies.of(
            requirements if requirements is not None else runtime_requirements()
        )
        return cls(dependencies, tuple(dependencies.ensure()))

    def fingerprint(self) -> str:
        """Changes exactly when the layer's contents would: the wheels it holds and meterbill's source."""
        digest = hashlib.sha256()
        for line in (BUILD_SCHEME, *(wheel.pin for wheel in self.wheels)):
            digest.update(line.encode() + b"\n")
        for path in package_files(self.package):
            digest.update(path.relative_to(self.package).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
        return digest.hexdigest()

    def write(self, output_dir: Path) -> None:
        """``output_dir/python/``: the dependencies (hard links into the cache if possible) and meterbill."""
        target = output_dir / "python"
        shutil.copytree(self.dependencies.site_dir, target, copy_function=_link_or_copy, dirs_exist_ok=True)
        shutil.copytree(
            self.package, target / self.package.name, ignore=shutil.ignore_patterns(*BUILD_LEFTOVERS)
        )


def package_files(package: Path) -> Iterator[Path]:
    ignored = shutil.ignore_patterns(*BUILD_LEFTOVERS)
    for directory, subdirectories, files in os.walk(package):
        subdirectories[:] = sorted(set(subdirectories) - ignored(directory, subdirectories))
        for name in sorted(set(files) - ignored(directory, files)):
            yield Path(directory) / name


def _link_or_copy(source: str, destination: str) -> str:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
    return destination
