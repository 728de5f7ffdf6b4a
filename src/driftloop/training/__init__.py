"""Candidate pipelines, evaluation, plots and MLflow-tracked training runs."""
