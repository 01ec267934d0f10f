"""Curated goods-description word lists, one YAML file per language (see features.curated_words)."""
