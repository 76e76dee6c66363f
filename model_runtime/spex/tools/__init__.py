"""Command-line tools over the model package: ``spex doctor`` (``doctor``) and ``spex export-onnx``
(``cli_commands``)."""
