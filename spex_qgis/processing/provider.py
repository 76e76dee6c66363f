"""Processing provider ``spex``: makes ``spex:extract`` available in the toolbox, models and scripts."""

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from .. import resource_path
from .batch_algorithm import SpexBatchAlgorithm
from .extract_algorithm import SpexExtractAlgorithm


class SpexProvider(QgsProcessingProvider):
    """Provider of the SPEX algorithms."""

    def id(self):
        """Provider id, the ``spex`` in ``spex:extract``."""
        return "spex"

    def name(self):
        """Name shown in the Processing toolbox."""
        return self.tr("SPEX")

    def longName(self):
        """Longer name shown in tool tips."""
        return self.tr("SPEX prompt-driven land-cover extraction")

    def icon(self):
        """The SPEX icon."""
        return QIcon(self.svgIconPath())

    def svgIconPath(self):
        """Path of the SPEX SVG icon."""
        return resource_path("resources", "icons", "spex.svg")

    def loadAlgorithms(self):
        """Register the provider's algorithms."""
        self.addAlgorithm(SpexExtractAlgorithm())
        self.addAlgorithm(SpexBatchAlgorithm())

    def supportedOutputVectorLayerExtensions(self):
        """The vector formats the runtime writes (GeoPackage first: the default)."""
        return ["gpkg", "shp", "geojson"]

    def tr(self, string):
        """Translate ``string`` in the ``SpexProvider`` context."""
        return QCoreApplication.translate("SpexProvider", string)
