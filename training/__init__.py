"""Training: datasets from the feature marts, estimators, evaluation, ONNX export, registry writer.

``training.pipeline.train_models`` is the whole run; ``docs/TRAINING.md`` describes it.
"""
