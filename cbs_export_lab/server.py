"""The server extension: a small authenticated REST API under `/cbs-export-lab/` for the JupyterLab sidebar.

The API is written down once, in `rest-api.json` (OpenAPI 3) beside this module; the sidebar's TypeScript types
are generated from it and a test checks every answer against it. Every decision (status words, what may be
explained, the budget's verdict, what a strip means) is made here or below, so the sidebar only shows it.
A user mistake (`UserError`) comes back as JSON `{"message": ...}` with a 4xx status.

Basket, exportmap, settings and strip work runs in a small thread pool, never on Jupyter's event loop: a kernel
holding the basket lock then delays only the request that needs the lock, not the notebooks of the same server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import warnings
import zipfile
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from .errors import UserError
from .names import is_inside

NAMESPACE = "cbs-export-lab"
EDITABLE_SETTINGS = ("project", "researcher", "exportmap", "mode")
MAX_BODY_BYTES = 1_000_000
MAX_NESTING = 32
MAX_PATH_CHARS = 4096
NOTEBOOK_SUFFIX = ".ipynb"
SCRIPT_SUFFIXES = (".r", ".do", ".sps", ".py", ".sas")
STATUS_WORDS = {"pass": "Meets the guidelines", "review": "Needs review", "fail": "Does not meet the guidelines"}
SEVERITY_WORDS = {"fail": "Fails", "review": "Review"}
MODE_CHOICES = (
    ("", "Detect from the exportmap"),
    ("vooraf", "vooraf (checked before release)"),
    ("achteraf", "achteraf (checked afterwards)"),
)
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cbs-export-lab")


class RequestError(UserError):
    """A request the sidebar should not have sent (bad JSON, unknown item, path outside where it may look)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _as_message(method: Callable[..., Awaitable[None] | None]) -> Callable[..., Awaitable[None]]:
    """Turn user mistakes into `{"message": ...}` with a 4xx status instead of a traceback."""

    @functools.wraps(method)
    async def wrapper(self: BaseHandler, *args: Any, **kwargs: Any) -> None:
        try:
            result = method(self, *args, **kwargs)
            if result is not None:
                await result
        except RequestError as exc:
            self._reply_error(exc.status, str(exc))
        except UserError as exc:
            self._reply_error(400, str(exc))

    return wrapper


class BaseHandler(APIHandler):
    """Settings are read per request from the server root, so a project `cbs-export.toml` there applies."""

    @property
    def root(self) -> Path:
        return Path(self.settings["server_root_dir"]).expanduser().resolve()

    async def off_loop(self, work: Callable[..., Any], *args: Any) -> Any:
        """Run blocking work (files, the basket lock, rendering) in the pool and wait for it without blocking."""
        return await asyncio.get_running_loop().run_in_executor(_POOL, functools.partial(work, *args))

    def body(self) -> dict[str, Any]:
        """The JSON object sent, refused with a message when too large, malformed or holding unstorable text."""
        raw = self.request.body or b"{}"
        if len(raw) > MAX_BODY_BYTES:
            raise RequestError(
                f"The request body is {len(raw):,} bytes; this API accepts at most "
                f"{MAX_BODY_BYTES:,}. Shorten the text you entered and try again.",
                413,
            )
        try:
            data = json.loads(raw)
        except RecursionError:
            raise RequestError(f"The request body is nested too deeply (at most {MAX_NESTING} levels).") from None
        except ValueError:
            raise RequestError("The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise RequestError("The request body must be a JSON object.")
        _check_plain(data, "the request body", 0)
        return data

    def reply(self, data: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    def _reply_error(self, status: int, message: str) -> None:
        self.set_status(status)
        self.reply({"message": message})


def _check_plain(value: Any, where: str, depth: int) -> None:
    """Refuse what cannot be stored as text: NUL characters, unpaired surrogates, absurd nesting."""
    if depth > MAX_NESTING:
        raise RequestError(f"The request body is nested too deeply (at most {MAX_NESTING} levels).")
    if isinstance(value, str):
        if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
            raise RequestError(
                f"{where[0].upper()}{where[1:]} holds a NUL character or an unpaired surrogate, which "
                "cannot be stored as text. Remove it (it is often left by copying from a binary file)."
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, f"a field name in {where}", depth + 1)
            _check_plain(item, f"the field {key!r}", depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_plain(item, where, depth + 1)


def _text_field(data: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise RequestError(f"The {key} must be text.")
    return value


def _path_field(data: dict[str, Any], what: str) -> str:
    """The request's file path relative to the server root, or a message showing the body to send."""
    rel = data.get("path")
    if not isinstance(rel, str) or not rel.strip():
        raise RequestError(f'Give the file as {{"path": "<{what} relative to the server root>"}}.')
    return rel


# --- the answers, built off the loop ----------------------------------------------------------------------------


def _settings(root: Path) -> Any:
    from .settings import load_settings

    return load_settings(root)


def _basket(root: Path) -> Any:
    from .basket import Basket

    return Basket(_settings(root).basket_folder)


def item_view(item: Any) -> dict[str, Any]:
    """An item as the sidebar shows it: its facts plus the words and choices the server decides."""
    exported = bool(item.exported)
    if not item.needs_explanation or item.never_exportable:
        explanation_state = "none"
    elif exported:
        explanation_state = "shown" if item.has_explanation else "none"
    else:
        explanation_state = "editable"
    notes = [STATUS_WORDS[item.status]]
    if exported:
        notes.append("already exported")
    if item.never_exportable:
        notes.append("can never be exported (identifiers or microdata)")
    return {
        "id": item.id,
        "title": item.title,
        "kind": item.kind,
        "status": item.status,
        "status_words": STATUS_WORDS[item.status],
        "kind_label": "background" if item.background else item.kind,
        "background": item.background,
        "background_for": item.background_for,
        "findings": [_finding_view(f) for f in item.findings],
        "explanation": item.explanation,
        "needs_explanation": item.needs_explanation,
        "has_explanation": item.has_explanation,
        "explanation_state": explanation_state,
        "never_exportable": item.never_exportable,
        "exported": [
            {"zip": str(e.get("zip", "")), "folder": str(e.get("folder", "")), "at": str(e.get("at", ""))}
            for e in item.exported
        ],
        "notes": notes,
        "section": "exported" if exported else "waiting",
    }


def _finding_view(f: Any) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "severity": f.severity,
        "label": SEVERITY_WORDS[f.severity],
        "message": f.message,
        "where": f.where,
        "fix": f.fix,
    }


def budget_view(items: list[Any], mode: str = "vooraf") -> dict[str, Any]:
    """The output-light budget of the next export with its verdict in words, as the meter shows it.

    It counts exactly what the plan would put in the zip that may be LIGHT_ (light.waiting_budget)."""
    from .light import count_of, light_budget, light_candidates

    candidates = light_candidates(items, mode)
    budget = light_budget(candidates)
    waiting = sum(1 for i in items if not i.background and not i.exported)
    percent = round(budget.fraction * 100)
    if waiting == 0:
        summary = "No outputs waiting."
    elif not candidates:
        summary = (
            "No output goes to 1_Controle vooraf in the next export, so none can go as output light."
            if mode == "achteraf"
            else "No output can leave yet, so none can go as output light."
        )
    else:
        summary = budget.verdict() + "."
    parts = [
        count_of(budget.tables, "table") if budget.tables else "",
        count_of(budget.cells, "cell") if budget.cells else "",
        f"{count_of(budget.count_cells, 'cell')} with counts" if budget.count_cells else "",
        count_of(budget.models, "model") if budget.models else "",
        count_of(budget.figures, "graph") if budget.figures else "",
    ]
    return {
        **dataclasses.asdict(budget),
        "waiting": waiting,
        "percent": percent,
        "summary": summary,
        "spent_on": ", ".join(p for p in parts if p),
        "why": budget.why_not,
    }


def basket_answer(root: Path) -> dict[str, Any]:
    from .exportmap import meter_mode

    s = _settings(root)
    items = _basket(root).items
    budget = budget_view(items, meter_mode(s.exportmap_folder, s.mode))
    return {"items": [item_view(i) for i in items], "budget": budget}


def _on_item(root: Path, item_id: str, change: Callable[[Any], Any]) -> Any:
    """Apply `change` to the basket; an item that is gone (also when removed meanwhile) answers 404."""
    basket = _basket(root)
    try:
        if any(i.id == item_id for i in basket.items):
            return change(basket)
    except UserError:
        if any(i.id == item_id for i in basket.items):
            raise
    raise RequestError(
        f"There is no item {item_id!r} in the basket (it may have been removed). Refresh the sidebar.", 404
    )


def explain_answer(root: Path, item_id: str, text: str) -> dict[str, Any]:
    return item_view(_on_item(root, item_id, lambda b: b.set_explanation(item_id, text)))


def remove_item(root: Path, item_id: str) -> None:
    _on_item(root, item_id, lambda b: b.remove(item_id))


def _exportmap(settings: Any) -> Path:
    folder = settings.exportmap_folder
    if folder is None:
        raise UserError(
            "No exportmap is set. Enter the exportmap folder in the sidebar's Project settings "
            "(on the RA: F:/exportmap)."
        )
    return folder


def plan_answer(root: Path) -> dict[str, Any]:
    from .exportmap import plan_export

    s = _settings(root)
    plan = plan_export(_basket(root), _exportmap(s), mode=s.mode, project=s.project, researcher=s.researcher)
    return {**plan.to_dict(), "can_prepare": bool(plan.zips)}


def prepare_answer(root: Path, planned_at: str | None = None) -> dict[str, Any]:
    from .exportmap import prepare_export

    s = _settings(root)
    result = prepare_export(
        _basket(root), _exportmap(s), mode=s.mode, project=s.project, researcher=s.researcher, planned_at=planned_at
    )
    exportmap = Path(s.exportmap_folder).resolve()
    written = []
    for path in result.zips:
        path = _inside(exportmap, Path(path), "A written zip")
        with zipfile.ZipFile(path) as zf:
            members = zf.namelist()
        written.append({"folder": path.parent.name, "name": path.name, "path": str(path), "files": members})
    return {
        "exportmap": str(exportmap),
        "zips": written,
        "blocked": [dataclasses.asdict(b) for b in result.blocked],
        "headline": f"Written to {exportmap}" if written else "Nothing was written: no item could leave now.",
        "held_back": [f"'{b.title}' was held back because {b.reason}" for b in result.blocked],
    }


def zip_answer(root: Path, rel: str) -> dict[str, Any]:
    exportmap = Path(_exportmap(_settings(root))).resolve()
    path = _inside(exportmap, _joined(exportmap, rel, "The zip"), "The zip")
    if path.suffix.lower() != ".zip" or not path.is_file():
        raise RequestError(f"{rel!r} is not a zip in the exportmap.", 404)
    with zipfile.ZipFile(path) as zf:
        files = [{"name": i.filename, "size": i.file_size} for i in zf.infolist()]
    return {"folder": path.parent.name, "name": path.name, "files": files}


def _joined(root: Path, rel: str, what: str) -> Path:
    if len(rel) > MAX_PATH_CHARS or "\x00" in rel:
        raise RequestError(
            f"{what} path is too long or holds a NUL character; give a path of at most {MAX_PATH_CHARS} characters."
        )
    return root / rel


def _inside(root: Path, candidate: Path, what: str) -> Path:
    try:
        resolved = candidate.resolve()
    except (OSError, ValueError) as exc:
        raise RequestError(f"{what} {str(candidate)[:200]!r} cannot be used as a path ({exc}).") from None
    if not is_inside(resolved, root):
        raise RequestError(f"{what} must be inside {root}; {candidate} is not.", 403)
    return resolved


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def settings_answer(root: Path, notice: str | None = None) -> dict[str, Any]:
    """The project settings plus what the exportmap looks like, so the sidebar can say what is missing."""
    from .exportmap import ACHTERAF, BACKGROUND, VOORAF, resolve_mode
    from .settings import find_project_file

    settings = _settings(root)
    folder = settings.exportmap_folder
    project_file = find_project_file(root)
    exists = folder is not None and folder.is_dir()
    mode, problem = None, None
    if folder is None:
        problem = "No exportmap is set. Enter the exportmap folder (on the RA: F:/exportmap)."
    elif not exists:
        problem = f"The exportmap {folder} does not exist. Check the path."
    else:
        try:
            mode = resolve_mode(folder, None, settings.mode)
        except UserError as exc:
            problem = str(exc)
    source = "settings" if settings.mode else "exportmap"
    how = "set in the settings" if source == "settings" else "detected from the exportmap"
    fixed = [k for k in EDITABLE_SETTINGS if project_file and settings.origins.get(k) == str(project_file)]
    return {
        "project": settings.project,
        "researcher": settings.researcher,
        "exportmap": str(folder) if folder else None,
        "mode": settings.mode,
        "detected_mode": mode,
        "mode_source": source,
        "mode_sentence": f"Mode: {mode} ({how})" if mode else "Mode: not known yet",
        "mode_choices": [{"value": v, "label": label} for v, label in MODE_CHOICES],
        "exportmap_exists": exists,
        "folders": [
            {"name": n, "exists": bool(exists and (folder / n).is_dir())} for n in (VOORAF, ACHTERAF, BACKGROUND)
        ],
        "problem": problem,
        "notice": notice,
        "basket": str(settings.basket_folder),
        "project_file": str(project_file) if project_file else None,
        "from_project_file": fixed,
    }


def save_settings(root: Path, changes: dict[str, Any]) -> dict[str, Any]:
    from .settings import save_user_settings

    unknown = sorted(set(changes) - set(EDITABLE_SETTINGS))
    if unknown:
        raise RequestError(
            f"Unknown setting(s) {', '.join(unknown)}; the sidebar can change {', '.join(EDITABLE_SETTINGS)}."
        )
    for key in changes:
        _text_field(changes, key)
    notice = None
    if isinstance(changes.get("exportmap"), str):
        text = changes["exportmap"].strip()
        path = Path(text).expanduser()
        full = path if path.is_absolute() else _joined(root, text, "The exportmap")
        changes["exportmap"] = str(full) if text else None
        if text and not path.is_absolute():
            notice = (
                f"'{text}' is not a full path on this server, so it was read as {changes['exportmap']} "
                "(inside the folder JupyterLab was started in)."
            )
    save_user_settings(**changes)
    return settings_answer(root, notice)


def strip_answer(root: Path, rel: str, saved_first: bool) -> dict[str, Any]:
    """Scan a notebook or script and add it to the basket as syntax (a notebook without its outputs)."""
    path = _inside(root, _joined(root, rel, "The file"), "The file")
    suffix = path.suffix.lower()
    if suffix not in (NOTEBOOK_SUFFIX, *SCRIPT_SUFFIXES) or not _is_file(path):
        kinds = ", ".join((NOTEBOOK_SUFFIX, ".R", ".do", ".sps", ".py", ".sas"))
        raise RequestError(f"{rel} is not a notebook or script ({kinds}) on this server.", 404)
    basket = _basket(root)
    with warnings.catch_warnings():  # the reply's summary says it to the researcher; the server log need not
        warnings.simplefilter("ignore", UserWarning)
        if suffix == NOTEBOOK_SUFFIX:
            item = basket.add_notebook(path, path.stem)
        else:
            item = basket.add(str(path), path.name)
    ok = item.status != "fail"
    return {
        "item": item_view(item),
        "ok": ok,
        "path": rel,
        "saved_first": saved_first,
        "title": (
            "Added to the basket as syntax"
            if ok
            else f"The {'notebook' if suffix == NOTEBOOK_SUFFIX else 'script'} still contains data"
        ),
        "summary": strip_summary(item, rel, suffix == NOTEBOOK_SUFFIX, saved_first),
    }


FIGURE_FILES = (".png", ".pdf")


def check_file_answer(root: Path, rel: str, source_rel: str | None = None, title: str | None = None) -> dict[str, Any]:
    """A table or figure file made in R, Stata or SPSS, checked and added to the basket.

    A table file is checked as a plain table (against the source file when one is given); a figure file cannot be
    read, so it goes in as review and the researcher is asked for its N and an explanation. Without a title the
    item is called after the file."""
    from .intake import SOURCE_FILES, TABLE_FILES, read_source_file, read_table_file

    path = _inside(root, _joined(root, rel, "The file"), "The file")
    suffix = path.suffix.lower()
    if suffix not in (*SOURCE_FILES, *FIGURE_FILES) or not _is_file(path):
        kinds = ", ".join((*SOURCE_FILES, *FIGURE_FILES))
        raise RequestError(f"{rel} is not a table or figure file ({kinds}) on this server.", 404)
    if source_rel and suffix in FIGURE_FILES:
        raise RequestError(f"{rel} is a figure file: it is not checked against a source file; leave the source empty.")
    title = title or path.stem
    source = None
    if source_rel:
        source_path = _inside(root, _joined(root, source_rel, "The source file"), "The source file")
        source = read_source_file(source_path)
    basket = _basket(root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if suffix in FIGURE_FILES:
            item = basket.add(str(path), title, description=f"Figure file {rel}")
        else:
            table = read_table_file(path) if suffix in TABLE_FILES else _labelled(read_source_file(path))
            item = basket.add(table, title, description=f"Table file {rel}", data=source)
    against = f" against {source_rel}" if source_rel else ""
    if suffix in FIGURE_FILES:
        summary = (
            f"{rel} was added as '{item.title}'. A figure file cannot be read, so it is to review: in the "
            "sidebar, write its number of observations (N, at least 10 everywhere) and why it discloses "
            "nothing in its explanation."
        )
    elif item.status == "pass":
        summary = f"{rel} was checked as a table{against} and added as '{item.title}': no disclosure risk found."
    else:
        summary = (
            f"{rel} was checked as a table{against} and added as '{item.title}' with status {item.status}: see the "
            "findings below; fix the table and add it again, or explain in the sidebar why it is safe."
            + ("" if source_rel else " Giving the source data file lets the check count the units.")
        )
    return {"item": item_view(item), "path": rel, "title": f"Added '{item.title}' ({item.status})", "summary": summary}


def _labelled(frame: Any) -> Any:
    """Leading text columns of a .sav/.dta table become its row labels, as for a csv."""
    import pandas as pd

    labels = []
    for name in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[name]) or len(labels) == frame.shape[1] - 1:
            break
        labels.append(name)
    return frame.set_index(labels) if labels else frame


def strip_summary(item: Any, rel: str, notebook: bool, saved_first: bool = False) -> str:
    """What the researcher has to do next with a notebook or script just scanned into the basket."""
    what = "notebook" if notebook else "script"
    saved = "Your unsaved changes were saved first. " if saved_first else ""
    added = (
        f"{saved}A copy of {rel} without outputs, attachments or embedded images was added to the basket as "
        f"'{item.title}'"
        if notebook
        else f"{saved}{rel} was scanned and added to the basket as '{item.title}'"
    )
    if item.never_exportable:
        return (
            f"{added}, but its code or text still holds identifying values (listed below), so it can never be "
            f"exported. Remove them from the {what}, scan it again, and remove this item from the basket."
        )
    if item.status != "pass":
        return (
            f"{added}, but its code or text still holds data (listed below), so it is held back. Remove the data "
            f"from the {what} and scan it again, or explain in the basket why it discloses nothing (it then "
            "goes to 1_Controle vooraf)."
        )
    return f"{added}. No identifying values, counts or tables were found in its code or text."


# --- the handlers: HTTP in, one call off the loop, JSON out -----------------------------------------------------


class SettingsHandler(BaseHandler):
    @tornado.web.authenticated
    @_as_message
    async def get(self) -> None:
        self.reply(await self.off_loop(settings_answer, self.root))

    @tornado.web.authenticated
    @_as_message
    async def put(self) -> None:
        self.reply(await self.off_loop(save_settings, self.root, self.body()))


class BasketHandler(BaseHandler):
    @tornado.web.authenticated
    @_as_message
    async def get(self) -> None:
        self.reply(await self.off_loop(basket_answer, self.root))


class ItemHandler(BaseHandler):
    @tornado.web.authenticated
    @_as_message
    async def put(self, item_id: str) -> None:
        explanation = _text_field(self.body(), "explanation") or ""
        self.reply(await self.off_loop(explain_answer, self.root, item_id, explanation))

    @tornado.web.authenticated
    @_as_message
    async def delete(self, item_id: str) -> None:
        await self.off_loop(remove_item, self.root, item_id)
        self.set_status(204)
        self.finish()


class PlanHandler(BaseHandler):
    @tornado.web.authenticated
    @_as_message
    async def get(self) -> None:
        self.reply(await self.off_loop(plan_answer, self.root))


class PrepareHandler(BaseHandler):
    @tornado.web.authenticated
    @_as_message
    async def post(self) -> None:
        planned_at = _text_field(self.body(), "planned_at")
        self.reply(await self.off_loop(prepare_answer, self.root, planned_at))


class ZipHandler(BaseHandler):
    """What is inside a zip already in the exportmap; nothing outside the exportmap is opened."""

    @tornado.web.authenticated
    @_as_message
    async def get(self) -> None:
        self.reply(await self.off_loop(zip_answer, self.root, self.get_query_argument("path", "")))


class StripHandler(BaseHandler):
    @tornado.web.authenticated
    @_as_message
    async def get(self) -> None:
        self.reply({"suffixes": [NOTEBOOK_SUFFIX, *SCRIPT_SUFFIXES]})

    @tornado.web.authenticated
    @_as_message
    async def post(self) -> None:
        data = self.body()
        rel = _path_field(data, "notebook or script path")
        saved_first = data.get("saved_first", False)
        if not isinstance(saved_first, bool):
            raise RequestError("saved_first must be true or false.")
        self.reply(await self.off_loop(strip_answer, self.root, rel, saved_first))


class CheckFileHandler(BaseHandler):
    @tornado.web.authenticated
    @_as_message
    async def post(self) -> None:
        data = self.body()
        rel = _path_field(data, "table or figure file")
        source = (_text_field(data, "source") or "").strip() or None
        title = (_text_field(data, "title") or "").strip() or None
        self.reply(await self.off_loop(check_file_answer, self.root, rel, source, title))


def handlers(base_url: str) -> list[tuple[str, type[BaseHandler]]]:
    def at(*parts: str) -> str:
        return url_path_join(base_url, NAMESPACE, *parts)

    return [
        (at("settings"), SettingsHandler),
        (at("basket"), BasketHandler),
        (at("basket", r"(?P<item_id>[^/]+)"), ItemHandler),
        (at("plan"), PlanHandler),
        (at("prepare"), PrepareHandler),
        (at("zip"), ZipHandler),
        (at("strip"), StripHandler),
        (at("file"), CheckFileHandler),
    ]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Called by jupyter_server (see `_jupyter_server_extension_points` in the package)."""
    web_app = serverapp.web_app
    web_app.add_handlers(".*$", handlers(web_app.settings["base_url"]))
    serverapp.log.info("cbs_export_lab: REST API at /%s/", NAMESPACE)
