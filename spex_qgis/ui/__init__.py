"""The widgets of the SPEX panel, one panel a module; :mod:`spex_qgis.dock` puts them together.

Panels only show values and emit signals; the run, preview and export lifecycle is in
:mod:`spex_qgis.controller`. Their strings share the ``SpexDockWidget`` translation context (see
:func:`spex_qgis.ui.common.tr`), so the Chinese catalogue did not have to move with the code.
"""
