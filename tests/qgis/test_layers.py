"""Result layers: the "SPEX results" group, class styles, and export (GeoPackage, Shapefile, GeoJSON)."""

from __future__ import annotations

import os

import pytest
from osgeo import ogr
from qgis.core import QgsFeature, QgsField, QgsGeometry, QgsProject, QgsVectorFileWriter, QgsVectorLayer
from qgis.PyQt.QtCore import QVariant

from model_runtime.errors import SpexInputError
from model_runtime.request import ExtractResult
from model_runtime.vector.writers import read_shapefile_text
from spex_qgis import layers

# 200+ CJK characters (3 UTF-8 bytes each) and ASCII: several DBF pieces, multi-byte boundaries.
LONG_EXPLANATION = (
    "Water was found with NDWI > 0.1 and MNDWI > 0.0 over 3 regions. " * 8
    + "图像中有一个大型水体，位于中部，形状细长。" * 12
    + " End of explanation."
)


def _make_gpkg(path: str, explanation: str, crs: str = "EPSG:32633") -> str:
    """A real GeoPackage like the runtime writes: two polygons with class/explain/area fields."""
    mem = QgsVectorLayer(f"Polygon?crs={crs}", "water", "memory")
    mem.dataProvider().addAttributes(
        [
            QgsField("class", QVariant.String),
            QgsField("explain", QVariant.String),
            QgsField("area_m2", QVariant.Double),
        ]
    )
    mem.updateFields()
    feats = []
    for i, wkt in enumerate(
        [
            "POLYGON((500000 4000000, 500300 4000000, 500300 4000300, 500000 4000300, 500000 4000000))",
            "POLYGON((501000 4000000, 501100 4000000, 501100 4000100, 501000 4000100, 501000 4000000))",
        ]
    ):
        feat = QgsFeature(mem.fields())
        feat.setGeometry(QgsGeometry.fromWkt(wkt))
        feat.setAttributes(["water", explanation, [90000.0, 10000.0][i]])
        feats.append(feat)
    mem.dataProvider().addFeatures(feats)
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = "water"
    err, msg, _f, _l = QgsVectorFileWriter.writeAsVectorFormatV3(
        mem, path, QgsProject.instance().transformContext(), options
    )
    assert err == QgsVectorFileWriter.NoError, msg
    return path


def _source(tmp_path, explanation: str) -> QgsVectorLayer:
    path = _make_gpkg(str(tmp_path / "w.gpkg"), explanation)
    return QgsVectorLayer(path + "|layername=water", "w", "ogr")


def _result(path: str, explanation: str, target_class: str = "water") -> ExtractResult:
    return ExtractResult(
        target_class=target_class,
        prompt="extract the water bodies",
        engine="spectral",
        output=path,
        layer="water",
        output_format="GPKG",
        features=2,
        area_m2=100000.0,
        explanation=explanation,
    )


def test_add_result_layer_goes_to_top_group_with_class_style(qgis_new_project, tmp_path):
    path = _make_gpkg(str(tmp_path / "water.gpkg"), LONG_EXPLANATION)
    project = QgsProject.instance()
    other = QgsVectorLayer("Point?crs=EPSG:4326", "user layer", "memory")
    project.addMapLayer(other)  # the group must still be inserted above the user's layers
    first = layers.add_result_layer(_result(path, LONG_EXPLANATION), "first")
    second = layers.add_result_layer(_result(path, LONG_EXPLANATION), "second")
    root = project.layerTreeRoot()
    group = root.children()[0]
    assert group.name() == layers.RESULTS_GROUP
    assert [child.layerId() for child in group.children()] == [second.id(), first.id()]
    assert first.isValid() and first.featureCount() == 2
    assert first.crs().authid() == "EPSG:32633"
    feat = next(first.getFeatures())
    assert feat["explain"] == LONG_EXPLANATION  # as written by the runtime, never shortened
    symbol = first.renderer().symbol()
    assert symbol.color().name() == "#1e90ff" and 0 < symbol.color().alpha() < 255  # water.qml
    assert first.abstract() == LONG_EXPLANATION


def test_unknown_class_uses_default_style_and_missing_file_is_a_user_error(qgis_new_project, tmp_path):
    assert layers.style_path("water").endswith("water.qml")
    assert layers.style_path("lava").endswith("default.qml")
    with pytest.raises(SpexInputError) as err:
        layers.add_result_layer(_result(str(tmp_path / "gone.gpkg"), "x"), "gone")
    assert "\n" not in str(err.value) and "gone.gpkg" in str(err.value)


def test_shapefile_export_keeps_full_explanation(qgis_new_project, tmp_path):
    src = _source(tmp_path, LONG_EXPLANATION)
    out = str(tmp_path / "export.shp")
    report = layers.export_layer(src, out, overwrite=False)
    assert report.features == 2
    assert report.split_fields["explain"][:2] == ["explain", "explain_2"]
    assert len(report.split_fields["explain"]) == len(layers.split_utf8(LONG_EXPLANATION)) > 2
    assert report.warnings and "explain.txt" in report.warnings[0]
    sidecar = str(tmp_path / "export.explain.txt")
    assert report.sidecars == [sidecar]
    with open(sidecar, encoding="utf-8") as handle:
        assert handle.read() == LONG_EXPLANATION
    ds = ogr.Open(out)
    lyr = ds.GetLayer(0)
    assert lyr.GetFeatureCount() == 2
    for feat in lyr:
        assert read_shapefile_text(feat, "explain") == LONG_EXPLANATION
        assert feat.GetField("class") == "water"
    ds = None
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no temp leftovers


def test_export_refuses_existing_file_unless_overwrite(qgis_new_project, tmp_path):
    src = _source(tmp_path, "short text")
    out = tmp_path / "user.gpkg"
    out.write_bytes(b"precious")
    with pytest.raises(SpexInputError) as err:
        layers.export_layer(src, str(out))
    assert "already exists" in str(err.value) and "\n" not in str(err.value)
    assert out.read_bytes() == b"precious"
    report = layers.export_layer(src, str(out), overwrite=True)
    assert report.driver == "GPKG"
    back = QgsVectorLayer(str(out), "back", "ogr")
    assert back.isValid() and back.featureCount() == 2
    assert next(back.getFeatures())["explain"] == "short text"


def test_geojson_export_and_bad_format(qgis_new_project, tmp_path):
    src = _source(tmp_path, LONG_EXPLANATION)
    out = str(tmp_path / "out.geojson")
    layers.export_layer(src, out)
    back = QgsVectorLayer(out, "back", "ogr")
    assert back.featureCount() == 2 and next(back.getFeatures())["explain"] == LONG_EXPLANATION
    with pytest.raises(SpexInputError):
        layers.export_layer(src, str(tmp_path / "out.kml"))
    with pytest.raises(SpexInputError):
        layers.export_layer(src, str(tmp_path / "missing_dir" / "out.gpkg"))


def test_split_field_names_fit_dbf():
    assert layers.split_field_name("explain", 0) == "explain"
    assert layers.split_field_name("explain", 98) == "explain_99"
    assert all(len(layers.split_field_name("a_long_field_name", i)) <= 10 for i in range(99))


def test_export_protects_every_shapefile_part_and_the_source_file(qgis_new_project, tmp_path):
    src = _source(tmp_path, LONG_EXPLANATION)
    (tmp_path / "old.explain.txt").write_text("the user's notes", encoding="utf-8")
    assert layers.existing_files(str(tmp_path / "old.shp")) == [str(tmp_path / "old.explain.txt")]
    with pytest.raises(SpexInputError) as err:
        layers.export_layer(src, str(tmp_path / "old.shp"))  # no .shp, but its sidecar would be replaced
    assert "old.explain.txt" in str(err.value)
    assert (tmp_path / "old.explain.txt").read_text(encoding="utf-8") == "the user's notes"
    with pytest.raises(SpexInputError) as err:
        layers.export_layer(src, str(tmp_path / "w.gpkg"), overwrite=True)  # the file the layer reads
    assert "read from" in str(err.value) and "\n" not in str(err.value)
    assert QgsVectorLayer(str(tmp_path / "w.gpkg"), "still", "ogr").featureCount() == 2
    with pytest.raises(SpexInputError):
        layers.export_layer(src, str(tmp_path), overwrite=True)  # a folder, not a file name


def test_results_group_is_found_in_any_language(qgis_new_project):
    project = QgsProject.instance()
    chinese = project.layerTreeRoot().insertGroup(0, "SPEX 结果")  # made by a Chinese QGIS
    chinese.setCustomProperty(layers.RESULTS_GROUP_PROPERTY, True)
    project.layerTreeRoot().insertGroup(1, "my own group")
    assert layers.results_group(project) is chinese and layers.find_results_group(project) is chinese
    assert len(project.layerTreeRoot().findGroups()) == 2  # no second results group
    chinese.removeCustomProperty(layers.RESULTS_GROUP_PROPERTY)  # a project saved before the marker
    assert layers.find_results_group(project) is None
    chinese.setName(layers.RESULTS_GROUP)
    assert layers.results_group(project) is chinese


def _dbf_table(path: str):
    """(field names, rows of values) of a Shapefile, as a reader sees them."""
    ds = ogr.Open(path)
    lyr = ds.GetLayer(0)
    defn = lyr.GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    rows = [[feat.GetField(n) for n in names] for feat in lyr]
    ds = None
    return names, rows


# 508 bytes with a blank at the cut points: 3 pieces, not the 2 that bytes/254 suggests
BLANKS_AT_CUTS = "abcd " * 101 + "abc"


@pytest.mark.parametrize("text", [LONG_EXPLANATION, BLANKS_AT_CUTS], ids=["cjk", "blanks"])
def test_plugin_export_splits_shapefile_text_like_the_runtime_writer(qgis_new_project, tmp_path, text):
    """Exporting the runtime's GeoPackage to a Shapefile gives the fields the runtime writes itself."""
    from osgeo import osr

    from model_runtime.vector.writers import Feature, write_features

    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    square = ogr.CreateGeometryFromWkt(
        "POLYGON((500000 4000000, 500300 4000000, 500300 4000300, 500000 4000300, 500000 4000000))"
    )
    features = [Feature(square.ExportToWkb(), {"class": "water", "explain": text, "area_m2": 90000.0})]
    gpkg, shp = str(tmp_path / "run.gpkg"), str(tmp_path / "run.shp")
    for path in (gpkg, shp):
        write_features(path, features, srs.ExportToWkt(), layer_name="run", explanation="short")
    exported = str(tmp_path / "exported.shp")
    report = layers.export_layer(QgsVectorLayer(gpkg, "run", "ogr"), exported)
    runtime_names, runtime_rows = _dbf_table(shp)
    plugin_names, plugin_rows = _dbf_table(exported)
    explain = [n for n in runtime_names if n.startswith("explain")]
    assert len(explain) == len(layers.split_utf8(text)) > 2
    assert [n for n in plugin_names if n.startswith("explain")] == explain == report.split_fields["explain"]
    pick = [runtime_names.index(n) for n in explain]
    assert [[row[i] for i in pick] for row in plugin_rows] == [[row[i] for i in pick] for row in runtime_rows]
    assert os.path.exists(str(tmp_path / "exported.explain.txt"))
    assert "".join(plugin_rows[0][i] for i in pick) == text  # nothing lost


def test_export_checks_the_runtime_list_of_shapefile_files(qgis_new_project, tmp_path):
    from model_runtime.options import output_files

    out = str(tmp_path / "w.shp")
    assert layers.existing_files(out) == []
    for path in output_files(out)[1:]:  # every part but the .shp: each one alone blocks the export
        open(path, "w").close()
        assert layers.existing_files(out) == [path]
        with pytest.raises(SpexInputError, match="already exists"):
            layers.export_layer(_source(tmp_path, "short"), out)
        os.remove(path)


@pytest.mark.parametrize("name", ["late.gpkg", "late.geojson", "late.shp"])
def test_export_never_replaces_a_file_that_appears_after_the_check(qgis_new_project, tmp_path, monkeypatch, name):  # noqa: E501
    """The existence check and the write are not one step: a file created in between (another export, a
    user) must survive an export without overwrite. The plugin publishes through the runtime's no-replace
    rule (io.atomic), so the late file is kept and the export fails with the one-line message."""
    src = _source(tmp_path, "late file race")
    out = tmp_path / name
    out.write_bytes(b"somebody else's file")
    monkeypatch.setattr(layers, "existing_files", lambda path: [])  # the check ran before the file appeared
    with pytest.raises(SpexInputError, match="already exists"):
        layers.export_layer(src, str(out))
    assert out.read_bytes() == b"somebody else's file"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp left
