"""Data sources, time splits, fitting, evaluation at inspection rates, MLflow tracking and registry."""
