"""The parameters that ``spex:extract`` and ``spex:batch`` share: same keys, labels, choices and defaults, and
one way to turn them into runtime option values.

Each ``*_parameter`` function returns a fresh parameter definition; the algorithm adds it (and marks it
advanced where it wants). Choices and defaults come from :mod:`model_runtime.options`; the values are read
by :func:`option_values` and checked by :func:`model_runtime.request_builder.build_request`, as for the CLI
and the panel. Labels are translated in the ``SpexProcessingParameters`` context.
"""

from __future__ import annotations

from typing import Dict

from qgis.core import (
    Qgis,
    QgsMessageLog,
    QgsProcessingException,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QCoreApplication

from model_runtime.options import (
    DEFAULT_MIN_AREA_M2,
    DEFAULT_SIMPLIFY,
    DEVICES,
    ENGINES,
    LANGUAGES,
    PRECISIONS,
    SENSOR_AUTO,
    THRESHOLD_METHODS,
)

PROMPT = "PROMPT"
ENGINE = "ENGINE"
MODEL_DIR = "MODEL_DIR"
DEVICE = "DEVICE"
PRECISION = "PRECISION"
SENSOR = "SENSOR"
BANDS = "BANDS"
SCALING = "SCALING"
THRESHOLD = "THRESHOLD"
THRESHOLD_METHOD = "THRESHOLD_METHOD"
MIN_AREA = "MIN_AREA"
SIMPLIFY = "SIMPLIFY"
LANGUAGE = "LANGUAGE"
LANGUAGE_AUTO = "auto"

#: parameter key -> the runtime option it sets (see model_runtime.options)
OPTIONS = {
    PROMPT: "prompt",
    ENGINE: "engine",
    MODEL_DIR: "model_dir",
    DEVICE: "device",
    PRECISION: "precision",
    SENSOR: "sensor",
    BANDS: "bands",
    SCALING: "scaling",
    THRESHOLD: "threshold",
    THRESHOLD_METHOD: "threshold_method",
    MIN_AREA: "min_area_m2",
    SIMPLIFY: "simplify",
    LANGUAGE: "language",
}


def tr(string):
    """Translate ``string`` in the ``SpexProcessingParameters`` context."""
    return QCoreApplication.translate("SpexProcessingParameters", string)


def prompt_parameter() -> QgsProcessingParameterString:
    """PROMPT: what to extract."""
    return QgsProcessingParameterString(PROMPT, tr("Prompt"), defaultValue=tr("extract the water bodies"))


def engine_parameter() -> QgsProcessingParameterEnum:
    """ENGINE: one of the runtime's engines, the first by default."""
    return _choices(ENGINE, tr("Engine"), ENGINES)


def model_dir_parameter() -> QgsProcessingParameterFile:
    """MODEL_DIR: the SPEX model folder (optional; only this parameter counts, never the panel's folder)."""
    return QgsProcessingParameterFile(
        MODEL_DIR,
        tr("SPEX model folder (engine spex)"),
        behavior=QgsProcessingParameterFile.Folder,
        optional=True,
    )


def device_parameter() -> QgsProcessingParameterEnum:
    """DEVICE: where the spex engine runs."""
    return _choices(DEVICE, tr("Device (engine spex)"), DEVICES)


def precision_parameter() -> QgsProcessingParameterEnum:
    """PRECISION: the spex model's precision."""
    return _choices(
        PRECISION, tr("Model precision (engine spex; int8: faster on CPU, less exact)"), PRECISIONS
    )


def sensor_parameter() -> QgsProcessingParameterEnum:
    """SENSOR: a sensor preset, shown by its human name; scripts pass its index or its id (see
    :func:`sensor_ids`), "auto" (index 0) detects it."""
    return QgsProcessingParameterEnum(
        SENSOR, tr("Sensor"), options=[label for _id, label in _sensors()], defaultValue=0
    )


def bands_parameter() -> QgsProcessingParameterString:
    """BANDS: band roles, e.g. red=3,nir=4 (empty: detect)."""
    return QgsProcessingParameterString(
        BANDS, tr("Band mapping (e.g. red=3,nir=4)"), defaultValue="", optional=True
    )


def scaling_parameter() -> QgsProcessingParameterString:
    """SCALING: reflectance scaling name or GAIN,OFFSET (empty: detect)."""
    return QgsProcessingParameterString(
        SCALING, tr("Reflectance scaling (empty: detect)"), defaultValue="", optional=True
    )


def threshold_parameter() -> QgsProcessingParameterNumber:
    """THRESHOLD: the primary index threshold (empty: the class default)."""
    return QgsProcessingParameterNumber(
        THRESHOLD,
        tr("Index threshold (empty: class default)"),
        type=QgsProcessingParameterNumber.Double,
        defaultValue=None,
        optional=True,
    )


def threshold_method_parameter() -> QgsProcessingParameterEnum:
    """THRESHOLD_METHOD: fixed or otsu."""
    return _choices(
        THRESHOLD_METHOD, tr("Threshold method (otsu: from the scene's histogram)"), THRESHOLD_METHODS
    )


def min_area_parameter() -> QgsProcessingParameterNumber:
    """MIN_AREA: the smallest polygon kept, in m²."""
    return QgsProcessingParameterNumber(
        MIN_AREA,
        tr("Minimum polygon area (m²)"),
        type=QgsProcessingParameterNumber.Double,
        minValue=0.0,
        defaultValue=DEFAULT_MIN_AREA_M2,
    )


def simplify_parameter() -> QgsProcessingParameterNumber:
    """SIMPLIFY: Douglas-Peucker tolerance in map units (0: none)."""
    return QgsProcessingParameterNumber(
        SIMPLIFY,
        tr("Simplify tolerance (map units, 0: none)"),
        type=QgsProcessingParameterNumber.Double,
        minValue=0.0,
        defaultValue=DEFAULT_SIMPLIFY,
    )


def language_parameter() -> QgsProcessingParameterEnum:
    """LANGUAGE: the explanation's language (auto: the prompt's)."""
    return _choices(LANGUAGE, tr("Explanation language (auto: the prompt's)"), (LANGUAGE_AUTO,) + LANGUAGES)


def option_parameters():
    """The parameters every algorithm shares after PROMPT/ENGINE/MODEL_DIR, in dialog order."""
    return [
        precision_parameter(),
        sensor_parameter(),
        bands_parameter(),
        threshold_parameter(),
        threshold_method_parameter(),
        min_area_parameter(),
        simplify_parameter(),
        scaling_parameter(),
        language_parameter(),
    ]


def _choices(name: str, label: str, choices) -> QgsProcessingParameterEnum:
    return QgsProcessingParameterEnum(
        name, label, options=list(choices), defaultValue=choices[0], usesStaticStrings=True
    )


def _sensors():
    """(id, human label) of "auto" and every sensor preset, in the QGIS UI language."""
    # Called from initAlgorithm, i.e. from C++: an exception there aborts QGIS, so degrade instead.
    try:
        from model_runtime.io.bands import SENSOR_PRESETS
        from model_runtime.messages import localize

        from ..plugin import qgis_locale

        language = qgis_locale()
    except Exception as error:  # noqa: BLE001 - logged, the toolbox must still load
        QgsMessageLog.logMessage(f"SPEX: sensor presets unavailable ({error})", "SPEX", Qgis.Warning)
        return [(SENSOR_AUTO, tr("Detect from the raster"))]
    presets = sorted(SENSOR_PRESETS.items(), key=lambda item: item[0])
    return [(SENSOR_AUTO, tr("Detect from the raster"))] + [
        (name, f"{localize(preset.title, language)} ({name})") for name, preset in presets
    ]


def sensor_ids():
    """The sensor ids in SENSOR's option order: index ``i`` of the enum is preset ``sensor_ids()[i]``."""
    return [sensor_id for sensor_id, _label in _sensors()]


def add_advanced(algorithm, params) -> None:
    """Add ``params`` to ``algorithm`` as advanced parameters, in order."""
    for param in params:
        param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        algorithm.addParameter(param)


def _sensor_id(value):
    """The preset id a SENSOR text names ("sentinel2_l2a", an alias such as "sentinel2", "auto"); None when
    ``value`` is not such a text (an index, or an unknown name that QGIS then refuses)."""
    if not isinstance(value, str) or value.strip().isdigit():
        return None
    from model_runtime.errors import SpexInputError
    from model_runtime.io.bands import resolve_sensor_name

    try:
        return resolve_sensor_name(value) or SENSOR_AUTO
    except SpexInputError:
        return None


def check_sensor_values(parameters):
    """``parameters`` with a SENSOR given by its id (``"sentinel2_l2a"``) replaced by its index, so QGIS's
    own check accepts both forms."""
    sensor_id = _sensor_id(parameters.get(SENSOR))
    if sensor_id is None:
        return parameters
    return {**parameters, SENSOR: sensor_ids().index(sensor_id)}


def option_values(algorithm, parameters, context) -> Dict[str, object]:
    """The runtime option values of the shared parameters that ``algorithm`` declares (plain values for
    :func:`model_runtime.request_builder.build_request`)."""
    values: Dict[str, object] = {}
    declared = {p.name() for p in algorithm.parameterDefinitions()}
    for key, option in OPTIONS.items():
        if key not in declared:
            continue
        definition = algorithm.parameterDefinition(key)
        raw = parameters.get(key)
        if key == SENSOR:
            values[option] = _sensor_value(algorithm, parameters, context)
        elif isinstance(definition, QgsProcessingParameterEnum):
            values[option] = algorithm.parameterAsEnumString(parameters, key, context) or None
        elif isinstance(definition, QgsProcessingParameterNumber):
            values[option] = (
                None if raw in (None, "") else algorithm.parameterAsDouble(parameters, key, context)
            )
        elif isinstance(definition, QgsProcessingParameterFile):
            values[option] = algorithm.parameterAsFile(parameters, key, context) or None
        else:
            values[option] = algorithm.parameterAsString(parameters, key, context)
    return values


def _sensor_value(algorithm, parameters, context) -> str:
    sensor_id = _sensor_id(parameters.get(SENSOR))
    if sensor_id is not None:
        return sensor_id
    ids = sensor_ids()
    index = algorithm.parameterAsEnum(parameters, SENSOR, context)
    return ids[index] if 0 <= index < len(ids) else SENSOR_AUTO


def option_labels(algorithm) -> Dict[str, str]:
    """Option name -> the description of ``algorithm``'s parameter that sets it (how messages name it)."""
    labels = {}
    for definition in algorithm.parameterDefinitions():
        option = OPTIONS.get(definition.name()) or getattr(algorithm, "EXTRA_OPTIONS", {}).get(
            definition.name()
        )
        if option:
            labels[option] = definition.description()
    return labels


def input_error(algorithm, error) -> QgsProcessingException:
    """A runtime :class:`SpexInputError` as a one-line Processing error in the QGIS UI language, the option
    at fault named by its parameter's description."""
    from model_runtime.messages import localize

    from ..plugin import qgis_locale

    labels = option_labels(algorithm)
    message = localize(" ".join(str(error).split()), qgis_locale(), labels=labels)
    option = getattr(error, "option", None)
    if option in labels and labels[option] not in message:
        message = f"{labels[option]}: {message}"
    return QgsProcessingException(message)
