"""Pipelines of cached steps, their run store and lineage; the training pipeline."""
