"""The consultation log: the hash chain, its records in the store, GET /v1/audit, its commands."""
