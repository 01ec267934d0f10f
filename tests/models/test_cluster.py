"""`--dask` addresses: local clusters never oversubscribe the cores; scheduler addresses pass."""

from __future__ import annotations

import pytest

from models.cluster import LocalShape, local_shape


@pytest.mark.parametrize(
    ("address", "cores", "expected"),
    [
        ("local", 2, LocalShape(workers=2, threads=1)),
        ("local:1", 2, LocalShape(workers=1, threads=2)),
        ("local:2", 2, LocalShape(workers=2, threads=1)),
        ("local:3", 8, LocalShape(workers=3, threads=2)),
        ("tcp://scheduler:8786", 2, None),
        ("localhost:8786", 2, None),
    ],
)
def test_local_workers_times_threads_fit_the_cores(
    address: str, cores: int, expected: LocalShape | None
) -> None:
    shape = local_shape(address, cores)
    assert shape == expected
    if shape is not None:
        assert shape.workers * shape.threads <= cores


@pytest.mark.parametrize("address", ["local:0", "local:3", "local:two"])
def test_impossible_local_clusters_are_refused(address: str) -> None:
    with pytest.raises(ValueError, match="local"):
        local_shape(address, 2)
