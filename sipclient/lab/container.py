"""The lab in a container: ``sipclient lab up --container`` (podman or docker).

The image is built from ``docker/Dockerfile`` (the same install script and templates as the
native lab) and tagged with a hash of everything the build reads: the Dockerfile and the
files its ``COPY`` lines name. A missing tag means a missing or stale image, so it is built
(the engine's layer cache makes a rebuild after a template change take seconds). Where no
registry answers for ``debian:12``, ``scripts/make-base-image.sh`` makes it first.

The container runs with host networking (the same ports as the native lab, and SDP
addresses that are right without NAT) and the run directory mounted at the same path: the
entry point renders ``<run dir>/etc`` from the ``lab.json`` the host wrote (so the config,
accounts and password seed are the host's), Asterisk writes its logs and control socket
there, and everything :class:`~sipclient.lab.runner.Lab` reads from a run directory works
the same. One container per run directory (its name is derived from the path), so test
workers and parallel sessions each get their own. ``down`` stops it, keeps its console
output in ``log/console.log``, removes it, and checks that none of its ports still listen.

Standard library only, like the rest of :mod:`sipclient.lab`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

from sipclient.lab.config import _REPO_ROOT, LabConfig
from sipclient.lab.errors import LabError

#: the image's repository; the tag is the build hash (:func:`image_hash`)
IMAGE_REPO = "localhost/sipclient-lab"
#: labels on the image and on each container
LABEL = "org.sipclient.lab"
DOCKERFILE = Path("docker") / "Dockerfile"
BASE_IMAGE = "docker.io/library/debian:12"
#: seconds a build may take (a cold build is about 3 min on 2 cores)
BUILD_TIMEOUT = 1800.0
_SKIP = ("__pycache__", ".pyc")

Say = Callable[[str], None]


# --- the engine --------------------------------------------------------------------------------

_working: dict[str, str | None] = {}


def _engine_works(path: str) -> str | None:
    """None when ``path info`` answers, else its complaint (docker without a daemon)."""
    if path not in _working:
        try:
            done = subprocess.run([path, "info"], capture_output=True, text=True, timeout=30)
            _working[path] = None if done.returncode == 0 else \
                (done.stderr.strip().splitlines() or ["no answer"])[-1]
        except (OSError, subprocess.TimeoutExpired) as exc:
            _working[path] = str(exc)
    return _working[path]


def find_engine(preferred: str = "") -> str:
    """The path of a working engine: ``preferred``, else podman, else docker."""
    names = (preferred,) if preferred else ("podman", "docker")
    why = []
    for name in names:
        path = shutil.which(name)
        if not path:
            why.append(f"{name} not found")
            continue
        problem = _engine_works(path)
        if problem is None:
            return path
        why.append(f"`{name} info` failed: {problem}")
    raise LabError("no working container engine (" + "; ".join(why) + "): run "
                   "`make container-deps` (installs and configures podman)")


def _is_podman(engine: str) -> bool:
    return os.path.basename(engine).startswith("podman")


# --- the image ---------------------------------------------------------------------------------

def build_inputs(root: Path = _REPO_ROOT) -> list[Path]:
    """The Dockerfile and every file its ``COPY`` lines bring in (directories walked)."""
    dockerfile = root / DOCKERFILE
    try:
        physical = dockerfile.read_text().splitlines()
    except OSError as exc:
        raise LabError(f"cannot read {dockerfile}: {exc}") from None
    lines: list[tuple[int, str]] = []  # (first line number, the instruction, joined)
    pending: tuple[int, str] | None = None
    for number, text in enumerate(physical, 1):
        start, joined = pending if pending else (number, "")
        joined += " " + text.rstrip().rstrip("\\")
        pending = (start, joined) if text.rstrip().endswith("\\") else None
        if pending is None:
            lines.append((start, joined))
    files = [dockerfile]
    for number, line in lines:
        words = line.split()
        if not words or words[0].upper() != "COPY":
            continue
        sources = [w for w in words[1:-1] if not w.startswith("--")]
        for source in sources:
            path = root / source
            if path.is_file():
                files.append(path)
            elif path.is_dir():
                files.extend(p for p in sorted(path.rglob("*"))
                             if p.is_file() and not any(s in str(p) for s in _SKIP))
            else:
                raise LabError(f"{dockerfile}:{number}: COPY source {source} not found")
    return files


def image_hash(root: Path = _REPO_ROOT) -> str:
    """sha256 over the build inputs' paths and contents (first 16 hex digits)."""
    digest = hashlib.sha256()
    for path in build_inputs(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def image_ref(root: Path = _REPO_ROOT) -> str:
    return f"{IMAGE_REPO}:{image_hash(root)}"


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """One image build at a time for this user (test workers, parallel sessions)."""
    path = Path(tempfile.gettempdir()) / f"sipclient-lab-image-{os.getuid()}.lock"
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the handle is closed
        yield


def ensure_image(engine: str, root: Path = _REPO_ROOT, say: Say = lambda _t: None,
                 log: Path | None = None) -> tuple[str, float | None]:
    """The current image's reference, built first when missing or stale; and the seconds
    the build took (None: it was there). One build at a time per user (a file lock)."""
    ref = image_ref(root)
    if _image_exists(engine, ref):
        return ref, None
    with _build_lock():
        if _image_exists(engine, ref):  # another process built it while we waited
            return ref, None
        began = time.monotonic()
        _ensure_base(engine, root, say)
        say(f"building the lab image {ref} from {DOCKERFILE} (cached layers are reused; a "
            "cold build takes a few minutes) ...")
        cmd = [engine, "build", "-f", str(root / DOCKERFILE), "-t", ref,
               "--label", f"{LABEL}=1", "--label", f"{LABEL}.hash={ref.rsplit(':', 1)[1]}"]
        if _is_podman(engine):
            cmd[2:2] = ["--format", "docker"]  # keeps HEALTHCHECK (OCI images drop it)
        _run_logged(cmd + [str(root)], log, "building the lab image")
        subprocess.run([engine, "tag", ref, f"{IMAGE_REPO}:latest"], capture_output=True,
                       timeout=60)  # what docker/compose.yaml runs
        _remove_old_images(engine, ref)
        return ref, time.monotonic() - began


def _image_exists(engine: str, ref: str) -> bool:
    return subprocess.run([engine, "image", "inspect", ref], capture_output=True,
                          timeout=60).returncode == 0


def _ensure_base(engine: str, root: Path, say: Say) -> None:
    if _image_exists(engine, BASE_IMAGE):
        return
    say(f"{BASE_IMAGE} missing: pulling it, or making it with debootstrap "
        "(scripts/make-base-image.sh) ...")
    script = root / "scripts" / "make-base-image.sh"
    _run_logged(["bash", str(script), engine], None, f"making {BASE_IMAGE}")


def _run_logged(cmd: list[str], log: Path | None, what: str) -> None:
    with tempfile.TemporaryFile("w+") as out:
        try:
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT, text=True)
            status: object = done.returncode
        except subprocess.TimeoutExpired:
            status = f"timeout after {BUILD_TIMEOUT:.0f} s"
        out.seek(0)
        text = out.read()
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"$ {shlex.join(cmd)}\n{text}")
    if status != 0:
        tail = "\n".join(text.rstrip().splitlines()[-15:])
        where = f" (full output: {log})" if log is not None else ""
        raise LabError(f"{what} failed ({status}){where}:\n{tail}")


def _remove_old_images(engine: str, keep: str) -> None:
    """Other builds of the lab image (older hashes); those still in use stay."""
    done = subprocess.run([engine, "images", "--filter", f"label={LABEL}=1", "--format",
                           "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True,
                          timeout=60)
    for ref in done.stdout.split():
        if ref not in (keep, f"{IMAGE_REPO}:latest") and ref.startswith(IMAGE_REPO + ":"):
            subprocess.run([engine, "rmi", ref], capture_output=True, timeout=60)


# --- one lab's container -----------------------------------------------------------------------

def container_name(run_dir: Path) -> str:
    """``sipclient-lab-<hash of the run directory>``: one container per run directory."""
    return "sipclient-lab-" + hashlib.sha256(str(run_dir).encode()).hexdigest()[:12]


class Container:
    """The container of one lab (its :class:`LabConfig`): start, inspect, stop."""

    def __init__(self, config: LabConfig) -> None:
        self.config = config
        self.name = container_name(config.run_dir)
        self._engine: str | None = None
        #: seconds the last :meth:`start` spent building the image (None: not built)
        self.build_seconds: float | None = None

    @property
    def engine(self) -> str:
        if self._engine is None:
            self._engine = find_engine(self.config.engine)
        return self._engine

    def _cmd(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([self.engine, *args], capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LabError(f"`{os.path.basename(self.engine)} {args[0]}` took over "
                           f"{timeout:.0f} s") from None

    # --- inspection ---------------------------------------------------------------------------

    def inspect(self) -> dict[str, object] | None:
        """The engine's ``State`` of the container (Status, Running, Pid, ExitCode...), or
        None when there is no such container."""
        done = self._cmd("container", "inspect", "--format", "{{json .State}}", self.name)
        if done.returncode != 0:
            return None
        try:
            state = json.loads(done.stdout)
        except ValueError:
            return None
        return state if isinstance(state, dict) else None

    def pid(self) -> int | None:
        """The host pid of its Asterisk (PID 1 inside) while it runs."""
        state = self.inspect()
        if not state or not state.get("Running"):
            return None
        pid = state.get("Pid")
        return pid if isinstance(pid, int) and pid > 0 else None

    def died(self) -> str | None:
        """None while it runs (or is being created); else what happened to it, in words."""
        state = self.inspect()
        if state is None:
            return f"container {self.name} is gone"
        if state.get("Running") or state.get("Status") in ("created", "configured"):
            return None
        code = state.get("ExitCode")
        how = f" (killed by signal {code - 128})" if isinstance(code, int) and code > 128 else ""
        return f"container {self.name} exited with status {code}{how}"

    def exit_watcher(self) -> subprocess.Popen:
        """``<engine> wait``: its stdout becomes readable when the container has ended (an
        event to wait on, with a select, instead of asking ``inspect`` again and again)."""
        return subprocess.Popen([self.engine, "wait", self.name], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def logs(self) -> str | None:
        """Its console output (stdout and stderr), or None when there is no container."""
        done = self._cmd("logs", self.name)
        if done.returncode != 0:
            return None
        return done.stdout + done.stderr

    def cli(self, command: str, timeout: float) -> str | None:
        """``asterisk -rx``; None when Asterisk does not answer. The control socket is in
        the mounted run directory, so a host's own ``asterisk`` binary reaches it (about
        0.05 s); without one, ``<engine> exec`` runs it inside (about 0.5 s)."""
        from sipclient.lab.runner import AsteriskNotInstalled, find_asterisk

        rx = ["-C", str(self.config.asterisk_conf), "-rx", command]
        try:
            argv = [find_asterisk(), *rx]
        except AsteriskNotInstalled:
            argv = [self.engine, "exec", self.name, "asterisk", *rx]
        try:
            done = subprocess.run(argv, capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0 or done.stdout.startswith("Unable to connect to remote"):
            return None
        return done.stdout

    def healthcheck(self) -> bool:
        """The image's HEALTHCHECK, run now (``podman healthcheck run`` or docker's status)."""
        if _is_podman(self.engine):
            return self._cmd("healthcheck", "run", self.name, timeout=30).returncode == 0
        done = self._cmd("inspect", "--format", "{{.State.Health.Status}}", self.name)
        return done.stdout.strip() == "healthy"

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, state_file: Path, say: Say = lambda _t: None) -> None:
        """Build the image if needed, remove a leftover container of this run directory,
        and start a new one (detached) that renders from ``state_file``."""
        c = self.config
        log = c.run_dir / "log" / "image-build.log"
        ref, self.build_seconds = ensure_image(self.engine, say=say, log=log)
        self.remove()
        run_dir = str(c.run_dir)
        cmd = ["run", "--detach", "--name", self.name, "--network", "host",
               "--label", f"{LABEL}.run-dir={run_dir}",
               "--volume", f"{run_dir}:{run_dir}",
               "--env", f"SIPCLIENT_LAB_RUN_DIR={run_dir}",
               "--stop-timeout", "10"]
        if _is_podman(self.engine):
            cmd += ["--log-driver", "k8s-file"]
        cmd += [ref, "--state", str(state_file)]
        done = self._cmd(*cmd, timeout=120)
        if done.returncode != 0:
            raise LabError(f"the lab container did not start: {done.stderr.strip()}")

    def remove(self, timeout: float = 10.0) -> bool:
        """Stop (SIGTERM, then SIGKILL after ``timeout``) and remove the container, keeping
        its console output in ``log/console.log``. True when there was one."""
        if self.inspect() is None:
            return False
        self._cmd("stop", "--time", str(int(timeout)), self.name, timeout=timeout + 30)
        text = self.logs()
        if text is not None:
            log = self.config.run_dir / "log" / "console.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(text)
        done = self._cmd("rm", "--force", "--volumes", self.name, timeout=60)
        if done.returncode != 0 and self.inspect() is not None:
            raise LabError(f"could not remove container {self.name}: {done.stderr.strip()}")
        return True


def image_size(engine: str, ref: str) -> int | None:
    """The image's size in bytes, as the engine reports it."""
    done = subprocess.run([engine, "image", "inspect", "--format", "{{.Size}}", ref],
                          capture_output=True, text=True, timeout=60)
    return int(done.stdout) if done.returncode == 0 and done.stdout.strip().isdigit() else None


def _cli(argv: list[str] | None = None) -> int:
    """``python -m sipclient.lab.container build``: the image, built when missing or stale
    (``make lab-image``); prints its reference, the build time and its size."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m sipclient.lab.container",
                                     description="the lab's container image")
    parser.add_argument("action", choices=("build",))
    parser.add_argument("--engine", choices=("podman", "docker"))
    args = parser.parse_args(argv)
    try:
        engine = find_engine(args.engine or "")
        ref, seconds = ensure_image(engine, say=print,
                                    log=_REPO_ROOT / "reports" / "image-build.log")
    except LabError as exc:
        print(f"sipclient lab image: {exc}", file=sys.stderr)
        return 1
    size = image_size(engine, ref)
    done = f"built in {seconds:.0f} s" if seconds is not None else "up to date"
    print(f"lab image {ref}: {done}, {size / 1e6:.0f} MB" if size else f"{ref}: {done}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_cli())
