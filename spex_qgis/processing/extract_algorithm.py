"""``spex:extract``: prompt-driven extraction of a land-cover class from a multispectral raster.

A thin Processing front end of :func:`model_runtime.extract`: parameters -> :class:`ExtractRequest`,
``feedback`` -> progress/cancel callbacks, :class:`SpexInputError` -> :class:`QgsProcessingException`.
"""

from __future__ import annotations

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsGeometry,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
    QgsProject,
)
from qgis.PyQt.QtCore import QCoreApplication

from model_runtime.errors import ExtractionCancelled, SpexEnvironmentError, SpexInputError
from model_runtime.options import DEFAULT_MAX_PIXELS
from model_runtime.request import AreaOfInterest, ExtractRequest
from model_runtime.request_builder import build_request as runtime_build_request

from . import parameters as common
from .base import SpexAlgorithm
from .parameters import (
    add_advanced,
    check_sensor_values,
    device_parameter,
    engine_parameter,
    input_error,
    model_dir_parameter,
    option_parameters,
    option_values,
    prompt_parameter,
)

# Post-processors must outlive processAlgorithm (Processing calls them afterwards): one per output file.
_POST_PROCESSORS: dict = {}


class ResultLayerPostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Styles a loaded Processing result like the panel's results and moves it into "SPEX results"."""

    def __init__(self, target_class: str, explanation: str):
        """``target_class`` picks the style; ``explanation`` becomes the layer's abstract."""
        super().__init__()
        self.target_class, self.explanation = target_class, explanation

    def postProcessLayer(self, layer, context, feedback):
        """Called by Processing after the layer was added to the project."""
        from ..layers import results_group, style_result_layer

        style_result_layer(layer, self.target_class, self.explanation)
        project = context.project() or QgsProject.instance()
        node = project.layerTreeRoot().findLayer(layer.id())
        group = results_group(project)
        if node is not None and node.parent() is not group:
            parent = node.parent()
            group.insertChildNode(0, node.clone())
            parent.removeChildNode(node)
        group.setExpanded(True)


class SpexExtractAlgorithm(SpexAlgorithm):
    """Extract the polygons of the class named in a prompt ("extract the water bodies", "提取水体")."""

    INPUT = "INPUT"
    PROMPT = common.PROMPT
    EXTENT = "EXTENT"
    AOI = "AOI"
    ENGINE = common.ENGINE
    MODEL_DIR = common.MODEL_DIR
    MODEL_BASE_DIR = "MODEL_BASE_DIR"
    DEVICE = common.DEVICE
    PRECISION = common.PRECISION
    SENSOR = common.SENSOR
    BANDS = common.BANDS
    THRESHOLD = common.THRESHOLD
    THRESHOLD_METHOD = common.THRESHOLD_METHOD
    MIN_AREA = common.MIN_AREA
    SIMPLIFY = common.SIMPLIFY
    SCALING = common.SCALING
    LANGUAGE = common.LANGUAGE
    MAX_PIXELS = "MAX_PIXELS"
    OUTPUT = "OUTPUT"
    CLASS = "CLASS"
    FEATURES = "FEATURES"
    AREA_M2 = "AREA_M2"
    EXPLANATION = "EXPLANATION"
    #: this algorithm's own parameters that set a runtime option (the shared ones: common.OPTIONS)
    EXTRA_OPTIONS = {
        "INPUT": "raster",
        "EXTENT": "aoi",
        "MODEL_BASE_DIR": "model_base_dir",
        "MAX_PIXELS": "max_pixels",
        "OUTPUT": "output",
    }

    def tr(self, string):
        """Translate ``string`` in the ``SpexExtractAlgorithm`` context."""
        return QCoreApplication.translate("SpexExtractAlgorithm", string)

    def name(self):
        """Algorithm id inside the provider: ``spex:extract``."""
        return "extract"

    def displayName(self):
        """Name shown in the toolbox."""
        return self.tr("Extract land cover from a prompt")

    def tags(self):
        """Search keywords of the toolbox (English and Chinese, whatever the UI language)."""
        return [
            "spex",
            "prompt",
            "extract",
            "water",
            "vegetation",
            "building",
            "segmentation",
            "multispectral",
            "提示",
            "提取",
            "水体",
            "植被",
            "建筑",
            "分割",
            "多光谱",
        ]

    def shortHelpString(self):
        """Help shown next to the parameters."""
        return self.tr(
            'Extracts the land-cover class named in the prompt (for example "extract the water bodies" '
            'or "提取水体") from a multispectral raster (Sentinel-2, Landsat 8/9, 4-band RGBN aerial) and '
            "writes its polygons. Every feature carries an explanation of why it was extracted.\n\n"
            'Engine "spectral" uses spectral indices and needs no model. Engine "spex" runs the SPEX '
            "vision-language model from the model folder and needs "
            "the optional packages (Raster > SPEX > Install SPEX engine dependencies).\n\n"
            "Limit the work with an extent and/or a polygon layer (both: their intersection). Band roles "
            "are detected from the sensor and band descriptions; override them with e.g. "
            '"red=3,nir=4". Threshold overrides the primary index threshold of the class; method otsu '
            "takes it from the scene's histogram. Minimum area drops small polygons; simplify smooths the "
            "outlines (map units). Scaling: auto, none, s2, s2-offset, landsat-c2-l2 or GAIN,OFFSET. "
            "Model precision (engine spex): auto is exact fp32 on the CPU and bf16/fp16 on a GPU; int8 is "
            "about twice as fast on the CPU but less exact."
        )

    def initAlgorithm(self, config=None):
        """Declare the parameters and outputs."""
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Multispectral raster")))
        self.addParameter(prompt_parameter())
        self.addParameter(QgsProcessingParameterExtent(self.EXTENT, self.tr("Extent"), optional=True))
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.AOI,
                self.tr("Area of interest polygons"),
                [QgsProcessing.TypeVectorPolygon],
                optional=True,
            )
        )
        self.addParameter(engine_parameter())
        self.addParameter(model_dir_parameter())
        base = QgsProcessingParameterFile(
            self.MODEL_BASE_DIR,
            self.tr("Base model folder (engine spex, LoRA checkpoints only)"),
            behavior=QgsProcessingParameterFile.Folder,
            optional=True,
        )
        base.setFlags(base.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(base)
        self.addParameter(device_parameter())
        max_pixels = QgsProcessingParameterNumber(
            self.MAX_PIXELS,
            self.tr("Largest area processed (pixels, 0: no limit)"),
            type=QgsProcessingParameterNumber.Integer,
            minValue=0,
            defaultValue=DEFAULT_MAX_PIXELS,
        )
        add_advanced(self, option_parameters() + [max_pixels])
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                self.OUTPUT, self.tr("Extracted polygons"), QgsProcessing.TypeVectorPolygon
            )
        )
        self.addOutput(QgsProcessingOutputString(self.CLASS, self.tr("Extracted class")))
        self.addOutput(QgsProcessingOutputNumber(self.FEATURES, self.tr("Number of polygons")))
        self.addOutput(QgsProcessingOutputNumber(self.AREA_M2, self.tr("Total area (m²)")))
        self.addOutput(QgsProcessingOutputString(self.EXPLANATION, self.tr("Explanation")))

    # -- parameters -> request -------------------------------------------------------------------------

    def _raster_path(self, parameters, context) -> tuple:
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None or not layer.isValid():
            raise QgsProcessingException(
                self.tr("INPUT: the raster could not be opened: choose a readable raster file.")
            )
        if layer.providerType() != "gdal":
            raise QgsProcessingException(
                self.tr(
                    "INPUT: '{name}' is not a file raster (provider {provider}): save it as a GeoTIFF "
                    "(Export > Save As...) and use that file."
                ).format(name=layer.name(), provider=layer.providerType())
            )
        return layer, layer.source()

    def _area_of_interest(self, parameters, context, crs: QgsCoordinateReferenceSystem):
        """The AOI in the raster CRS as WKT (extent, polygons, or their intersection); None: whole raster."""
        geometry = None
        if parameters.get(self.EXTENT) not in (None, ""):
            rect = self.parameterAsExtent(parameters, self.EXTENT, context, crs)
            if not rect.isNull() and not rect.isEmpty():
                geometry = QgsGeometry.fromRect(rect)
        source = self.parameterAsSource(parameters, self.AOI, context) if parameters.get(self.AOI) else None
        if source is not None:
            transform = None
            if crs.isValid() and source.sourceCrs().isValid() and source.sourceCrs() != crs:
                transform = QgsCoordinateTransform(source.sourceCrs(), crs, context.transformContext())
            parts = []
            request = QgsFeatureRequest().setNoAttributes()
            for feature in source.getFeatures(request):
                part = QgsGeometry(feature.geometry())
                if part.isNull() or part.isEmpty():
                    continue
                if transform is not None:
                    part.transform(transform)
                parts.append(part)
            if not parts:
                raise QgsProcessingException(
                    self.tr(
                        "AOI: the area-of-interest layer has no polygon (empty selection?): select "
                        "polygons or untick 'Selected features only'."
                    )
                )
            polygons = QgsGeometry.unaryUnion(parts)
            geometry = polygons if geometry is None else geometry.intersection(polygons)
            if geometry.isNull() or geometry.isEmpty():
                raise QgsProcessingException(
                    self.tr("AOI: the polygons do not overlap the extent: widen the extent or clear it.")
                )
        if geometry is None:
            return None
        geometry.get().dropZValue()
        geometry.get().dropMValue()
        crs_text = (crs.authid() or crs.toWkt()) if crs.isValid() else None
        return AreaOfInterest(wkt=geometry.asWkt(), crs=crs_text)

    def checkParameterValues(self, parameters, context):
        """QGIS's checks, with SENSOR also accepted as a preset id ("sentinel2") as well as an index."""
        return super().checkParameterValues(check_sensor_values(parameters), context)

    def build_request(self, parameters, context) -> ExtractRequest:
        """The :class:`ExtractRequest` of ``parameters`` (raises QgsProcessingException/SpexInputError).

        Only the parameters count: a run never depends on what the SPEX panel last remembered.
        """
        layer, raster = self._raster_path(parameters, context)
        values = option_values(self, parameters, context)
        engine = values.get("engine") or "spectral"
        if engine == "spex" and not values.get("model_dir"):
            raise QgsProcessingException(
                self.tr("MODEL_DIR: engine spex needs the SPEX model folder: set MODEL_DIR, or use spectral.")
            )
        values.update(
            raster=raster,
            output=self.parameterAsOutputLayer(parameters, self.OUTPUT, context),
            aoi=self._area_of_interest(parameters, context, layer.crs()),
            model_base_dir=self.parameterAsFile(parameters, self.MODEL_BASE_DIR, context) or None,
            max_pixels=self.parameterAsInt(parameters, self.MAX_PIXELS, context)
            if parameters.get(self.MAX_PIXELS) not in (None, "")
            else None,
            # The destination was chosen in the dialog (which asks before replacing a file): replacing it is
            # what every Processing algorithm does.
            overwrite=True,
        )
        return runtime_build_request(values)

    # -- run -------------------------------------------------------------------------------------------

    def processAlgorithm(self, parameters, context, feedback):
        """Run the extraction and return OUTPUT, CLASS, FEATURES, AREA_M2 and EXPLANATION."""
        import model_runtime

        try:
            request = self.build_request(parameters, context)
            if request.engine == "spex":
                from ..deps import spex_engine_status

                available, reason = spex_engine_status()
                if not available:
                    raise QgsProcessingException(reason)
            last_message = [""]

            def progress(fraction, message=""):
                feedback.setProgress(100.0 * min(max(float(fraction), 0.0), 1.0))
                if message and message != last_message[0]:
                    last_message[0] = message
                    feedback.setProgressText(message)

            result = model_runtime.extract(request, progress=progress, is_cancelled=feedback.isCanceled)
        except ExtractionCancelled as error:
            raise QgsProcessingException(self.tr("Cancelled: nothing was written.")) from error
        except SpexInputError as error:
            raise input_error(self, error) from error
        except SpexEnvironmentError as error:
            from ..task import environment_message

            raise QgsProcessingException(
                environment_message(error, panel=False, labels=common.option_labels(self))
            ) from error
        for warning in result.warnings:
            feedback.pushWarning(warning)
        feedback.pushInfo(
            self.tr("{n} polygons, {area:,.0f} m², {secs:.1f} s").format(
                n=result.features, area=result.area_m2, secs=result.seconds
            )
        )
        for paragraph in (result.explanation or "").splitlines():  # line by line: readable in the log
            feedback.pushInfo(paragraph)
        output = request.output
        if context.willLoadLayerOnCompletion(output):
            details = context.layerToLoadOnCompletionDetails(output)
            details.name = self.tr("SPEX {target}").format(target=result.target_class)
            processor = ResultLayerPostProcessor(result.target_class, result.explanation)
            _POST_PROCESSORS[output] = processor
            details.setPostProcessor(processor)
        return {
            self.OUTPUT: output,
            self.CLASS: result.target_class,
            self.FEATURES: result.features,
            self.AREA_M2: result.area_m2,
            # One line: Processing prints the results as a Python dict, where line breaks read as "\n".
            # The layer's "explain" field and the log above keep the text with its line breaks.
            self.EXPLANATION: " ".join((result.explanation or "").split()),
        }
