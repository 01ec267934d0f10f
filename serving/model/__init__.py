"""The served model: loading and atomic reload, GET /v1/model and reload, drift monitoring."""
