"""The in-notebook panels: the verdict on one output with "Add to export", and the basket.

Each panel is an ipywidgets box whose plain-text form is the same report, so terminal IPython and nbconvert
show readable text instead of a widget placeholder.
"""

from __future__ import annotations

import html
import io
import warnings
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from .errors import UserError
from .results import CheckResult, Counts, Finding

STATUS_STYLE = {
    "pass": ("#1a7f37", "#e6f4ea", "\u2714"),
    "review": ("#9a6700", "#fff8c5", "\u26a0"),
    "fail": ("#cf222e", "#ffebe9", "\u2716"),
}
STATUS_TITLE = {
    "pass": "No disclosure risk found. This output can be exported.",
    "review": "Needs a look: fix the points below, or explain why there is no disclosure risk.",
    "fail": "Not safe to export as it is: fix the points below.",
}
MAX_ROWS = 30
VISIBLE_ROWS = 12
MAX_COLS = 15


def banner_html(status: str, headline: str, detail: str = "") -> str:
    fg, bg, icon = STATUS_STYLE[status]
    extra = f"<div style='margin-top:2px'>{html.escape(detail)}</div>" if detail else ""
    return (
        f"<div style='border-left:6px solid {fg};background:{bg};color:#1f2328;padding:6px 10px;border-radius:4px'>"
        f"<b style='color:{fg}'>{icon} {status.upper()}</b> &mdash; {html.escape(headline)}{extra}</div>"
    )


def findings_html(findings: list[Finding]) -> str:
    if not findings:
        return ""
    rows = []
    for f in findings:
        fg = STATUS_STYLE[f.severity][0]
        where = f"<div><i>Where:</i> {html.escape(f.where)}</div>" if f.where else ""
        fix = f"<div><i>Fix:</i> {html.escape(f.fix)}</div>" if f.fix else ""
        rows.append(
            f"<li style='margin-bottom:6px'><b style='color:{fg}'>{html.escape(f.severity.upper())}</b> "
            f"<code>{html.escape(f.rule)}</code> {html.escape(f.message)}{where}{fix}</li>"
        )
    return "<ol style='padding-left:20px;margin:4px 0'>" + "".join(rows) + "</ol>"


def counts_html(counts: Counts) -> str:
    obs = "unknown" if counts.observations is None else f"{counts.observations:,}"
    parts = []
    if counts.tables:
        parts.append(f"{counts.tables} table, {counts.cells} cells ({counts.count_cells} with counts)")
    if counts.models:
        parts.append(f"{counts.models} model")
    if counts.figures:
        parts.append(f"{counts.figures} graph")
    what = "; ".join(parts) or "nothing that counts for output light"
    return f"<div style='color:var(--jp-ui-font-color2, #57606a)'>Output light counts: {html.escape(what)}. Observations: {obs}.</div>"


def _shown_rows(table: Any, failing: set[tuple[Any, Any]]) -> list[int]:
    """Row positions to show: in a table taller than the view, rows with failing cells come first."""
    n = len(table.index)
    if n <= VISIBLE_ROWS:
        return list(range(n))
    fail_rows = {r for r, _ in failing}
    first = [i for i, label in enumerate(table.index) if label in fail_rows][: MAX_ROWS // 2]
    taken = set(first)
    rest = [i for i in range(n) if i not in taken][: MAX_ROWS - len(first)]
    return first + rest


def table_html(table: Any, failing: list[tuple[Any, Any]], review: list[tuple[Any, Any]] = ()) -> str:
    """The table with failing cells in red and review cells in yellow (pandas Styler), cut to a readable size."""
    import pandas as pd

    frame = table.to_frame() if isinstance(table, pd.Series) else table
    if getattr(frame, "data", None) is not None and not isinstance(frame, pd.DataFrame):
        frame = frame.data
    fail_set = {(r, c) for r, c in failing}
    review_set = {(r, c) for r, c in review} - fail_set
    rows = _shown_rows(frame, fail_set)
    part = frame.iloc[rows, :MAX_COLS]
    single = isinstance(table, pd.Series)
    styles = _cell_styles(part, review_set, fail_set, single)
    # Positions, not labels, carry the colours and the shown labels: a repeated label (two stacked tables) renders,
    # and every label, value and name is escaped, so a label holding HTML is shown as text, never run.
    shown = part.set_axis(_positional(part.index), axis=0).set_axis(_positional(part.columns), axis=1)
    styles.index, styles.columns = shown.index, shown.columns
    styled = shown.style.apply(lambda _: styles, axis=None).format(number_text, na_rep="", escape="html")
    styled = styled.relabel_index(_escaped_labels(part.index), axis=0)
    styled = styled.relabel_index(_escaped_labels(part.columns), axis=1)
    notes = []
    if len(rows) < len(frame.index) or frame.shape[1] > MAX_COLS:
        notes.append(
            f"Showing {len(rows)} of {len(frame.index)} rows and {min(frame.shape[1], MAX_COLS)} of "
            f"{frame.shape[1]} columns."
        )
    if rows != sorted(rows):
        notes.append("Rows with failing cells are shown first.")
    note = f"<div style='font-size:smaller'>{' '.join(notes)}</div>" if notes else ""
    return f"<div style='max-height:420px;overflow:auto'>{styled.to_html()}</div>{note}"


def _cell_styles(part: Any, review_set: set, fail_set: set, single: bool) -> Any:
    """The CSS of each shown cell by position: yellow for review, red for fail (fail wins)."""
    import pandas as pd

    styles = pd.DataFrame("", index=pd.RangeIndex(part.shape[0]), columns=pd.RangeIndex(part.shape[1]))
    rows_at: dict[Any, list[int]] = {}
    for i, label in enumerate(part.index):
        rows_at.setdefault(label, []).append(i)
    cols_at: dict[Any, list[int]] = {}
    for j, label in enumerate(part.columns):
        cols_at.setdefault(label, []).append(j)
    for cells, css in (
        (review_set, "background-color:#fff1b8"),
        (fail_set, "background-color:#ffcecb;font-weight:bold"),
    ):
        for r, c in cells:
            for i in _positions_of(rows_at, r):
                for j in _positions_of(cols_at, part.columns[0] if single and len(part.columns) else c):
                    styles.iat[i, j] = css
    return styles


def _positions_of(at: dict[Any, list[int]], label: Any) -> list[int]:
    try:
        return at.get(label, [])
    except TypeError:  # an unhashable label from a hand-made finding
        return []


def _positional(labels: Any) -> Any:
    """Unique stand-ins for shown labels, with as many levels and the (escaped) level names."""
    import pandas as pd

    names = [None if n is None else html.escape(str(n)) for n in labels.names]
    if labels.nlevels > 1:
        return pd.MultiIndex.from_arrays([range(len(labels))] * labels.nlevels, names=names)
    return pd.RangeIndex(len(labels), name=names[0])


def _escaped_labels(labels: Any) -> list[Any]:
    """Index or column labels as escaped text, level by level for a MultiIndex."""
    if labels.nlevels > 1:
        return [tuple(html.escape(str(x)) for x in label) for label in labels]
    return [html.escape(str(x)) for x in labels]


def number_text(value: Any) -> str:
    """743,960,000 for whole numbers, 12,345.68 otherwise; text stays text."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        return str(value)
    return f"{number:,.0f}" if number.is_integer() else f"{number:,.2f}"


def coefficients_html(res: Any) -> str:
    """The coefficient table the zip carries, so the panel shows what the checker will read."""
    from .models import coefficient_table

    try:
        table = coefficient_table(res)
    except Exception:  # a model we can check but not tabulate: the panel stays without it
        return ""
    body = table.style.format(lambda v: f"{v:,.4g}" if isinstance(v, float) else str(v), na_rep="").to_html()
    return f"<div><b>Coefficients</b></div><div style='max-height:420px;overflow:auto'>{body}</div>"


def _close_pyplot_figure(fig: Any) -> None:
    """Shown in the panel, so matplotlib's inline backend does not show it a second time below the cell."""
    import matplotlib.pyplot as plt

    plt.close(fig)  # a figure pyplot does not manage is left alone


def figure_png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72, bbox_inches="tight")
    return buf.getvalue()


def _text_bundle(widget: w.Widget, text: str, include: Any = None, exclude: Any = None) -> dict[str, Any]:
    bundle = w.Box._repr_mimebundle_(widget, include=include, exclude=exclude) or {}
    bundle["text/plain"] = text
    return bundle


class CheckPanel(w.VBox):
    """The verdict on one kernel object, with the cells and fixes, and a form to add it to the export basket."""

    def __init__(
        self,
        obj: Any,
        result: CheckResult,
        *,
        title: str = "",
        data: Any = None,
        unit: Any = None,
        weights: Any = None,
        basket_factory: Callable[[], Any] | None = None,
        source_note: str = "",
    ):
        self.obj, self.result = obj, result
        self._check_args = {"data": data, "unit": unit, "weights": weights}
        self._basket_factory = basket_factory or _default_basket
        self.source_note = source_note
        self.item = None

        status = result.status
        detail = (
            "It contains identifying data or unit records and can never be exported." if result.never_exportable else ""
        )
        self.banner = w.HTML(banner_html(status, STATUS_TITLE[status], detail))
        parts: list[w.Widget] = [self.banner]
        if source_note:
            parts.append(w.HTML(f"<div>{html.escape(source_note)}</div>"))
        parts.append(w.HTML(findings_html(result.findings)))
        parts.append(w.HTML(counts_html(result.counts)))
        parts.extend(self._view())
        self.make_safe = (
            MakeSafe(self) if result.kind == "table" and status == "fail" and not result.never_exportable else None
        )
        parts.extend([self.make_safe] if self.make_safe is not None else [])

        self.title = w.Text(
            value=title, description="Title", placeholder="What this output shows", layout=w.Layout(width="95%")
        )
        self.description = w.Textarea(
            description="Description",
            placeholder="Population, period, unit, source files",
            layout=w.Layout(width="95%"),
        )
        self.explanation = w.Textarea(
            description="Explanation",
            layout=w.Layout(width="95%", display="" if status != "pass" else "none"),
            placeholder="Why this output has no disclosure risk (needed because the status is not pass)",
        )
        self.background = w.Checkbox(
            description="Background information only (never released)",
            indent=False,
            layout=w.Layout(width="auto"),
            style={"description_width": "initial"},
        )
        self.add_button = w.Button(description="Add to export", button_style="primary", icon="plus")
        self.message = w.HTML()
        self.add_button.on_click(lambda _: self.add())
        if result.never_exportable:
            self.add_button.disabled = True
            self.message.value = (
                "<div>Adding is switched off: identifying data and unit records never leave the RA.</div>"
            )
        form = w.VBox(
            [self.title, self.description, self.explanation, self.background, w.HBox([self.add_button]), self.message]
        )
        super().__init__(parts + [w.HTML("<hr style='margin:6px 0'>"), form])

    def _view(self) -> list[w.Widget]:
        kind = self.result.kind
        if kind == "table":
            review_cells = [c for f in self.result.findings if f.severity == "review" for c in f.cells]
            views: list[w.Widget] = [w.HTML(table_html(self.obj, self.result.failing_cells, review_cells))]
            stats = self.result.details.get("cell_stats")
            if stats is not None:
                self.units_toggle = w.ToggleButton(
                    description="Show units per cell", icon="table", layout=w.Layout(width="auto")
                )
                self.units_view = w.HTML()

                def show(change: dict[str, Any]) -> None:
                    self.units_toggle.description = "Hide units per cell" if change["new"] else "Show units per cell"
                    self.units_view.value = (
                        table_html(stats.to_frames()["units"], self.result.failing_cells) if change["new"] else ""
                    )

                self.units_toggle.observe(show, names="value")
                views += [self.units_toggle, self.units_view]
            return views
        if kind == "figure":
            from .figures import as_figure

            fig = as_figure(self.obj)
            if fig is not None:
                png = figure_png(fig)
                _close_pyplot_figure(fig)
                return [w.Image(value=png, format="png", layout=w.Layout(max_width="420px"))]
        if kind == "model":
            coefficients = coefficients_html(self.obj)
            return [w.HTML(coefficients)] if coefficients else []
        return []

    def add(self) -> Any:
        """Add the output to the basket with what the form says; shows the item's state or the problem."""
        title = self.title.value.strip()
        explanation = self.explanation.value.strip() or None
        if not title:
            self.message.value = (
                "<div style='color:#cf222e'>Give the output a title first: it names the file for the checker.</div>"
            )
            return None
        try:
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                self.item = self._basket_factory().add(
                    self.obj,
                    title,
                    description=self.description.value.strip(),
                    explanation=explanation,
                    background=self.background.value,
                    **self._check_args,
                )
        except UserError as exc:
            self.message.value = f"<div style='color:#cf222e'>{html.escape(str(exc))}</div>"
            return None
        self.message.value = f"<div>{html.escape(item_state(self.item))}</div>"
        self.add_button.description = "Added"
        self.add_button.disabled = True
        return self.item

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        text = self.result.report()
        if self.source_note:
            text = f"{text}\n{self.source_note}"
        return _text_bundle(self, text, include, exclude)


class MakeSafe(w.VBox):
    """ "Make safe" for a failing table: the `cel.protect` methods that apply, a preview of the protected table,
    and "Add the safe table to export" (its hidden values go into the basket as background information)."""

    def __init__(self, panel: CheckPanel):
        from .protect import METHOD_LABELS, applicable_methods

        self.panel, self.safe, self.safe_result = panel, None, None
        methods, why = applicable_methods(panel.obj, panel.result, panel._check_args["data"])
        self.methods = methods
        self.method = w.Dropdown(
            options=[(METHOD_LABELS[m], m) for m in methods], description="Make safe", layout=w.Layout(width="auto")
        )
        self.preview_button = w.Button(description="Preview", icon="eye", disabled=not methods)
        self.add_safe_button = w.Button(
            description="Add the safe table to export", icon="shield", button_style="success", disabled=True
        )
        self.preview = w.HTML()
        self.message = w.HTML(f"<div>{html.escape(why)}</div>" if why else "")
        self.preview_button.on_click(lambda _: self.show_preview())
        self.add_safe_button.on_click(lambda _: self.add())
        self.method.observe(lambda _: self._forget(), names="value")
        controls = [w.HBox([self.method, self.preview_button, self.add_safe_button])] if methods else []
        super().__init__([w.HTML("<b>Make safe</b>"), *controls, self.preview, self.message])

    def _forget(self) -> None:
        self.safe = self.safe_result = None
        self.preview.value = ""
        self.add_safe_button.disabled = True

    def show_preview(self) -> Any:
        """Protect the table with the chosen method and show what was done, the verdict and the table."""
        from .check import check
        from .protect import protect, protection_record, protection_text

        self._forget()
        args = self.panel._check_args
        try:
            safe = protect(self.panel.obj, method=self.method.value, **args)
        except UserError as exc:
            self.message.value = f"<div style='color:#cf222e'>{html.escape(str(exc))}</div>"
            return None
        self.safe, self.safe_result = safe, check(safe)
        info = protection_record(safe) or {}
        done = protection_text(info) if info else ""
        status = self.safe_result.status
        self.preview.value = (
            banner_html(status, f"The protected table: {STATUS_TITLE[status]}", done)
            + findings_html(self.safe_result.findings)
            + table_html(shown_with_marks(safe, info), self.safe_result.failing_cells)
        )
        self.message.value = ""
        self.add_safe_button.disabled = self.add_safe_button.description == "Added"
        return safe

    def add(self) -> Any:
        """Add the protected table to the basket under the panel's title; its background comes with it."""
        if self.safe is None and self.show_preview() is None:
            return None
        title = self.panel.title.value.strip()
        if not title:
            self.message.value = (
                "<div style='color:#cf222e'>Give the output a title first (above): it names the "
                "file for the checker.</div>"
            )
            return None
        explanation = self.panel.explanation.value.strip() or None if self.safe_result.status != "pass" else None
        try:
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                basket = self.panel._basket_factory()
                item = basket.add(
                    self.safe, title, description=self.panel.description.value.strip(), explanation=explanation
                )
        except UserError as exc:
            self.message.value = f"<div style='color:#cf222e'>{html.escape(str(exc))}</div>"
            return None
        kept = [i.id for i in basket.items if i.background_for == item.id]
        note = (
            f" What was hidden is kept as background information ({', '.join(kept)}), never released." if kept else ""
        )
        self.message.value = f"<div>{html.escape(item_state(item) + note)}</div>"
        self.add_safe_button.description, self.add_safe_button.disabled = "Added", True
        self.panel.item = item
        return item


def shown_with_marks(safe: Any, info: dict[str, Any]) -> Any:
    """The protected table as a checker will see it: hidden cells read "x", whole numbers without decimals."""
    import numpy as np
    import pandas as pd

    from .protect import HIDDEN_MARK

    if info.get("method") != "suppress":
        return safe
    values = np.array(
        [
            [int(v) if isinstance(v, float) and v.is_integer() else v for v in row]
            for row in safe.to_numpy(dtype=object)
        ],
        dtype=object,
    )
    values[info["hidden"]] = HIDDEN_MARK
    return pd.DataFrame(values, index=safe.index, columns=safe.columns)


def item_state(item: Any) -> str:
    """One sentence on where an item stands for the export."""
    status = item.status if item.rules_compliant else f"{item.status} under rules looser than the CBS defaults"
    if item.never_exportable:
        what = "it can never be exported (identifying data or unit records)"
    elif item.background:
        what = "background information for the checker; it is not released"
    elif not item.needs_explanation:
        what = "ready to export"
    elif item.has_explanation:
        what = f"status {status}, explanation given: it goes to 1_Controle vooraf"
    else:
        what = (
            f"status {status}, no explanation yet: it is held back until you add one in the CBS export "
            "sidebar (the basket icon on the right)"
        )
    return f"Added to the export basket as '{item.title}' (id {item.id}): {what}."


def _default_basket() -> Any:
    from .basket import Basket

    return Basket()


class BasketPanel(w.VBox):
    """The basket: items with status, explanation editing, remove, the output-light meter and the export plan."""

    def __init__(self, basket: Any = None):
        self.basket = basket if basket is not None else _default_basket()
        self.header = w.HTML()
        self.rows = w.VBox()
        self.meter = w.HTML()
        self.plan = w.HTML()
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        super().__init__([self.header, self.rows, self.meter, self.plan, self.refresh_button])
        self.refresh()

    def refresh(self) -> None:
        items = self.basket.items
        self.header.value = f"<b>Export basket</b> ({len(items)} item{'s' if len(items) != 1 else ''}) in <code>{html.escape(str(self.basket.folder))}</code>"
        self.rows.children = [self._row(item) for item in items] or [
            w.HTML("<i>The basket is empty. Use %cbs_check OBJ and 'Add to export'.</i>")
        ]
        self.meter.value = light_meter_html(items)
        self.plan.value = plan_html(self.basket)

    def _row(self, item: Any) -> w.Widget:
        fg, _, icon = STATUS_STYLE.get(item.status, STATUS_STYLE["review"])
        flags = []
        if item.background:
            flags.append("background")
        if item.never_exportable:
            flags.append("never exportable")
        if item.exported:
            flags.append("exported")
        label = w.HTML(
            f"<span style='color:{fg}'>{icon}</span> <b>{html.escape(item.title)}</b> "
            f"<span style='color:#57606a'>{html.escape(item.kind)} &middot; {html.escape(item.status)}"
            f"{' &middot; ' + ', '.join(flags) if flags else ''}</span>"
        )
        explanation = w.Textarea(
            value=item.explanation or "",
            placeholder="Explanation (needed when not pass)",
            layout=w.Layout(width="60%", height="3em"),
        )
        save = w.Button(description="Save explanation", icon="save")
        remove = w.Button(description="Remove", icon="trash", button_style="danger")
        note = w.HTML()

        def on_save(_: Any) -> None:
            try:
                self.basket.set_explanation(item.id, explanation.value)
            except UserError as exc:
                note.value = html.escape(str(exc))
                return
            self.refresh()

        def on_remove(_: Any) -> None:
            try:
                self.basket.remove(item.id)
            except UserError as exc:
                note.value = html.escape(str(exc))
                return
            self.refresh()

        save.on_click(on_save)
        remove.on_click(on_remove)
        controls = (
            [explanation, save] if item.needs_explanation and not item.never_exportable and not item.exported else []
        )
        return w.VBox([label, w.HBox([*controls, remove]), note])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return _text_bundle(self, basket_text(self.basket), include, exclude)


def _meter_budget(items: list[Any]) -> Any:
    """The budget the plan computes for its LIGHT_ candidate zip (one computation: light.waiting_budget)."""
    from .exportmap import meter_mode
    from .light import waiting_budget
    from .settings import load_settings

    try:
        settings = load_settings()
        mode = meter_mode(settings.exportmap_folder, settings.mode)
    except UserError:
        mode = "vooraf"
    return waiting_budget(items, mode)


def light_meter_html(items: list[Any]) -> str:
    budget = _meter_budget(items)
    pct = min(100, round(100 * float(budget.fraction)))
    colour = "#1a7f37" if budget.fits else "#cf222e"
    return (
        f"<div>Output light budget of the next export: {html.escape(budget.verdict())}</div>"
        f"<div style='background:#eaeef2;max-width:300px;height:10px;border-radius:5px'>"
        f"<div style='background:{colour};width:{pct}%;height:10px;border-radius:5px'></div></div>"
    )


def _plan_sentences(basket: Any) -> list[str] | None:
    from .exportmap import plan_export
    from .settings import load_settings

    exportmap = load_settings().exportmap_folder
    if exportmap is None:
        return None
    return plan_export(basket, exportmap).describe()


def plan_html(basket: Any) -> str:
    try:
        sentences = _plan_sentences(basket)
    except UserError as exc:
        return f"<div><b>Export plan:</b> {html.escape(str(exc))}</div>"
    if sentences is None:
        return "<div><b>Export plan:</b> no exportmap is set; set it in the sidebar or with cbs-export.toml.</div>"
    return (
        "<div><b>Prepare export would now:</b><ul>"
        + "".join(f"<li>{html.escape(s)}</li>" for s in sentences)
        + "</ul></div>"
    )


def basket_text(basket: Any) -> str:
    items = basket.items
    lines = [f"Export basket in {basket.folder}: {len(items)} item(s)."]
    for item in items:
        extra = " [background]" if item.background else ""
        extra += " [never exportable]" if item.never_exportable else ""
        extra += " [exported]" if item.exported else ""
        expl = (
            f" - explanation: {item.explanation}"
            if item.explanation
            else (" - needs an explanation" if item.needs_explanation else "")
        )
        lines.append(f"  {item.status.upper():6} {item.kind:7} {item.id}: {item.title}{extra}{expl}")
    lines.append(f"Output light budget of the next export: {_meter_budget(items).verdict()}")
    try:
        sentences = _plan_sentences(basket)
    except UserError as exc:
        sentences = [str(exc)]
    if sentences is not None:
        lines.append("Prepare export would now:")
        lines += [f"  - {s}" for s in sentences]
    return "\n".join(lines)
