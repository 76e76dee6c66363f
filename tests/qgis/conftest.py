"""Fixtures shared by the plugin tests (the sample paths come from tests/conftest.py)."""

import pytest
from qgis.core import QgsApplication

import spex_qgis


@pytest.fixture
def s2_path(s2_sample) -> str:
    """The real Sentinel-2 L2A sample (99.5 % no-data, a vegetated patch: good for band detection)."""
    return str(s2_sample)


@pytest.fixture
def scene_path(aerial_sample) -> str:
    """The real 4-band aerial RGBN sample: fully valid pixels with water and vegetation."""
    return str(aerial_sample)


@pytest.fixture(scope="module")
def provider(qgis_app, qgis_processing):
    """The plugin's provider, registered the way QGIS does it (classFactory + initProcessing)."""
    registry = QgsApplication.processingRegistry()
    if registry.providerById("spex") is None:
        plugin = spex_qgis.classFactory(None)
        plugin.initProcessing()
        yield registry.providerById("spex")
        registry.removeProvider(plugin.provider)
    else:
        yield registry.providerById("spex")
