"""The SPEX architecture: InternImage vision encoder, Qwen2.5 LLM, token condensation and SAM mask decoder.

One module per part; module attributes are named as the checkpoint keys. Nothing here reads files or
imports ``loading``/``runtime``/``tools``. ``config`` and ``preprocess`` import no torch at import time.
"""
