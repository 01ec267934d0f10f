"""Where training and batch scoring run on Dask, and how a verified bundle reaches the workers.

``--dask ADDRESS`` (or ``SHIPRISK_DASK_SCHEDULER``) names a scheduler: ``tcp://host:8786``
(any running Dask scheduler: dask-kubernetes, dask-jobqueue, ``dask scheduler``) or
``local[:N]``, which starts a ``LocalCluster`` of N worker processes here, with threads per
worker chosen so that workers x threads never exceeds the cores this process may use.

A bundle goes to each worker once, as the bytes its manifest hashed (`BundleOnWorkers`, a
Dask worker plugin): the worker writes them into its own directory, checks the manifest
against the pin (its sha256) and loads the bundle with `ModelBundle.load`, which verifies
every file before it parses one. Tasks find the loaded bundle by that pin
(`worker_bundle`), so no booster is pickled per task and a worker never scores with a
bundle it has not verified. Shared by training/ and serving/, which never import each other.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from distributed import Client, LocalCluster, WorkerPlugin

from models.bundle import ModelBundle, required_files
from models.cores import available_cores
from models.manifest import MANIFEST_FILE, BundleIntegrityError, read_verified

LOCAL = "local"
# Bundles loaded in this worker process, by the sha256 of their manifest.
_LOADED: dict[str, ModelBundle] = {}


@dataclass(frozen=True)
class LocalShape:
    """Workers and threads per worker of a local cluster."""

    workers: int
    threads: int


def local_shape(address: str, cores: int) -> LocalShape | None:
    """The shape of a ``local`` or ``local:N`` address, or None for a scheduler address.

    ``local`` is one worker per core, one thread each. Raises ValueError for a malformed
    ``local:`` or for more workers than cores (threads would then oversubscribe them).
    """
    if address != LOCAL and not address.startswith(f"{LOCAL}:"):
        return None
    count = address.removeprefix(LOCAL).removeprefix(":")
    if count and not count.isdigit():
        raise ValueError(f"--dask {address!r}: use local, local:N (N workers) or tcp://host:port")
    workers = int(count) if count else cores
    if not 1 <= workers <= cores:
        raise ValueError(
            f"--dask {address!r}: between 1 and {cores} local workers on this machine "
            f"({cores} cores); use a scheduler address for more"
        )
    return LocalShape(workers=workers, threads=max(1, cores // workers))


@contextmanager
def dask_client(address: str) -> Iterator[Client]:
    """A client of the scheduler at ``address``, or of a ``LocalCluster`` started for it."""
    shape = local_shape(address, available_cores())
    if shape is None:
        with Client(address) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=shape.workers,
            threads_per_worker=shape.threads,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def bundle_pin(files: dict[str, bytes]) -> str:
    """The sha256 of a bundle's manifest: the name its workers know it by."""
    return hashlib.sha256(files[MANIFEST_FILE]).hexdigest()


def verified_files(directory: Path) -> dict[str, bytes]:
    """Every file of a bundle, checked against its manifest, with the manifest itself."""
    _, files = read_verified(Path(directory), required_files)
    return {**files, MANIFEST_FILE: (Path(directory) / MANIFEST_FILE).read_bytes()}


class BundleOnWorkers(WorkerPlugin):
    """Writes a bundle's verified bytes on each worker and loads it there, once per worker."""

    def __init__(self, files: dict[str, bytes], pin: str) -> None:
        self.files = files
        self.pin = pin
        self.name = f"shiprisk-bundle-{pin[:16]}"
        self._directory: str | None = None

    def setup(self, worker: object) -> None:
        if bundle_pin(self.files) != self.pin:
            raise BundleIntegrityError(
                MANIFEST_FILE, [f"manifest sha256 differs from the pin {self.pin}"]
            )
        directory = Path(tempfile.mkdtemp(prefix="shiprisk-worker-bundle-"))
        for relative, data in self.files.items():
            target = (directory / relative).resolve()
            if not target.is_relative_to(directory.resolve()):
                raise BundleIntegrityError(directory, [f"{relative}: path leaves the bundle"])
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        _LOADED[self.pin] = ModelBundle.load(directory)  # verifies every file first
        self._directory = str(directory)

    def teardown(self, worker: object) -> None:
        _LOADED.pop(self.pin, None)
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)


def send_bundle(client: Client, directory: Path) -> str:
    """Install a bundle on every worker of ``client`` (and workers joining later); its pin."""
    files = verified_files(directory)
    pin = bundle_pin(files)
    client.register_plugin(BundleOnWorkers(files, pin))
    return pin


def worker_bundle(pin: str) -> ModelBundle:
    """The bundle this worker verified and loaded under ``pin`` (see `send_bundle`)."""
    try:
        return _LOADED[pin]
    except KeyError:
        raise BundleIntegrityError(pin, ["this worker has not loaded the bundle"]) from None
