"""How the panel words a result: the summary line, the explanation HTML, and the empty and failed states
that replace the previous result. Pure text: no widget, no layer is created here."""

from __future__ import annotations

import html

from qgis.PyQt.QtCore import QCoreApplication


def tr(text: str) -> str:
    """Translate ``text`` in the ``SpexDockWidget`` context (the panel's, see i18n/)."""
    return QCoreApplication.translate("SpexDockWidget", text)


def area_text(area_m2: float) -> str:
    """An area in the unit that reads best: m², ha or km²."""
    if area_m2 >= 1e6:
        return f"{area_m2 / 1e6:,.2f} km²"
    if area_m2 >= 1e4:
        return f"{area_m2 / 1e4:,.2f} ha"
    return f"{area_m2:,.0f} m²"


def class_label(target_class: str) -> str:
    """The class name in the UI language (unknown classes as written by the runtime)."""
    labels = {
        "water": tr("water"),
        "vegetation": tr("vegetation"),
        "building": tr("buildings"),
        "bare_soil": tr("bare soil"),
        "cloud": tr("clouds"),
        "snow": tr("snow"),
    }
    return labels.get(target_class, target_class.replace("_", " "))


def _paragraphs(text: str | None) -> str:
    return html.escape(text or "").replace("\n", "<br>")


def summary_text(result) -> str:
    """The status line of a result with polygons."""
    return tr("Done: {} polygons, {} in {:.1f} s").format(
        result.features, area_text(result.area_m2), result.seconds
    )


def explanation_html(result) -> str:
    """The explanation of a result with polygons: a headline, the runtime's text, its notes."""
    head = tr("{cls}: {n} polygons, {area} · engine {engine} · {secs:.1f} s").format(
        cls=class_label(result.target_class),
        n=result.features,
        area=area_text(result.area_m2),
        engine=result.engine,
        secs=result.seconds,
    )
    parts = [f"<p><b>{html.escape(head)}</b></p>", f"<p>{_paragraphs(result.explanation)}</p>"]
    if result.warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings)
        parts.append(f"<p><i>{html.escape(tr('Notes'))}</i></p><ul>{items}</ul>")
    return "".join(parts)


def empty_text(result) -> str:
    """The status line of a run that found nothing."""
    return tr("Nothing found: no {} in this area ({:.1f} s).").format(
        class_label(result.target_class), result.seconds
    )


def empty_html(result) -> str:
    """The explanation of a run that found nothing: what to try, then the runtime's text."""
    hint = tr("Try a larger area, a lower threshold (Threshold and filters), or a smaller minimum area.")
    return (
        f"<p><b>{html.escape(empty_text(result))}</b></p><p>{html.escape(hint)}</p>"
        f"<p>{_paragraphs(result.explanation)}</p>"
    )


def failed_html(message: str) -> str:
    """The explanation of a failed run or preview (``message`` already in the UI language)."""
    return f"<p><b>{html.escape(tr('The extraction failed.'))}</b></p><p>{html.escape(message)}</p>"


def cancelled_html() -> str:
    """The explanation after a cancelled run: the previous result is no longer what the panel shows."""
    return f"<p><b>{html.escape(tr('Cancelled: nothing was written.'))}</b></p>"


def saved_layer_html(name: str, abstract: str) -> str:
    """The explanation of a result layer from a saved project (its abstract holds the run's text)."""
    return f"<p><b>{html.escape(name)}</b></p><p>{_paragraphs(abstract)}</p>"


def preview_layer_name(prompt: str) -> str:
    """The name of the temporary mask layer a preview adds."""
    return tr("Preview: {}").format(prompt)


def preview_text(info: dict) -> str:
    """The status line after a preview: the share of valid pixels the class covers."""
    valid = info["target_px"] + info["background_px"]
    share = 100.0 * info["target_px"] / valid if valid else 0.0
    return tr("Preview: {} covers {:.1f} % of the valid pixels ({:.1f} s). Run writes the polygons.").format(
        class_label(info["target_class"]), share, info["seconds"]
    )
