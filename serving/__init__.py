"""The FastAPI service, operational store, worklists and batch scoring."""
