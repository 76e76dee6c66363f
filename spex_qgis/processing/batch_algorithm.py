"""``spex:batch``: one prompt over a folder of rasters, merged into one layer.

A thin Processing front end of :func:`model_runtime.batch`: it runs on local dask workers as threads of
the QGIS process (a worker process would start another QGIS), resumes through the manifest in the output
folder, and returns the merged GeoPackage, whose features carry a ``source`` field.
"""

from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
)
from qgis.PyQt.QtCore import QCoreApplication

from model_runtime.errors import ExtractionCancelled, SpexEnvironmentError, SpexInputError

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

DEFAULT_PATTERN = "*.tif;*.tiff;*.vrt;*.img;*.jp2"


class _FeedbackReporter:
    """Batch progress -> Processing feedback (progress bar, one log line per failed item)."""

    def __init__(self, feedback):
        self.feedback = feedback
        self.todo = 0
        self.finished = 0

    def start(self, total, skipped, todo):
        """Log the plan."""
        self.todo = todo
        self.feedback.pushInfo(f"{total} items, {skipped} finished in an earlier run, {todo} to run")

    def cluster(self, workers, dashboard):
        """Log the worker count."""
        self.feedback.pushInfo(f"{workers} local workers" + (f", dashboard {dashboard}" if dashboard else ""))

    def item(self, record):
        """Advance the progress bar; report a failed item."""
        if record.status == "failed":
            self.feedback.reportError(f"{record.item_id}: {record.error}", fatalError=False)
        if record.attempts and self.todo:
            self.finished += 1
            self.feedback.setProgress(100.0 * self.finished / self.todo)

    def message(self, text):
        """Show a stage message."""
        self.feedback.setProgressText(text)


class SpexBatchAlgorithm(SpexAlgorithm):
    """Extract the class named in a prompt from every raster of a folder; one merged layer out."""

    INPUT_FOLDER = "INPUT_FOLDER"
    PATTERN = "PATTERN"
    PROMPT = common.PROMPT
    ENGINE = common.ENGINE
    MODEL_DIR = common.MODEL_DIR
    MIN_AREA = common.MIN_AREA
    DEVICE = common.DEVICE
    WORKERS = "WORKERS"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    OUTPUT = "OUTPUT"
    DONE = "DONE"
    FAILED = "FAILED"
    MANIFEST = "MANIFEST"

    def tr(self, string):
        """Translate ``string`` in the ``SpexBatchAlgorithm`` context."""
        return QCoreApplication.translate("SpexBatchAlgorithm", string)

    def name(self):
        """Algorithm id inside the provider: ``spex:batch``."""
        return "batch"

    def displayName(self):
        """Name shown in the toolbox."""
        return self.tr("Extract land cover from a folder of rasters")

    def tags(self):
        """Search keywords of the toolbox."""
        return ["spex", "prompt", "extract", "batch", "folder", "dask", "mosaic", "批量", "提取"]

    def shortHelpString(self):
        """Help shown next to the parameters."""
        return self.tr(
            "Runs the prompt on every raster of the input folder whose name matches the pattern, in "
            "parallel on local dask workers, and merges the results into one GeoPackage layer whose "
            "'source' field names each feature's raster. One GeoPackage per raster and a manifest are "
            "written to the output folder: running again skips the rasters already done and retries the "
            "failed ones; a raster that fails never stops the others. Needs the Python packages dask "
            "(distributed) and rich."
        )

    def initAlgorithm(self, config=None):
        """Declare the parameters and outputs."""
        self.addParameter(
            QgsProcessingParameterFile(
                self.INPUT_FOLDER, self.tr("Folder of rasters"), behavior=QgsProcessingParameterFile.Folder
            )
        )
        self.addParameter(prompt_parameter())
        self.addParameter(engine_parameter())
        advanced = [
            QgsProcessingParameterString(
                self.PATTERN, self.tr("File name patterns (separated by ;)"), defaultValue=DEFAULT_PATTERN
            ),
            model_dir_parameter(),
            device_parameter(),
            *option_parameters(),
            QgsProcessingParameterNumber(
                self.WORKERS,
                self.tr("Parallel workers (0: one per CPU core)"),
                type=QgsProcessingParameterNumber.Integer,
                defaultValue=0,
                minValue=0,
            ),
        ]
        add_advanced(self, advanced)
        self.addParameter(
            QgsProcessingParameterFolderDestination(
                self.OUTPUT_FOLDER, self.tr("Output folder (one file per raster)")
            )
        )
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                self.OUTPUT, self.tr("Merged polygons"), QgsProcessing.TypeVectorPolygon
            )
        )
        self.addOutput(QgsProcessingOutputNumber(self.DONE, self.tr("Rasters done")))
        self.addOutput(QgsProcessingOutputNumber(self.FAILED, self.tr("Rasters failed")))
        self.addOutput(QgsProcessingOutputString(self.MANIFEST, self.tr("Manifest")))

    def checkParameterValues(self, parameters, context):
        """QGIS's checks, with SENSOR also accepted as a preset id as well as an index."""
        return super().checkParameterValues(check_sensor_values(parameters), context)

    def build_request(self, parameters, context):
        """The :class:`model_runtime.BatchRequest` of ``parameters``."""
        from model_runtime import BatchRequest
        from model_runtime.batching.request import EXTRACT_OPTIONS
        from model_runtime.request_builder import build_options

        folder = self.parameterAsFile(parameters, self.INPUT_FOLDER, context)
        prompt = self.parameterAsString(parameters, self.PROMPT, context).strip()
        if not prompt:
            raise QgsProcessingException(
                self.tr("PROMPT: the prompt is empty: type what to extract, e.g. 'extract the water bodies'.")
            )
        # Only the parameters count: a run never depends on what the SPEX panel last remembered.
        values = option_values(self, parameters, context)
        values.pop("prompt", None)
        options = build_options(values)
        merged = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        if not merged.lower().endswith(".gpkg"):
            raise QgsProcessingException(
                self.tr("OUTPUT: the merged layer is a GeoPackage: choose a .gpkg file.")
            )
        workers = self.parameterAsInt(parameters, self.WORKERS, context)
        return BatchRequest(
            inputs=folder,
            prompts=prompt,
            output_dir=self.parameterAsString(parameters, self.OUTPUT_FOLDER, context),
            pattern=self.parameterAsString(parameters, self.PATTERN, context) or None,
            merged_output=merged,
            workers=workers or None,
            processes=False,
            dashboard=False,
            # the destination was chosen in the dialog, which asks before replacing a file
            overwrite=True,
            **{name: options[name] for name in EXTRACT_OPTIONS},
        )

    def processAlgorithm(self, parameters, context, feedback):
        """Run the batch and return OUTPUT (merged layer), DONE, FAILED and MANIFEST."""
        import model_runtime

        try:
            request = self.build_request(parameters, context)
            if request.engine == "spex":
                from ..deps import spex_engine_status

                available, reason = spex_engine_status()
                if not available:
                    raise QgsProcessingException(reason)
            result = model_runtime.batch(
                request, reporter=_FeedbackReporter(feedback), is_cancelled=feedback.isCanceled
            )
        except ExtractionCancelled as error:
            raise QgsProcessingException(
                self.tr("Cancelled: the rasters finished so far are kept; run again to resume.")
            ) from error
        except SpexInputError as error:
            raise input_error(self, error) from error
        except SpexEnvironmentError as error:
            from ..task import environment_message

            raise QgsProcessingException(
                environment_message(error, panel=False, labels=common.option_labels(self))
            ) from error
        for warning in result.warnings:
            feedback.pushWarning(warning)
        if result.merged_output is None:
            raise QgsProcessingException(
                self.tr("No raster could be processed ({failed} failed): see the log above.").format(
                    failed=result.counts["failed"]
                )
            )
        done = result.counts["done"] + result.counts["skipped"]
        feedback.pushInfo(
            f"{done} of {result.counts['total']} rasters done, {result.counts['failed']} failed; "
            f"{result.merged_features} features in {result.merged_output}"
        )
        if context.willLoadLayerOnCompletion(result.merged_output):
            details = context.layerToLoadOnCompletionDetails(result.merged_output)
            details.name = self.tr("SPEX batch")
        return {
            self.OUTPUT: result.merged_output,
            self.DONE: done,
            self.FAILED: result.counts["failed"],
            self.MANIFEST: result.manifest,
        }
