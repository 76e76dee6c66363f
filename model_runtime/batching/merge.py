"""The batch's merged GeoPackage: every item's features in one layer, with a ``source`` field.

Fields are those of a single run (:data:`model_runtime.vector.writers.FIELDS`) plus ``source`` (the input
raster) and ``item`` (the output the feature was copied from). Items in other CRSs are reprojected to the CRS
of the first item (their centroid fields with them). Written under a temporary name in the destination
folder and renamed into place, as single outputs are.
"""

from __future__ import annotations

import os
import uuid
from typing import Callable, List, Optional, Sequence, Tuple

from osgeo import ogr, osr

from ..vector.writers import FIELDS

ogr.UseExceptions()
osr.UseExceptions()

MERGED_LAYER = "spex_batch"


def _srs_of(layer) -> Optional[osr.SpatialReference]:
    srs = layer.GetSpatialRef()
    if srs is not None:
        srs = srs.Clone()
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def write_merged(
    path: str,
    sources: Sequence[Tuple[str, str]],
    check_cancelled: Callable[[], None] | None = None,
) -> int:
    """Copy the features of each ``(input raster, item output)`` into one GeoPackage layer at ``path``
    (replaced atomically); returns the number of features written."""
    folder, name = os.path.split(os.path.abspath(path))
    temp = os.path.join(folder, f".{os.path.splitext(name)[0]}.spex-tmp-{uuid.uuid4().hex[:12]}.gpkg")
    target_srs = None
    for _raster, item_output in sources:
        ds = ogr.Open(item_output)
        if ds is not None and ds.GetLayerCount():
            target_srs = _srs_of(ds.GetLayer(0))
        ds = None
        if target_srs is not None:
            break
    written = 0
    out = ogr.GetDriverByName("GPKG").CreateDataSource(temp)
    try:
        layer = out.CreateLayer(
            MERGED_LAYER, srs=target_srs, geom_type=ogr.wkbMultiPolygon, options=["SPATIAL_INDEX=YES"]
        )
        for field_name, field_type in list(FIELDS) + [("source", ogr.OFTString), ("item", ogr.OFTString)]:
            layer.CreateField(ogr.FieldDefn(field_name, field_type))
        defn = layer.GetLayerDefn()
        layer.StartTransaction()
        for raster, item_output in sources:
            ds = ogr.Open(item_output)
            src_layer = ds.GetLayer(0)
            src_srs = _srs_of(src_layer)
            transform = None
            if src_srs is not None and target_srs is not None and not src_srs.IsSame(target_srs):
                transform = osr.CoordinateTransformation(src_srs, target_srs)
            names: List[str] = [
                src_layer.GetLayerDefn().GetFieldDefn(i).GetName()
                for i in range(src_layer.GetLayerDefn().GetFieldCount())
            ]
            for feature in src_layer:
                if check_cancelled is not None and written % 1000 == 0:
                    check_cancelled()
                new = ogr.Feature(defn)
                geom = feature.GetGeometryRef()
                if geom is not None:
                    geom = ogr.ForceToMultiPolygon(geom.Clone())
                    if transform is not None:
                        geom.Transform(transform)
                    new.SetGeometry(geom)
                for field_name, _ in FIELDS:
                    if field_name in names and feature.IsFieldSetAndNotNull(field_name):
                        new.SetField(field_name, feature.GetField(field_name))
                if transform is not None and geom is not None and not geom.IsEmpty():
                    centroid = geom.Centroid()  # the centroid fields follow the merged layer's CRS
                    new.SetField("centroid_x", centroid.GetX())
                    new.SetField("centroid_y", centroid.GetY())
                new.SetField("source", raster)
                new.SetField("item", item_output)
                layer.CreateFeature(new)
                written += 1
            ds = None
        layer.CommitTransaction()
        out = None
        os.replace(temp, path)
    except BaseException:
        out = None
        for candidate in (temp, temp + "-wal", temp + "-shm", temp + "-journal"):
            try:
                os.remove(candidate)
            except OSError:
                pass
        raise
    return written
