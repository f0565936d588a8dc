"""The estimators: the BG/NBD family, tree ensembles, MLP and ZILN, fusion, segments, calibration, search.

Every model is a ``candidates.Candidate``: fitted on training rows, calibrated on validation,
exported to one ONNX graph over the contract's ``features`` input.
"""
