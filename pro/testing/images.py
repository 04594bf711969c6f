"""Build the two container images from their unchanged Dockerfiles without a Docker engine, and run them
as their pods would: ``python -m pro.testing.images build`` (``make images``; docs/images.md).

buildah builds ``images/operator/Dockerfile`` and ``images/trainer/Dockerfile`` (``buildah bud --pull=never
--isolation chroot``) on bases made here:

- the operator's ``python:3.11-slim``: Debian bookworm (``debootstrap --variant=minbase``, python 3.11), whose
  python3 is made a venv at ``/usr/local`` so that it behaves like the official image where the Dockerfile
  relies on it: ``python``/``pip`` in ``/usr/local/bin``, ``pip install --prefix=/install`` writes
  ``lib/python3.11/site-packages`` and ``bin`` (Debian's python would write ``local/lib/…/dist-packages``),
  pip does not refuse as externally managed, a CA bundle (with this machine's extra CAs) is present;
- the trainer's ``BASE_IMAGE``: that base with this machine's CPU torch wheel installed (the CUDA default
  base is several GB and needs a GPU to be of use);
- a wheelhouse of every locked requirement (``requirements/lock.txt``): each build sees it as pip's global
  configuration (``/etc/xdg/pip``, read-only, with ``no-index``), so a build downloads nothing, never
  picks another torch, and fails if an image needs something the lock lacks.

Everything slow is cached under ``~/.cache/pro-images`` (``PRO_IMAGES_CACHE``): the debootstrapped rootfs,
buildah's image storage (bases are kept while their recipe, the lock and the torch wheel are unchanged),
the wheelhouse.  The project's images are rebuilt every time.  Needs root.

:class:`Container` runs a command in a built image like a pod runs it: as a given UID, read-only root
filesystem, writable ``/tmp``, host network (``buildah run --isolation chroot``; ``podman run`` does not work
on these machines).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pro.version import __version__

REPO = Path(__file__).resolve().parents[2]
OPERATOR_DOCKERFILE = REPO / "images" / "operator" / "Dockerfile"
TRAINER_DOCKERFILE = REPO / "images" / "trainer" / "Dockerfile"
OPERATOR_IMAGE = f"localhost/pro-pipeline/operator:{__version__}"
TRAINER_IMAGE = f"localhost/pro-pipeline/trainer:{__version__}"
#: bumped whenever the base recipes below change (the cached bases are then rebuilt)
RECIPE = "3"
#: Debian suites whose python3 is the image's Python version
SUITES = {"3.11": "bookworm"}
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "passwd")
#: the official image's PATH and LANG
BASE_ENV = {"PATH": "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
KEY_LABEL = "dev.pro-pipeline.images.key"
#: where each build sees the wheelhouse (pip's global configuration directory, empty in the base)
PIP_DIR = "/etc/xdg/pip"
#: what the built images' ``pip install``s need besides the lock
BUILD_REQUIREMENTS = ("setuptools", "wheel")


def log(msg: str) -> None:
    print(f"pro-images: {msg}", file=sys.stderr, flush=True)


def require_root() -> None:
    if os.geteuid() != 0:
        raise RuntimeError("building and running images with buildah needs root (debootstrap, mounts)")


def _sh(argv: Sequence[str | Path], **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run ``argv``; fail with the command and its output's tail."""
    done = subprocess.run(list(map(str, argv)), text=True, capture_output=True, check=False, **kw)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-3000:]
        raise RuntimeError(f"{' '.join(map(str, argv))} exited with {done.returncode}:\n{tail}")
    return done


def cache_dir() -> Path:
    return Path(os.environ.get("PRO_IMAGES_CACHE") or Path.home() / ".cache" / "pro-images")


@dataclass(frozen=True)
class Store:
    """buildah with its image storage under the cache directory (never the machine's shared storage:
    the substitute base is tagged ``docker.io/library/python:…``)."""

    root: Path
    runroot: Path = Path("/run/pro-images")

    @classmethod
    def default(cls) -> Store:
        return cls(cache_dir() / "storage")

    def cmd(self, *args: str | Path) -> list[str]:
        return list(
            map(
                str,
                [
                    "buildah",
                    "--root",
                    self.root,
                    "--runroot",
                    self.runroot,
                    "--storage-driver",
                    "overlay",
                    *args,
                ],
            )
        )

    def run(self, *args: str | Path, **kw: Any) -> str:
        done = subprocess.run(self.cmd(*args), text=True, capture_output=True, check=False, **kw)
        if done.returncode != 0:
            raise RuntimeError(f"buildah {' '.join(map(str, args))}: {(done.stdout + done.stderr)[-3000:]}")
        return str(done.stdout).strip()

    def image(self, name: str) -> dict[str, Any] | None:
        """The image's OCI configuration (``config``, ``created``, …), or None when there is no such image."""
        done = subprocess.run(
            self.cmd("inspect", "--type", "image", name), text=True, capture_output=True, check=False
        )
        if done.returncode != 0:
            return None
        config: dict[str, Any] = json.loads(done.stdout)["OCIv1"]
        return config

    @property
    def lock_path(self) -> Path:
        """Builds hold it exclusively, running containers shared."""
        return self.root.parent / "lock"

    def size(self, name: str) -> str:
        found = json.loads(self.run("images", "--json", name) or "[]")
        return str(found[0]["size"]) if found else "?"


@dataclass
class Report:
    """What a build did and how long each part took."""

    rows: list[tuple[str, float, str]] = field(default_factory=list)

    @contextlib.contextmanager
    def step(self, what: str) -> Iterator[list[str]]:
        """Time ``what``; the caller may append a note (e.g. ``cached``) to the yielded list."""
        note: list[str] = []
        start = time.monotonic()
        yield note
        self.rows.append((what, time.monotonic() - start, " ".join(note)))

    def table(self) -> str:
        lines = [f"{'step':<56} {'seconds':>8}  note"]
        lines += [f"{what:<56} {secs:8.1f}  {note}" for what, secs, note in self.rows]
        return "\n".join(lines)


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def python_version() -> str:
    """The operator Dockerfile's ``PYTHON_VERSION``; its build stages must start from ``python:<it>-slim``."""
    text = OPERATOR_DOCKERFILE.read_text()
    match = re.search(r"^ARG PYTHON_VERSION=(\S+)$", text, re.M)
    if not match or "FROM python:${PYTHON_VERSION}-slim" not in text:
        raise RuntimeError(f"{OPERATOR_DOCKERFILE}: expected ARG PYTHON_VERSION and FROM python:${{…}}-slim")
    return match.group(1)


def python_base_name() -> str:
    return f"docker.io/library/python:{python_version()}-slim"


def torch_base_name(torch_version: str) -> str:
    return f"localhost/pro-images/python-torch:{python_version()}-{torch_version.replace('+', '-')}"


# ----------------------------------------------------------------------------------------------- tools
def ensure_tools() -> None:
    """apt-get install buildah and debootstrap where missing."""
    missing = [tool for tool in ("buildah", "debootstrap") if not shutil.which(tool)]
    if missing:
        log(f"installing {' '.join(missing)} with apt-get")
        _sh(["apt-get", "-q", "-o", "DPkg::Lock::Timeout=600", "update"])
        _sh(["apt-get", "install", "-y", "-q", *missing],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip


def apt_mirror() -> str:
    """``PRO_IMAGES_APT_MIRROR``, else the first Debian archive this machine's apt uses."""
    if os.environ.get("PRO_IMAGES_APT_MIRROR"):
        return os.environ["PRO_IMAGES_APT_MIRROR"]
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.lower().startswith("uris:"):
                for uri in line.split()[1:]:
                    if not uri.rstrip("/").endswith("-security"):
                        return uri
    return "http://deb.debian.org/debian"


def extra_cas() -> list[Path]:
    """This machine's own CA certificates (e.g. an egress proxy's): the base trusts them as the host does."""
    return sorted(Path("/usr/local/share/ca-certificates").glob("**/*.crt"))


# ----------------------------------------------------------------------------------------------- wheelhouse
def lock_requirements() -> list[str]:
    """The lock without torch (the bases bring their own) and the project, plus the build requirements."""
    lines = (REPO / "requirements" / "lock.txt").read_text().splitlines()
    keep = [
        ln for ln in lines if ln and not ln.startswith("#") and not re.match(r"(torch|pro-pipeline)==", ln)
    ]
    return keep + list(BUILD_REQUIREMENTS)


def wheelhouse(cache: Path, report: Report) -> Path:
    """``<cache>/pip``: ``pip.conf`` (no index, the wheels), ``constraints.txt`` and ``wheels/`` with a
    wheel of every locked requirement, made once per lock by this machine's pip."""
    pip_dir = cache / "pip"
    wheels = pip_dir / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    reqs = lock_requirements()
    (pip_dir / "pip.conf").write_text(f"[global]\nno-index = true\nfind-links = {PIP_DIR}/wheels\n")
    (pip_dir / "constraints.txt").write_text("\n".join(r for r in reqs if "==" in r) + "\n")
    stamp = wheels / f".complete-{_digest(reqs)}"
    with report.step("wheelhouse (pip wheel, lock)") as note:
        if stamp.exists():
            note.append("cached")
        else:
            (pip_dir / "requirements.txt").write_text("\n".join(reqs) + "\n")
            _sh([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, "-f", wheels,
                 "-r", pip_dir / "requirements.txt"])  # fmt: skip
            for old in wheels.glob(".complete-*"):
                old.unlink()
            stamp.touch()
        note.append(f"{len(list(wheels.glob('*.whl')))} wheels")
    return pip_dir


# ----------------------------------------------------------------------------------------------- bases
BASE_CONTRACT = """
import os, shutil, ssl, subprocess, sys, sysconfig
v = ".".join(map(str, sys.version_info[:2]))
assert v == os.environ["WANT"], f"python {v}, the Dockerfile wants {os.environ['WANT']}"
assert sys.prefix == "/usr/local", sys.prefix
assert shutil.which("python") == "/usr/local/bin/python" and shutil.which("pip") == "/usr/local/bin/pip"
paths = sysconfig.get_paths(vars={"base": "/install", "platbase": "/install"})
assert paths["purelib"] == f"/install/lib/python{v}/site-packages" and paths["scripts"] == "/install/bin", paths
assert f"/usr/local/lib/python{v}/site-packages" in sys.path, sys.path
assert os.path.getsize(ssl.get_default_verify_paths().openssl_cafile) > 0
# what the operator Dockerfile does: pip install --prefix=/install (not refused), copied to /usr/local
subprocess.run(["pip", "install", "-q", "--prefix=/tmp/install", "--no-deps", "tqdm"], check=True)
shutil.copytree("/tmp/install", "/usr/local", dirs_exist_ok=True)
subprocess.run(["tqdm", "--version"], check=True, capture_output=True)
subprocess.run(["python", "-c", "import tqdm"], check=True, cwd="/")
print("base ok: python", sys.version.split()[0])
"""


def _make_rootfs(tar: Path, suite: str, report: Report) -> None:
    """debootstrap ``suite`` (minbase), its python3 a venv at /usr/local, this machine's CAs; tarred."""
    with (
        report.step(f"debootstrap {suite} (minbase)") as note,
        tempfile.TemporaryDirectory(dir=tar.parent, prefix="rootfs-") as tmp,
    ):
        rootfs = Path(tmp) / "rootfs"
        note.append(apt_mirror())
        _sh(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", suite, rootfs,
             apt_mirror()])  # fmt: skip
        for ca in extra_cas():
            shutil.copy(ca, rootfs / "usr/local/share/ca-certificates" / ca.name)
        _sh(["chroot", rootfs, "update-ca-certificates"])
        # the official image's Python lives in /usr/local; a venv there has the same prefix, site-packages
        # and --prefix layout, and pip ignores Debian's EXTERNALLY-MANAGED marker inside a venv
        _sh(["chroot", rootfs, "/usr/bin/python3", "-m", "venv", "/usr/local"])
        for script in (rootfs / "usr/local/bin").glob("[Aa]ctivate*"):
            script.unlink()
        (rootfs / PIP_DIR.lstrip("/")).mkdir(parents=True)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / junk).glob("*"):
                if path.is_file():
                    path.unlink()
        (rootfs / "etc/resolv.conf").write_text("")  # buildah mounts its own; never the host's
        _sh(["tar", "--numeric-owner", "-C", rootfs, "-cf", f"{tar}.part", "."])
        os.replace(f"{tar}.part", tar)


def python_base(store: Store, cache: Path, pip_dir: Path, report: Report) -> str:
    """The substitute ``python:<v>-slim`` (cached while its recipe is unchanged)."""
    name, version = python_base_name(), python_version()
    if version not in SUITES:
        raise RuntimeError(f"no Debian suite known with python {version} (known: {', '.join(SUITES)})")
    key = _digest(
        RECIPE, SUITES[version], BASE_PACKAGES, BASE_ENV, [ca.read_bytes().hex() for ca in extra_cas()]
    )
    with report.step(f"base {name}") as note:
        found = store.image(name)
        if found and found["config"].get("Labels", {}).get(KEY_LABEL) == key:
            note.append("cached")
            return name
        tar = cache / f"rootfs-{SUITES[version]}-{key}.tar"
        if not tar.exists():
            _make_rootfs(tar, SUITES[version], report)
            note.append("incl. debootstrap")
        else:
            note.append("rootfs cached")
        ctr = store.run("from", "scratch")
        try:
            store.run("add", ctr, tar, "/")
            store.run("config", *[f"--env={k}={v}" for k, v in BASE_ENV.items()], "--cmd", "python3",
                      f"--label={KEY_LABEL}={key}", ctr)  # fmt: skip
            store.run("commit", "-q", ctr, name)
        finally:
            subprocess.run(store.cmd("rm", ctr), capture_output=True, check=False)
        try:
            _check_base(store, name, version, pip_dir)
        except RuntimeError:
            subprocess.run(store.cmd("rmi", name), capture_output=True, check=False)  # never cached as good
            raise
        for old in cache.glob(f"rootfs-{SUITES[version]}-*.tar"):
            if old != tar:
                old.unlink()
        note.append(store.size(name))
        return name


def _check_base(store: Store, name: str, version: str, pip_dir: Path) -> None:
    """Fail unless the base behaves like the official one where the Dockerfiles rely on it."""
    ctr = store.run("from", "--pull=never", name)
    try:
        out = store.run("run", "--isolation", "chroot", "-v", f"{pip_dir}:{PIP_DIR}:ro", "-e", f"WANT={version}",
                        ctr, "--", "python", "-c", BASE_CONTRACT)  # fmt: skip
        log(out.splitlines()[-1])
    finally:
        subprocess.run(store.cmd("rm", ctr), capture_output=True, check=False)


def torch_wheel() -> Path:
    """This machine's wheel of the torch installed here (``pip config list``'s find-links, ``PIP_FIND_LINKS``)."""
    version = importlib.metadata.version("torch")
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], text=True, capture_output=True, check=False
    ).stdout
    dirs = [
        v
        for line in listed.splitlines()
        if ".find-links=" in line
        for v in line.split("=", 1)[1].strip("'").split()
    ]
    dirs += os.environ.get("PIP_FIND_LINKS", "").split()
    tag = "cp" + python_version().replace(".", "")
    for folder in dict.fromkeys(dirs):
        for wheel in sorted(Path(folder.removeprefix("file://")).glob(f"torch-{version}-{tag}-*.whl")):
            return wheel
    raise RuntimeError(f"no torch-{version} {tag} wheel in pip's find-links ({', '.join(dirs) or 'none'})")


def torch_base(store: Store, python: str, pip_dir: Path, report: Report) -> str:
    """``python`` with this machine's CPU torch wheel (and its locked dependencies) installed."""
    wheel = torch_wheel()
    version = wheel.name.split("-")[1]
    name = torch_base_name(version)
    base_key = (store.image(python) or {}).get("config", {}).get("Labels", {}).get(KEY_LABEL)
    key = _digest(
        RECIPE, base_key, wheel.name, wheel.stat().st_size, (pip_dir / "constraints.txt").read_text()
    )
    with report.step(f"base {name}") as note:
        found = store.image(name)
        if found and found["config"].get("Labels", {}).get(KEY_LABEL) == key:
            note.append("cached")
            return name
        ctr = store.run("from", "--pull=never", python)
        try:
            # /mnt: an empty directory in the base, so the mount leaves nothing behind
            store.run("run", "--isolation", "chroot", "-v", f"{wheel.parent}:/mnt:ro", "-v", f"{pip_dir}:{PIP_DIR}:ro",
                      ctr, "--", "pip", "install", "-q", "--no-cache-dir", "--disable-pip-version-check",
                      "-c", f"{PIP_DIR}/constraints.txt", f"/mnt/{wheel.name}")  # fmt: skip
            got = store.run("run", "--isolation", "chroot", ctr, "--", "python", "-c",
                            "import torch; print(torch.__version__)")  # fmt: skip
            if got != version:
                raise RuntimeError(f"{name}: torch {got} installed, wanted {version}")
            store.run("config", f"--label={KEY_LABEL}={key}", ctr)
            store.run("commit", "-q", ctr, name)
        finally:
            subprocess.run(store.cmd("rm", ctr), capture_output=True, check=False)
        note.append(store.size(name))
        return name


# ----------------------------------------------------------------------------------------------- images
def build_image(
    store: Store,
    dockerfile: Path,
    tag: str,
    pip_dir: Path,
    report: Report,
    *,
    build_args: Mapping[str, str] | None = None,
) -> None:
    """``buildah bud`` of the unchanged Dockerfile (its ``.dockerignore`` as BuildKit reads it)."""
    with report.step(f"image {tag}") as note:
        argv: list[str | Path] = ["bud", "--pull=never", "--isolation", "chroot", "--layers=false",
                "--ignorefile", f"{dockerfile}.dockerignore", "-v", f"{pip_dir}:{PIP_DIR}:ro",
                *[f"--build-arg={k}={v}" for k, v in (build_args or {}).items()], "-f", dockerfile, "-t", tag, REPO]  # fmt: skip
        logfile = cache_dir() / f"build-{dockerfile.parent.name}.log"
        with logfile.open("w") as out:
            done = subprocess.run(store.cmd(*argv), stdout=out, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"building {tag} failed; the end of {logfile}:\n{logfile.read_text()[-4000:]}")
        note.append(store.size(tag))


def build(*, trainer: bool = True) -> Report:
    """Build the operator image (and the trainer image) with every base they need."""
    require_root()
    ensure_tools()
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    store = Store.default()
    report = Report()
    with store.lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build per machine at a time, and no check running
        remove_leftovers(store)
        pip_dir = wheelhouse(cache, report)
        python = python_base(store, cache, pip_dir, report)
        build_image(store, OPERATOR_DOCKERFILE, OPERATOR_IMAGE, pip_dir, report)
        if trainer:
            base = torch_base(store, python, pip_dir, report)
            build_image(
                store, TRAINER_DOCKERFILE, TRAINER_IMAGE, pip_dir, report, build_args={"BASE_IMAGE": base}
            )
        with report.step("prune the replaced builds"):
            subprocess.run(store.cmd("rmi", "--prune"), capture_output=True, check=False)
    return report


# ----------------------------------------------------------------------------------------------- running
CONTAINER_PREFIX = "pro-check-"


def remove_leftovers(store: Store) -> None:
    """Remove the containers of checks killed before they cleaned up (the caller holds the lock exclusively,
    so none is running); they would keep replaced images, and their mounts, forever."""
    names = store.run("containers", "--format", "{{.ContainerName}}").split()
    for name in (n for n in names if n.startswith(CONTAINER_PREFIX)):
        log(f"removing {name}, left by a check that did not finish")
        root = Path(store.run("mount", name))
        subprocess.run(["umount", root / "run"], capture_output=True, check=False)
        subprocess.run(store.cmd("rm", name), capture_output=True, check=False)


@dataclass(frozen=True)
class Mount:
    """A host path bind-mounted into the container (created there as an empty mount point)."""

    host: Path
    target: str
    read_only: bool = True


class Container:
    """A working container of ``image`` prepared like a pod's: the root filesystem read-only (the chart's and
    the jobs' ``readOnlyRootFilesystem``), ``mounts`` the only writable or added paths, ``unset_env`` removed
    from the image's environment.  :meth:`argv` is the command line that runs a command in it.

    buildah has no read-only option: the container's overlay is remounted read-only, with two exceptions
    buildah needs: ``/etc/hosts`` exists (buildah mounts its own over it) and ``/run`` is an empty root-owned
    directory of the host (buildah creates and removes its ``/run/.containerenv`` marker there).
    """

    def __init__(
        self, store: Store, image: str, mounts: Sequence[Mount] = (), *, unset_env: Sequence[str] = ()
    ) -> None:
        self.store, self.image, self.mounts, self.unset_env = store, image, tuple(mounts), tuple(unset_env)
        self.name = f"{CONTAINER_PREFIX}{uuid.uuid4().hex[:10]}"
        self.root: Path | None = None
        self._run_dir: Path | None = None
        self._lock: Any = None

    def config(self) -> dict[str, Any]:
        """The image's OCI configuration (``Entrypoint``, ``Cmd``, ``User``, ``Env``, …)."""
        found = self.store.image(self.image)
        if found is None:
            raise RuntimeError(f"no image {self.image}: run `make images`")
        config: dict[str, Any] = found["config"]
        return config

    def __enter__(self) -> Container:
        require_root()
        self.store.lock_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = self.store.lock_path.open("w")
        fcntl.flock(self._lock, fcntl.LOCK_SH)  # no build replaces what runs
        try:
            self.store.run("from", "--pull=never", "--name", self.name, self.image)
            self.root = root = Path(self.store.run("mount", self.name))
            for m in self.mounts:
                inside = root / m.target.lstrip("/")
                if m.host.is_dir():
                    inside.mkdir(parents=True, exist_ok=True)
                else:
                    inside.parent.mkdir(parents=True, exist_ok=True)
                    inside.touch()
            (root / "etc" / "hosts").touch()
            if self.unset_env:
                self.store.run("config", *[f"--env={name}-" for name in self.unset_env], self.name)
            _sh(["mount", "-o", "remount,ro", root])
            self._run_dir = Path(tempfile.mkdtemp(prefix="pro-check-run-"))
            _sh(["mount", "--bind", self._run_dir, root / "run"])
            probe = subprocess.run(
                self.argv(["touch", "/.pro-check"], user="0:0"), text=True, capture_output=True, check=False
            )
            if "Read-only file system" not in probe.stderr:
                raise RuntimeError(
                    f"{self.image}: the root filesystem is writable after the remount: {probe}"
                )
        except BaseException:
            self.__exit__()
            raise
        return self

    def argv(
        self,
        command: Sequence[str],
        *,
        user: str,
        env: Mapping[str, str] | None = None,
        hostname: str | None = None,
    ) -> list[str]:
        """``buildah run`` of ``command`` as ``user`` (``UID:GID``) with ``env`` added, on the host network."""
        out = ["run", "--isolation", "chroot", "--user", user]
        if hostname:
            out += ["--hostname", hostname]
        for m in self.mounts:
            out += ["-v", f"{m.host}:{m.target}:{'ro' if m.read_only else 'rw'}"]
        for key, value in (env or {}).items():
            out += ["-e", f"{key}={value}"]
        return self.store.cmd(*out, self.name, "--", *command)

    def __exit__(self, *exc: object) -> None:
        if self.root is not None and self._run_dir is not None:
            subprocess.run(["umount", self.root / "run"], capture_output=True, check=False)
        subprocess.run(self.store.cmd("rm", self.name), capture_output=True, check=False)
        if self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)
        if self._lock is not None:
            self._lock.close()


# ----------------------------------------------------------------------------------------------- CLI
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pro.testing.images", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="build the operator and trainer images (bases cached)")
    p.add_argument("--no-trainer", action="store_true", help="only the operator image")
    args = parser.parse_args(argv)
    if args.command == "build":
        start = time.monotonic()
        try:
            report = build(trainer=not args.no_trainer)
        except RuntimeError as err:
            print(f"pro-images: error: {err}", file=sys.stderr)
            return 1
        print(report.table())
        print(f"{'total':<56} {time.monotonic() - start:8.1f}  storage {Store.default().root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
