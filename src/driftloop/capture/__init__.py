"""Data capture in SageMaker's format: the writer, the window reader and ground-truth labels."""
