"""What every SPEX Processing algorithm shares: its toolbox group, its icon and how it copies itself."""

from __future__ import annotations

from qgis.core import QgsProcessingAlgorithm
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from .. import resource_path


class SpexAlgorithm(QgsProcessingAlgorithm):
    """Base of the ``spex:*`` algorithms; each subclass still names itself and has its own ``tr`` context."""

    def createInstance(self):
        """A fresh instance (Processing runs each execution on its own copy)."""
        return type(self)()

    def group(self):
        """Toolbox group name."""
        # Not self.tr: that is the subclass's context; this string has one context for all algorithms.
        return QCoreApplication.translate("SpexAlgorithm", "Land cover extraction")

    def groupId(self):
        """Toolbox group id."""
        return "landcover"

    def icon(self):
        """The SPEX icon."""
        return QIcon(resource_path("resources", "icons", "spex.svg"))
