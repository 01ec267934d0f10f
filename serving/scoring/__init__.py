"""Scoring declarations: POST /v1/scores, its schemas, the scoring queue and batch files."""
