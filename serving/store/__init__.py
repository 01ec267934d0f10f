"""The operational store: scored declarations, worklists, inspection outcomes, drift reports."""

from serving.store.database import Store, default_database_url, upgrade_to_head

__all__ = ["Store", "default_database_url", "upgrade_to_head"]
