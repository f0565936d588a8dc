"""From a fitted candidate to a registered version: ONNX graph tools, exact tree thresholds, parity, registry writer."""
