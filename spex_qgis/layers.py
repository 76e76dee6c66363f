"""Result layers in the QGIS project: the "SPEX results" group, class styles, and export to a file.

Export writes a temporary file in the target folder and renames it, so a failed or refused export never
leaves a half-written file and never replaces a user's file unless ``overwrite=True``. Shapefile (DBF) text
fields hold at most 254 bytes: a longer text (the explanation) is split over ``explain``, ``explain_2``, ...
(the runtime writer's rule) and the full text is also written to a ``<name>.explain.txt`` sidecar, never
truncated silently.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Dict, List

from qgis.core import (
    QgsCoordinateTransformContext,
    QgsFeature,
    QgsFeedback,
    QgsField,
    QgsFields,
    QgsLayerTreeGroup,
    QgsPalettedRasterRenderer,
    QgsProject,
    QgsRasterLayer,
    QgsVectorFileWriter,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication, QVariant
from qgis.PyQt.QtGui import QColor

from model_runtime.errors import ExtractionCancelled, SpexInputError
from model_runtime.io import atomic
from model_runtime.options import DBF_TEXT_BYTES, EXPLAIN_SIDECAR, OUTPUT_FORMATS, output_files
from model_runtime.vector.writers import split_field_name, split_text_fields, split_utf8  # noqa: F401 - the rule

RESULTS_GROUP = "SPEX results"
_PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
# Packaged plugin: styles inside the plugin folder; source checkout: <repo>/resources/styles.
STYLE_DIRS = (
    os.path.join(_PLUGIN_DIR, "resources", "styles"),
    os.path.join(os.path.dirname(_PLUGIN_DIR), "resources", "styles"),
)


def tr(text: str) -> str:
    """Translate ``text`` in the ``SpexLayers`` context (see i18n/)."""
    return QCoreApplication.translate("SpexLayers", text)


@dataclass
class ExportReport:
    """What :func:`export_layer` wrote."""

    path: str
    driver: str
    features: int
    sidecars: List[str] = field(default_factory=list)
    split_fields: Dict[str, List[str]] = field(default_factory=dict)  # original field -> DBF fields
    warnings: List[str] = field(default_factory=list)


def style_path(target_class: str | None) -> str | None:
    """The QML style of ``target_class`` (else ``default.qml``); None if no style is installed."""
    for folder in STYLE_DIRS:
        for name in (f"{target_class}.qml" if target_class else None, "default.qml"):
            if name and os.path.isfile(os.path.join(folder, name)):
                return os.path.join(folder, name)
    return None


RESULTS_GROUP_PROPERTY = "spex/results_group"


def results_group_name() -> str:
    """The results group's name in the UI language."""
    return tr("SPEX results")


def find_results_group(project: QgsProject | None = None) -> QgsLayerTreeGroup | None:
    """The results group of the project (marked by a custom property, or named "SPEX results" in any of the
    plugin's languages, e.g. in a project saved before), None when there is none."""
    root = (project or QgsProject.instance()).layerTreeRoot()
    names = {RESULTS_GROUP, results_group_name()}
    for group in root.findGroups():
        if group.customProperty(RESULTS_GROUP_PROPERTY) or group.name() in names:
            return group
    return None


def results_group(project: QgsProject | None = None) -> QgsLayerTreeGroup:
    """The "SPEX results" group (named in the UI language) at the top of the layer tree, created when
    missing."""
    group = find_results_group(project)
    if group is None:
        root = (project or QgsProject.instance()).layerTreeRoot()
        group = root.insertGroup(0, results_group_name())
        group.setCustomProperty(RESULTS_GROUP_PROPERTY, True)
        group.setExpanded(True)  # a new result must be seen, not hidden in a collapsed group
    return group


# The map tip: the feature's own explanation, wrapped in a readable column (QGIS sizes the tip to its
# content, so without a width a long text becomes a narrow strip running off the map).
MAP_TIP_TEMPLATE = (
    '<div style="width:26em; white-space:normal;">'
    '<b>[% "class" %]</b> · [% format_number("area_m2", 0) %] m²'
    "<p>[% replace(coalesce(\"explain\", ''), '\\n', '<br>') %]</p></div>"
)
# The identify panel / feature list: a short line per feature, not the explanation.
DISPLAY_EXPRESSION = (
    """coalesce("class", '') || ' #' || coalesce(to_string("region_id"), '') """
    """|| ' · ' || format_number("area_m2", 0) || ' m²'"""
)


def style_result_layer(layer: QgsVectorLayer, target_class: str | None, explanation: str = "") -> None:
    """Style a SPEX result: the class style (labels off), a short display name, the explanation map tip."""
    qml = style_path(target_class)
    if qml:
        layer.loadNamedStyle(qml)
    layer.setLabelsEnabled(False)
    if explanation:
        layer.setAbstract(explanation)
    names = set(layer.fields().names())
    if {"class", "area_m2", "region_id"} <= names:
        layer.setDisplayExpression(DISPLAY_EXPRESSION)
    if {"class", "area_m2", "explain"} <= names:
        layer.setMapTipTemplate(MAP_TIP_TEMPLATE)
    if target_class:
        layer.setCustomProperty("spex/target_class", target_class)
    layer.triggerRepaint()


def result_layer_uri(output: str, layer: str, output_format: str) -> str:
    """The OGR data source of a runtime output (GeoPackage needs the layer name)."""
    if output_format == "GPKG" or output.lower().endswith(".gpkg"):
        return f"{output}|layername={layer}" if layer else output
    return output


def add_result_layer(result, name: str, project: QgsProject | None = None) -> QgsVectorLayer:
    """Load ``result`` (an ExtractResult) as a styled layer at the top of the "SPEX results" group.

    Fields come from the file as written by the runtime; the CRS is the file's. The explanation becomes the
    layer's abstract and map tip so it is one hover away on the canvas.
    """
    project = project or QgsProject.instance()
    if not result.output:
        raise SpexInputError(
            tr("The extraction wrote no file: run it again with an output file or a temporary layer.")
        )
    uri = result_layer_uri(result.output, result.layer, result.output_format)
    layer = QgsVectorLayer(uri, name, "ogr")
    if not layer.isValid():
        raise SpexInputError(
            tr(
                "Cannot open the result '{}': check that the file still exists and is readable, "
                "then run again."
            ).format(uri)
        )
    style_result_layer(layer, result.target_class, result.explanation or "")
    layer.setCustomProperty("spex/prompt", result.prompt)
    layer.setCustomProperty("spex/engine", result.engine)
    project.addMapLayer(layer, False)
    results_group(project).insertLayer(0, layer)
    return layer


PREVIEW_PROPERTY = "spex/mask_preview"


def class_colour(target_class: str | None) -> QColor:
    """The fill colour of the class style (opaque), so the preview looks like the polygons will."""
    qml = style_path(target_class)
    if qml:
        with open(qml, encoding="utf-8") as handle:
            found = re.search(r'value="(\d+),(\d+),(\d+),\d+"[^>]*name="color"', handle.read())
        if found:
            return QColor(*(int(v) for v in found.groups()))
    return QColor(230, 60, 60)


def add_mask_preview(
    mask_path: str, name: str, target_class: str | None, project: QgsProject | None = None
) -> QgsRasterLayer:
    """Show a preview mask (1 = target) on top of "SPEX results", replacing the previous preview.

    Background and no-data are transparent; the target has the class colour at 60 % opacity.
    """
    project = project or QgsProject.instance()
    for layer in list(project.mapLayers().values()):
        if layer.customProperty(PREVIEW_PROPERTY):
            project.removeMapLayer(layer.id())
    layer = QgsRasterLayer(mask_path, name, "gdal")
    if not layer.isValid():
        raise SpexInputError(
            tr("Cannot open the preview mask '{}': run the preview again.").format(mask_path)
        )
    colour = class_colour(target_class)
    renderer = QgsPalettedRasterRenderer(
        layer.dataProvider(), 1, [QgsPalettedRasterRenderer.Class(1, colour, target_class or "1")]
    )
    layer.setRenderer(renderer)
    layer.renderer().setOpacity(0.6)
    layer.setCustomProperty(PREVIEW_PROPERTY, True)
    project.addMapLayer(layer, False)
    results_group(project).insertLayer(0, layer)
    return layer


def export_layer(
    layer: QgsVectorLayer,
    path: str,
    fmt: str | None = None,
    overwrite: bool = False,
    transform_context: QgsCoordinateTransformContext | None = None,
    feedback: QgsFeedback | None = None,
) -> ExportReport:
    """Write ``layer`` to ``path`` as GeoPackage, Shapefile or GeoJSON (``fmt``: OGR driver, or by extension).

    Refuses an existing file unless ``overwrite``; writes atomically. Shapefile: long texts split, full
    explanation in a sidecar (see the module docstring). ``transform_context``: the project's (pass it when
    running off the GUI thread); ``feedback``: progress, and cancel (raises ExtractionCancelled, writes
    nothing).
    """
    ext = os.path.splitext(path)[1].lower()
    driver = fmt or OUTPUT_FORMATS.get(ext)
    if driver not in set(OUTPUT_FORMATS.values()):
        raise SpexInputError(
            tr("Unsupported export format '{}': use .gpkg, .shp or .geojson.").format(fmt or ext)
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise SpexInputError(
            tr("Export folder '{}' does not exist: create it or pick another file.").format(folder)
        )
    if os.path.isdir(path):
        raise SpexInputError(tr("'{}' is a folder: give a file name such as {}.").format(path, "result.gpkg"))
    if _same_file(path, _layer_file(layer)):
        raise SpexInputError(
            tr("'{}' is the file this layer is read from: choose another name for the export.").format(path)
        )
    existing = existing_files(path)
    if existing and not overwrite:
        raise SpexInputError(
            tr("'{}' already exists: choose another name or allow overwriting.").format(existing[0])
        )
    context = transform_context or QgsProject.instance().transformContext()
    if driver == "ESRI Shapefile":
        return _export_shapefile(layer, path, overwrite, context, feedback)
    tmp = atomic.temp_file_name(path)
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = driver
    options.fileEncoding = "UTF-8"
    options.feedback = feedback
    if driver == "GPKG":
        options.layerName = os.path.splitext(os.path.basename(path))[0]
    try:
        err, message, _new_file, _new_layer = QgsVectorFileWriter.writeAsVectorFormatV3(
            layer, tmp, context, options
        )
        if feedback is not None and feedback.isCanceled():
            raise ExtractionCancelled("Export cancelled: nothing was written.")
        if err != QgsVectorFileWriter.NoError:
            raise SpexInputError(_export_failed(path, message))
        atomic.fsync_path(tmp)
        _publish([(tmp, path)], overwrite, stale=())
    finally:
        for leftover in (tmp, tmp + "-wal", tmp + "-shm", tmp + "-journal"):
            if os.path.exists(leftover):
                os.remove(leftover)
    return ExportReport(path=path, driver=driver, features=layer.featureCount())


def existing_files(path: str) -> List[str]:
    """The files an export to ``path`` would replace (a Shapefile: every part of the set, and the sidecar)."""
    candidates = list(output_files(path))  # the runtime's list of the files of each format
    return sorted({c for c in candidates if os.path.lexists(c)}, key=candidates.index)


def _layer_file(layer: QgsVectorLayer) -> str:
    """The file behind an OGR layer ("" for memory and database layers)."""
    if layer.providerType() != "ogr":
        return ""
    return layer.source().split("|")[0]


def run_explanation(layer: QgsVectorLayer) -> str:
    """The run-level explanation of a result layer: its abstract, else the DESCRIPTION the runtime wrote in
    the GeoPackage/GeoJSON file ("" when there is none)."""
    if layer.abstract():
        return layer.abstract()
    path = _layer_file(layer)
    if not path or not os.path.exists(path):
        return ""
    from osgeo import ogr

    ds = ogr.Open(path)
    if ds is None:
        return ""
    name = dict(p.split("=", 1) for p in layer.source().split("|")[1:] if "=" in p).get("layername")
    source = ds.GetLayerByName(name) if name else ds.GetLayer(0)
    return (source.GetMetadataItem("DESCRIPTION") or "") if source is not None else ""


def _same_file(a: str, b: str) -> bool:
    if not a or not b or not os.path.exists(b):
        return False
    try:
        return os.path.samefile(a, b) if os.path.exists(a) else False
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _export_failed(path: str, message: str) -> str:
    return tr("Export to '{}' failed ({}): check the folder is writable.").format(path, message)


def _publish(pairs, overwrite: bool, stale) -> None:
    """The runtime's publishing rule (io.atomic): no existing file is replaced unless ``overwrite``, even one
    that appeared after the existence check; a Shapefile set is published .shp last."""
    try:
        atomic.publish_set(pairs, overwrite, stale=stale)
    except FileExistsError as error:
        existing = error.filename or pairs[-1][1]
        raise SpexInputError(
            tr("'{}' already exists: choose another name or allow overwriting.").format(existing)
        ) from None
    atomic.fsync_path(os.path.dirname(os.path.abspath(pairs[-1][1])))


@dataclass
class _ShapefilePlan:
    """The fields of a Shapefile export: source fields, the split text fields and their long values."""

    src_fields: List[QgsField]
    split_fields: Dict[str, List[str]]  # field -> its dBASE field names (runtime rule: split_text_fields)
    texts: Dict[str, Dict[str, None]]  # field -> its distinct long values, in order (a dict as a set)
    out_fields: QgsFields


def _shapefile_plan(layer: QgsVectorLayer) -> _ShapefilePlan:
    """Text fields too wide for DBF are split by the runtime writer's rule (split_text_fields): the same field
    names and pieces as `spex extract -o x.shp`; the sidecar then still holds every long text."""
    src_fields = [f for f in layer.fields() if f.name().lower() != "fid"]  # GeoPackage id: not an attribute
    text_fields = [f.name() for f in src_fields if f.type() == QVariant.String]
    values: Dict[str, List[str]] = {name: [] for name in text_fields}
    for feat in layer.getFeatures():
        for name in text_fields:
            if isinstance(feat[name], str):
                values[name].append(feat[name])
    split_fields: Dict[str, List[str]] = {}
    texts: Dict[str, Dict[str, None]] = {}
    for name in text_fields:
        fields = split_text_fields(name, values[name])
        if len(fields) > 1:
            split_fields[name] = fields
            texts[name] = {v: None for v in values[name] if len(v.encode("utf-8")) > DBF_TEXT_BYTES}
    out_fields = QgsFields()
    for f in src_fields:
        if f.name() in split_fields:
            for name in split_fields[f.name()]:
                out_fields.append(QgsField(name, QVariant.String, "String", DBF_TEXT_BYTES))
        elif f.type() == QVariant.String and not 0 < f.length() <= DBF_TEXT_BYTES:
            out_fields.append(QgsField(f.name(), QVariant.String, "String", DBF_TEXT_BYTES))
        else:
            out_fields.append(QgsField(f))
    return _ShapefilePlan(src_fields, split_fields, texts, out_fields)


def _write_shapefile_features(layer, plan: _ShapefilePlan, tmp: str, path: str, context, feedback) -> int:
    """Write every feature of ``layer`` to the temporary ``tmp``; returns the count."""
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "ESRI Shapefile"
    options.fileEncoding = "UTF-8"
    writer = QgsVectorFileWriter.create(tmp, plan.out_fields, layer.wkbType(), layer.crs(), context, options)
    if writer.hasError() != QgsVectorFileWriter.NoError:
        message = writer.errorMessage()
        del writer
        raise SpexInputError(_export_failed(path, message))
    pieces: Dict[str, List[str]] = {v: split_utf8(v) for long in plan.texts.values() for v in long}
    count = 0
    total = max(layer.featureCount(), 1)
    for feat in layer.getFeatures():
        if feedback is not None:
            if feedback.isCanceled():
                del writer
                raise ExtractionCancelled("Export cancelled: nothing was written.")
            if count % 256 == 0:
                feedback.setProgress(100.0 * count / total)
        out = QgsFeature(plan.out_fields)
        out.setGeometry(feat.geometry())
        for f in plan.src_fields:
            value = feat[f.name()]
            if f.name() in plan.split_fields:
                parts = pieces.get(value) or split_utf8(value) if isinstance(value, str) else []
                for i, name in enumerate(plan.split_fields[f.name()]):
                    out[name] = parts[i] if i < len(parts) else None
            else:
                out[f.name()] = value
        writer.addFeature(out)
        count += 1
    del writer  # flushes and closes the files
    return count


def _export_shapefile(
    layer: QgsVectorLayer,
    path: str,
    overwrite: bool,
    context: QgsCoordinateTransformContext,
    feedback: QgsFeedback | None,
) -> ExportReport:
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.splitext(os.path.basename(path))[0]
    plan = _shapefile_plan(layer)
    workdir = atomic.make_temp_dir(folder)
    sidecars: List[str] = []
    run_sidecar = None
    try:
        shp = os.path.join(workdir, base + ".shp")
        count = _write_shapefile_features(layer, plan, shp, path, context, feedback)
        for name, values in plan.texts.items():
            sidecar = f"{base}.{name}.txt"
            with open(os.path.join(workdir, sidecar), "w", encoding="utf-8") as handle:
                handle.write("\n\n".join(values))
            sidecars.append(os.path.join(folder, sidecar))
        # the run-level explanation (the layer abstract; each feature's explain is about that feature)
        run_text = run_explanation(layer)
        if run_text and "explain" not in plan.texts:
            with open(os.path.join(workdir, base + EXPLAIN_SIDECAR), "w", encoding="utf-8") as handle:
                handle.write(run_text)
            run_sidecar = os.path.join(folder, base + EXPLAIN_SIDECAR)
        produced = sorted(os.listdir(workdir), key=lambda n: n.lower().endswith(".shp"))  # the .shp last
        for name in produced:
            atomic.fsync_path(os.path.join(workdir, name))
        # parts of an old set that this export does not replace would be stale (removed only with overwrite)
        old_set = output_files(os.path.join(folder, base + ".shp"))
        stale = [old for old in old_set if os.path.basename(old) not in produced]
        _publish([(os.path.join(workdir, n), os.path.join(folder, n)) for n in produced], overwrite, stale)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return _shapefile_report(path, count, plan, sidecars, run_sidecar)


def _shapefile_report(path, count, plan: _ShapefilePlan, sidecars, run_sidecar) -> ExportReport:
    report = ExportReport(
        path=path, driver="ESRI Shapefile", features=count, sidecars=sidecars, split_fields=plan.split_fields
    )
    for name, sidecar in zip(plan.texts, sidecars):
        report.warnings.append(
            tr(
                "Shapefile text fields hold at most {} bytes: '{}' is split over {} "
                "and written in full to {}."
            ).format(DBF_TEXT_BYTES, name, ", ".join(plan.split_fields[name]), os.path.basename(sidecar))
        )
    if run_sidecar is not None:
        report.sidecars.append(run_sidecar)
        report.warnings.append(
            tr("Shapefiles have no layer description: the run's explanation is written to {}.").format(
                os.path.basename(run_sidecar)
            )
        )
    return report
