"""The parameters that ``spex:extract`` and ``spex:batch`` share: same keys, labels and defaults.

Each function returns a fresh parameter definition; the algorithm adds it (and marks it advanced where it
wants). Labels are translated in the ``SpexProcessingParameters`` context.
"""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QCoreApplication

ENGINES = ("spectral", "spex")

PROMPT = "PROMPT"
ENGINE = "ENGINE"
MODEL_DIR = "MODEL_DIR"
MIN_AREA = "MIN_AREA"


def tr(string):
    """Translate ``string`` in the ``SpexProcessingParameters`` context."""
    return QCoreApplication.translate("SpexProcessingParameters", string)


def prompt_parameter() -> QgsProcessingParameterString:
    """PROMPT: what to extract."""
    return QgsProcessingParameterString(PROMPT, tr("Prompt"), defaultValue=tr("extract the water bodies"))


def engine_parameter() -> QgsProcessingParameterEnum:
    """ENGINE: one of :data:`ENGINES`, the first by default."""
    return QgsProcessingParameterEnum(
        ENGINE,
        tr("Engine"),
        options=list(ENGINES),
        defaultValue=ENGINES[0],
        usesStaticStrings=True,
    )


def model_dir_parameter() -> QgsProcessingParameterFile:
    """MODEL_DIR: the SPEX model folder (optional)."""
    return QgsProcessingParameterFile(
        MODEL_DIR,
        tr("SPEX model folder (engine spex)"),
        behavior=QgsProcessingParameterFile.Folder,
        optional=True,
    )


def min_area_parameter() -> QgsProcessingParameterNumber:
    """MIN_AREA: the smallest polygon kept, in m²."""
    return QgsProcessingParameterNumber(
        MIN_AREA,
        tr("Minimum polygon area (m²)"),
        type=QgsProcessingParameterNumber.Double,
        minValue=0.0,
        defaultValue=0.0,
    )


def add_advanced(algorithm, params) -> None:
    """Add ``params`` to ``algorithm`` as advanced parameters, in order."""
    for param in params:
        param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        algorithm.addParameter(param)
