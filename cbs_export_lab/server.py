"""The server extension: a small authenticated REST API under `/cbs-export-lab/` for the JupyterLab sidebar.

Every decision stays in the Python modules; these handlers only translate between HTTP and them. A user mistake
(`UserError`) comes back as JSON `{"message": ...}` with a 4xx status, so the sidebar can show it as it is.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any, Awaitable, Callable

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from .errors import UserError
from .names import is_inside

NAMESPACE = "cbs-export-lab"
EDITABLE_SETTINGS = ("project", "researcher", "exportmap", "mode")


class RequestError(UserError):
    """A request the sidebar should not have sent (bad JSON, unknown item, path outside where it may look)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _as_message(method: Callable[..., Awaitable[None] | None]) -> Callable[..., Awaitable[None]]:
    """Turn user mistakes into `{"message": ...}` with a 4xx status instead of a traceback."""

    @functools.wraps(method)
    async def wrapper(self: "BaseHandler", *args: Any, **kwargs: Any) -> None:
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

    def load(self) -> Any:
        from .settings import load_settings

        return load_settings(self.root)

    def basket(self) -> Any:
        from .basket import Basket

        return Basket(self.load().basket_folder)

    def body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            raise RequestError("The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise RequestError("The request body must be a JSON object.")
        return data

    def reply(self, data: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    def _reply_error(self, status: int, message: str) -> None:
        self.set_status(status)
        self.reply({"message": message})

    def item_or_404(self, basket: Any, item_id: str) -> Any:
        if not any(i.id == item_id for i in basket.items):
            raise RequestError(f"There is no item {item_id!r} in the basket (it may have been removed). "
                               "Refresh the sidebar.", 404)
        return basket.get(item_id)


def item_dict(item: Any) -> dict[str, Any]:
    """An item as the sidebar shows it: the stored fields plus the flags it needs to decide what to ask."""
    return {**item.to_dict(), "needs_explanation": item.needs_explanation, "has_explanation": item.has_explanation}


def _inside(root: Path, candidate: Path, what: str) -> Path:
    resolved = candidate.resolve()
    if not is_inside(resolved, root):
        raise RequestError(f"{what} must be inside {root}; {candidate} is not.", 403)
    return resolved


class SettingsHandler(BaseHandler):
    """The project settings plus what the exportmap looks like, so the sidebar can say what is missing."""

    @tornado.web.authenticated
    @_as_message
    def get(self) -> None:
        self.reply(self.describe(self.load()))

    @tornado.web.authenticated
    @_as_message
    def put(self) -> None:
        from .settings import save_user_settings

        changes = self.body()
        unknown = sorted(set(changes) - set(EDITABLE_SETTINGS))
        if unknown:
            raise RequestError(f"Unknown setting(s) {', '.join(unknown)}; the sidebar can change "
                               f"{', '.join(EDITABLE_SETTINGS)}.")
        if isinstance(changes.get("exportmap"), str):
            text = changes["exportmap"].strip()
            path = Path(text).expanduser()
            changes["exportmap"] = str(path if path.is_absolute() else self.root / path) if text else None
        save_user_settings(**changes)
        self.reply(self.describe(self.load()))

    def describe(self, settings: Any) -> dict[str, Any]:
        from .exportmap import ACHTERAF, BACKGROUND, VOORAF, resolve_mode
        from .settings import find_project_file

        folder = settings.exportmap_folder
        project_file = find_project_file(self.root)
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
        return {
            "project": settings.project, "researcher": settings.researcher,
            "exportmap": str(folder) if folder else None, "mode": settings.mode,
            "detected_mode": mode, "mode_source": "settings" if settings.mode else "exportmap",
            "exportmap_exists": exists,
            "folders": [{"name": n, "exists": bool(exists and (folder / n).is_dir())} for n in (VOORAF, ACHTERAF, BACKGROUND)],
            "problem": problem, "basket": str(settings.basket_folder), "origins": settings.origins,
            "project_file": str(project_file) if project_file else None,
            "from_project_file": [k for k in EDITABLE_SETTINGS if project_file and settings.origins.get(k) == str(project_file)],
        }


class BasketHandler(BaseHandler):
    @tornado.web.authenticated
    @_as_message
    def get(self) -> None:
        from .light import waiting_budget

        items = self.basket().items
        self.reply({"items": [item_dict(i) for i in items], "budget": dataclasses.asdict(waiting_budget(items))})


class ItemHandler(BaseHandler):
    @tornado.web.authenticated
    @_as_message
    def put(self, item_id: str) -> None:
        explanation = self.body().get("explanation")
        if explanation is not None and not isinstance(explanation, str):
            raise RequestError("The explanation must be text.")
        basket = self.basket()
        self.item_or_404(basket, item_id)
        basket.set_explanation(item_id, explanation or "")
        self.reply(item_dict(basket.get(item_id)))

    @tornado.web.authenticated
    @_as_message
    def delete(self, item_id: str) -> None:
        basket = self.basket()
        self.item_or_404(basket, item_id)
        basket.remove(item_id)
        self.set_status(204)
        self.finish()


class PlanHandler(BaseHandler):
    @tornado.web.authenticated
    @_as_message
    def get(self) -> None:
        from .exportmap import plan_export

        s = self.load()
        plan = plan_export(self.basket(), s.exportmap_folder, mode=s.mode, project=s.project, researcher=s.researcher)
        self.reply(plan.to_dict())


class PrepareHandler(BaseHandler):
    @tornado.web.authenticated
    @_as_message
    def post(self) -> None:
        from .exportmap import prepare_export

        s = self.load()
        result = prepare_export(self.basket(), s.exportmap_folder, mode=s.mode, project=s.project,
                                researcher=s.researcher)
        root = Path(s.exportmap_folder).resolve()
        written = []
        for path in result.zips:
            path = _inside(root, Path(path), "A written zip")
            with zipfile.ZipFile(path) as zf:
                members = zf.namelist()
            written.append({"folder": path.parent.name, "name": path.name, "path": str(path), "files": members})
        self.reply({"exportmap": str(root), "zips": written, "blocked": [dataclasses.asdict(b) for b in result.blocked]})


class ZipHandler(BaseHandler):
    """What is inside a zip already in the exportmap; nothing outside the exportmap is opened."""

    @tornado.web.authenticated
    @_as_message
    def get(self) -> None:
        s = self.load()
        if s.exportmap_folder is None:
            raise UserError("No exportmap is set. Enter the exportmap folder in the sidebar settings.")
        root = Path(s.exportmap_folder).resolve()
        rel = self.get_query_argument("path", "")
        path = _inside(root, root / rel, "The zip")
        if path.suffix.lower() != ".zip" or not path.is_file():
            raise RequestError(f"{rel!r} is not a zip in the exportmap.", 404)
        with zipfile.ZipFile(path) as zf:
            files = [{"name": i.filename, "size": i.file_size} for i in zf.infolist()]
        self.reply({"folder": path.parent.name, "name": path.name, "files": files})


class StripHandler(BaseHandler):
    @tornado.web.authenticated
    @_as_message
    def post(self) -> None:
        rel = self.body().get("path")
        if not isinstance(rel, str) or not rel.strip():
            raise RequestError('Give the notebook as {"path": "<notebook path relative to the server root>"}.')
        path = _inside(self.root, self.root / rel, "The notebook")
        if path.suffix.lower() != ".ipynb" or not path.is_file():
            raise RequestError(f"{rel} is not a notebook (.ipynb file) on this server.", 404)
        with warnings.catch_warnings():  # the reply's summary says it to the researcher; the server log need not
            warnings.simplefilter("ignore", UserWarning)
            item = self.basket().add_notebook(path, path.stem)
        self.reply({"item": item_dict(item), "ok": item.status != "fail", "path": rel,
                    "summary": strip_summary(item, rel)})


def strip_summary(item: Any, rel: str) -> str:
    """What the researcher has to do next with a notebook just stripped into the basket."""
    added = f"A copy of {rel} without outputs, attachments or embedded images was added to the basket as '{item.title}'"
    if item.never_exportable:
        return (f"{added}, but its code or text still holds identifying values (listed below), so it can never be "
                "exported. Remove them from the notebook, strip it again, and remove this item from the basket.")
    if item.status != "pass":
        return (f"{added}, but its code or text still holds data (listed below), so it is held back. Remove the data "
                "from the notebook and strip it again, or explain in the basket why it discloses nothing (it then "
                "goes to 1_Controle vooraf).")
    return f"{added}. No identifying values, counts or tables were found in its code or text."


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
    ]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Called by jupyter_server (see `_jupyter_server_extension_points` in the package)."""
    web_app = serverapp.web_app
    web_app.add_handlers(".*$", handlers(web_app.settings["base_url"]))
    serverapp.log.info("cbs_export_lab: REST API at /%s/", NAMESPACE)
