"""From a checkpoint folder to a loaded :class:`~.pretrained.SpexModel`: device and precision choice
(``device``), safetensors headers and tensors (``safetensors_header``, ``tensors``), integrity and memory
checks (``integrity``), LoRA merge (``lora``), GPU placement (``placement``), int8 (``quantize``), the
loaders (``checkpoint``) and ``SpexModel.from_pretrained`` (``pretrained``). Imports ``modeling`` only."""
