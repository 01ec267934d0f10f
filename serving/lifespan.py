"""The app's lifespan: load and verify the model, open the store, start the scoring queue."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from anyio import to_thread
from fastapi import FastAPI

from serving.base import ServiceState
from serving.model.heap import settle_heap
from serving.model.holder import ModelLoadError
from serving.store.database import Store, normalised_url

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load and verify the model before serving; start without one rather than not at all."""
    state: ServiceState = app.state.service
    # A failure is logged and counted by the holder; /readyz reports the reason.
    with suppress(ModelLoadError):
        await to_thread.run_sync(state.model_holder.load)
    await to_thread.run_sync(open_operational_store, state)
    state.scoring.store = state.store  # batches read entity history and the watchlist live
    state.scoring.start()
    settle_heap()  # the startup's objects stay out of the collections made while serving
    try:
        yield
    finally:
        await to_thread.run_sync(state.scoring.stop)
        state.scoring.store = None
        if state.performance is not None:
            await to_thread.run_sync(state.performance.stop)
        if state.store is not None:
            state.store.close()
            state.store = None


def open_operational_store(state: ServiceState) -> None:
    """Open and migrate the operational store; on failure keep why, for /readyz and 503s."""
    url = state.settings.resolved_database_url()
    shown = normalised_url(url).render_as_string(hide_password=True)
    try:
        state.store = Store.open(url)
        state.store_error = None
    except Exception as error:  # the service starts anyway: probes must be able to say why
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        state.store_error = f"could not open {shown}: {type(error).__name__}: {first_line}"
        log.error("operational store: %s", state.store_error)
