"""Running the loaded model: the vision-encoder backends (``vision_runtime``: ONNX Runtime or torch), the
cached ONNX export (``onnx_export``) and the parity probes of library versions (``fidelity``). Imports
``modeling`` and ``loading``, never ``tools``."""
