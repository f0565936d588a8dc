"""Training: datasets from the feature marts, estimators, evaluation, ONNX export, registry writer.

Arranged by concept: ``models/`` (the estimators), ``evaluation/`` (metrics, the registry on the
test cutoff, importance), ``export/`` (ONNX, parity, the registry writer). ``pipeline.train_models``
is the whole run; ``docs/TRAINING.md`` describes it and ``docs/ARCHITECTURE.md`` the layout.
"""
