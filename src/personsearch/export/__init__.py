"""Deployment exports: ONNX graphs of the models and an onnxruntime inference path.

This module stays light (the command line reads RUNTIMES); the exporter lives in
`personsearch.export.onnx_export`, the onnxruntime models in `personsearch.export.onnx_runtime`.
"""

PYTORCH = "pytorch"
ONNX = "onnx"
RUNTIMES = (PYTORCH, ONNX)
