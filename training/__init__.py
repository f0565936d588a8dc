"""Training: datasets from the feature marts, estimators, evaluation, ONNX export, registry.

Built in issue #4; the package exists now so that the distribution and its imports are stable.
"""
