"""The REST API the sidebar uses, on a real jupyter_server with the extension loaded (pytest-jupyter).

Every answer of every call in these tests, errors included, is validated against the OpenAPI file
(cbs_export_lab/rest-api.json), and its status must be one the file declares for that route.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import zipfile
from functools import cache
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from jsonschema import Draft202012Validator
from tornado.httpclient import HTTPClientError

import cbs_export_lab as cel
from cbs_export_lab import codes, demo, server
from cbs_export_lab.errors import UserError
from cbs_export_lab.exportmap import ACHTERAF, VOORAF

pytest_plugins = ["pytest_jupyter.jupyter_server"]

ENDPOINTS = [
    ("GET", "settings"),
    ("PUT", "settings"),
    ("GET", "basket"),
    ("PUT", "basket/x"),
    ("DELETE", "basket/x"),
    ("GET", "plan"),
    ("POST", "prepare"),
    ("GET", "strip"),
    ("POST", "strip"),
    ("GET", "zip"),
    ("POST", "file"),
]


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"cbs_export_lab": True}}}


SPEC_FILE = Path(server.__file__).with_name("rest-api.json")
LABEXTENSION = Path(__file__).resolve().parents[1] / "labextension"


@cache
def spec() -> dict:
    return json.loads(SPEC_FILE.read_text(encoding="utf-8"))


def route_of(path: str) -> str:
    """The OpenAPI path template a request path falls under ('basket/t01-x' -> '/basket/{item_id}')."""
    for template in spec()["paths"]:
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), "/" + path.split("?")[0]):
            return template
    raise AssertionError(f"/{path} is not in {SPEC_FILE.name}")


def validate_answer(method: str, path: str, status: int, answer) -> None:
    """The answer must have a status the spec declares for this route and match that status's schema."""
    responses = spec()["paths"][route_of(path)][method.lower()]["responses"]
    assert str(status) in responses, f"{method} /{path} answered {status}, not declared in {SPEC_FILE.name}: {answer}"
    content = responses[str(status)].get("content")
    if content is None:
        assert answer is None, f"{method} /{path} {status} should have no body: {answer}"
        return
    schema = content["application/json"]["schema"]
    errors = sorted(Draft202012Validator({**spec(), **schema}).iter_errors(answer), key=str)
    assert not errors, f"{method} /{path} {status} does not match {SPEC_FILE.name}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
    )


@pytest.fixture
def raw(jp_fetch):
    """Send a raw body; returns (status, decoded JSON or None), validated against the spec."""

    async def send(method: str, path: str, body: bytes | str | None, **kw):
        try:
            response = await jp_fetch("cbs-export-lab", *path.split("/"), method=method, body=body, **kw)
        except HTTPClientError as exc:
            response = exc.response
            assert response is not None, exc
        text = response.body.decode() if response.body else ""
        answer = json.loads(text) if text else None
        validate_answer(method, path, response.code, answer)
        return response.code, answer

    return send


@pytest.fixture
def api(raw):
    """Call an endpoint with a JSON body; returns (status, decoded JSON or None); HTTP errors are returned."""

    async def call(method: str, path: str, body: dict | None = None, **kw):
        if body is None and method in ("PUT", "POST"):
            body = {}
        return await raw(method, path, None if body is None else json.dumps(body), **kw)

    return call


@pytest.fixture
def basket(persons):
    """The basket the kernel writes to (the default one from the settings), with a count table and a small one."""
    b = cel.Basket()
    b.add(pd.crosstab(persons["leeftijdsklasse"], persons["geslacht"]), "Persons by age band and sex")
    few = persons[persons["gemeente"] == persons["gemeente"].value_counts().index[-1]].head(12)
    b.add(pd.crosstab(few["leeftijdsklasse"], few["geslacht"]), "Small municipality by age band")
    return b


async def test_every_endpoint_refuses_requests_without_the_token(api):
    for method, path in ENDPOINTS:
        status, _ = await api(method, path, headers={"Authorization": ""})
        assert status == 403, (method, path, status)


async def test_settings_report_the_missing_exportmap_then_the_detected_mode(api, exportmap):
    status, before = await api("GET", "settings")
    assert status == 200
    assert before["exportmap"] is None and not before["exportmap_exists"] and before["detected_mode"] is None
    assert "exportmap" in before["problem"]

    change = {"exportmap": str(exportmap), "project": "9876", "researcher": "A. Onderzoeker"}
    status, after = await api("PUT", "settings", change)
    assert status == 200
    assert (after["project"], after["researcher"]) == ("9876", "A. Onderzoeker")
    assert Path(after["exportmap"]) == exportmap and after["exportmap_exists"]
    assert after["detected_mode"] == "achteraf" and after["mode_source"] == "exportmap" and after["problem"] is None
    assert all(f["exists"] for f in after["folders"])
    assert cel.load_settings().project == "9876"  # the kernel and the CLI read the same settings

    status, forced = await api("PUT", "settings", {"mode": "vooraf"})
    assert forced["detected_mode"] == "vooraf" and forced["mode_source"] == "settings"


async def test_settings_with_a_relative_exportmap_is_taken_from_the_server_root(api, jp_root_dir):
    demo.make_exportmap(jp_root_dir / "em", "vooraf")
    status, body = await api("PUT", "settings", {"exportmap": "em"})
    assert status == 200 and Path(body["exportmap"]) == (jp_root_dir / "em").resolve()
    assert body["detected_mode"] == "vooraf"
    assert [f["exists"] for f in body["folders"]] == [True, False, False]


async def test_a_blank_exportmap_clears_it_instead_of_pointing_at_the_server_root(api, exportmap):
    await api("PUT", "settings", {"exportmap": str(exportmap)})
    status, body = await api("PUT", "settings", {"exportmap": "   "})
    assert status == 200 and body["exportmap"] is None and "No exportmap is set" in body["problem"]


async def test_settings_say_which_values_a_project_file_fixes(api, jp_root_dir):
    (jp_root_dir / "cbs-export.toml").write_text('project = "1234"\nexportmap = "em"\n', encoding="utf-8")
    demo.make_exportmap(jp_root_dir / "em", "achteraf")
    status, body = await api("PUT", "settings", {"project": "5555", "researcher": "B. Onderzoeker"})
    assert status == 200
    assert body["project"] == "1234" and body["researcher"] == "B. Onderzoeker"
    assert Path(body["project_file"]) == jp_root_dir / "cbs-export.toml"
    assert sorted(body["from_project_file"]) == ["exportmap", "project"]
    assert body["detected_mode"] == "achteraf"


async def test_a_bad_setting_comes_back_as_the_settings_message(api):
    with pytest.raises(UserError) as expected:
        cel.settings.save_user_settings(mode="sometimes")
    status, body = await api("PUT", "settings", {"mode": "sometimes"})
    assert status == 400 and body == {"message": str(expected.value)}

    status, body = await api("PUT", "settings", {"rules": "/elsewhere/rules.toml"})
    assert status == 400 and "rules" in body["message"]


async def test_a_body_that_is_not_json_is_refused_with_a_message(raw):
    status, body = await raw("POST", "strip", "path=analysis.ipynb")
    assert status == 400 and "not valid JSON" in body["message"]


async def test_basket_lists_what_the_kernel_added_with_findings_and_budget(api, basket):
    status, body = await api("GET", "basket")
    assert status == 200
    expected = basket.items
    assert [i["id"] for i in body["items"]] == [i.id for i in expected]
    for shown, item in zip(body["items"], expected, strict=True):
        assert (shown["title"], shown["kind"], shown["status"]) == (item.title, item.kind, item.status)
        assert [f["message"] for f in shown["findings"]] == [f.message for f in item.findings]
        assert shown["needs_explanation"] == item.needs_explanation
    from cbs_export_lab.light import waiting_budget

    assert body["budget"]["fraction"] == pytest.approx(waiting_budget(expected).fraction)
    assert body["budget"]["fits"] == waiting_budget(expected).fits


async def test_explanation_is_stored_and_an_item_can_be_removed(api, basket):
    first, second = (i.id for i in basket.items)
    status, body = await api("PUT", f"basket/{second}", {"explanation": "  The small cells are pooled over years.  "})
    assert status == 200 and body["has_explanation"]
    assert basket.get(second).explanation == "The small cells are pooled over years."

    status, _ = await api("DELETE", f"basket/{first}")
    assert status == 204
    assert [i.id for i in basket.items] == [second]

    status, body = await api("DELETE", f"basket/{first}")
    assert status == 404 and "no item" in body["message"]
    status, body = await api("PUT", f"basket/{second}", {"explanation": 42})
    assert status == 400 and "text" in body["message"]


async def test_plan_and_prepare_without_an_exportmap_point_to_the_sidebar_settings(api, basket):
    for method, path in (("GET", "plan"), ("POST", "prepare")):
        status, body = await api(method, path)
        assert status == 400 and "No exportmap is set" in body["message"] and "sidebar" in body["message"]
        assert "--exportmap" not in body["message"]  # a CLI flag means nothing in the sidebar


async def test_plan_is_the_python_plan_in_plain_words(api, basket, exportmap):
    await api("PUT", "settings", {"exportmap": str(exportmap), "project": "9876"})
    status, body = await api("GET", "plan")
    assert status == 200
    expected = cel.plan_export(basket, exportmap, project="9876")
    assert body["mode"] == expected.mode == "achteraf"
    assert [(z["folder"], z["items"]) for z in body["zips"]] == [(z.folder, z.items) for z in expected.zips]
    assert [(b["item_id"], b["reason"]) for b in body["blocked"]] == [(b.item_id, b.reason) for b in expected.blocked]
    assert body["description"] == expected.describe()
    assert body["can_prepare"] == bool(expected.zips)
    held = {b.item_id for b in expected.blocked}
    for item in basket.items:
        assert any(item.title in line for line in body["description"]), item.title
        if item.needs_explanation and not item.has_explanation:
            assert item.id in held


async def test_prepare_writes_the_zips_and_says_where(api, basket, exportmap):
    await api("PUT", "settings", {"exportmap": str(exportmap), "project": "9876"})
    for item in basket.items:
        if item.needs_explanation:
            basket.set_explanation(item.id, "Explained for the checker.")
    status, body = await api("POST", "prepare")
    assert status == 200 and body["zips"], body
    for written in body["zips"]:
        path = Path(written["path"])
        assert path.parent == exportmap / written["folder"] and written["folder"] in (VOORAF, ACHTERAF)
        with zipfile.ZipFile(path) as zf:
            assert zf.testzip() is None
            assert sorted(zf.namelist()) == sorted(written["files"])
        status, listing = await api("GET", "zip", params={"path": f"{written['folder']}/{written['name']}"})
        assert status == 200 and sorted(f["name"] for f in listing["files"]) == sorted(written["files"])
    assert all(item.exported for item in basket.items)

    status, again = await api("GET", "plan")
    assert again["zips"] == []
    status, after = await api("GET", "basket")
    assert after["budget"]["fraction"] == 0 and after["budget"]["tables"] == 0  # exported items no longer count


async def test_zip_listing_refuses_paths_outside_the_exportmap(api, exportmap, tmp_path):
    await api("PUT", "settings", {"exportmap": str(exportmap)})
    outside = tmp_path / "elsewhere.zip"
    with zipfile.ZipFile(outside, "w") as zf:
        zf.writestr("secret.txt", "microdata")
    for path in ("../elsewhere.zip", str(outside)):
        status, body = await api("GET", "zip", params={"path": path})
        assert status == 403 and "inside" in body["message"], path
    status, body = await api("GET", "zip", params={"path": f"{VOORAF}/missing.zip"})
    assert status == 404


async def test_zip_listing_without_an_exportmap_says_what_to_set(api):
    status, body = await api("GET", "zip", params={"path": "x.zip"})
    assert status == 400 and "No exportmap is set" in body["message"]


def _notebook(path: Path, code: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbformat.write(nb, path)
    return path


async def test_strip_adds_the_notebook_as_syntax_with_its_scan_report(api, jp_root_dir):
    (jp_root_dir / "work").mkdir()
    src = _notebook(jp_root_dir / "work" / "Analysis.IPYNB", "import pandas as pd\ndf = pd.read_csv('data.csv')\ndf")
    src_nb = nbformat.read(src, as_version=4)
    src_nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="gemeente aantal\nVlieland 3\n")]
    nbformat.write(src_nb, src)
    status, body = await api("POST", "strip", {"path": "work/Analysis.IPYNB"})
    assert status == 200, body
    assert body["item"]["kind"] == "syntax" and body["item"]["title"] == "Analysis"
    assert body["ok"] and body["item"]["findings"] == [] and "No identifying values" in body["summary"]
    stored = cel.Basket().get(body["item"]["id"])
    copies = [cel.Basket().path(stored, f) for f in stored.files if f.endswith(".ipynb")]
    assert copies and all(c.outputs == [] for p in copies for c in nbformat.read(p, as_version=4).cells)
    assert "Vlieland" not in "".join(p.read_text(encoding="utf-8") for p in copies)


async def test_strip_says_what_to_do_when_the_notebook_still_holds_data(api, jp_root_dir, persons):
    by_age = persons.groupby("leeftijdsklasse", observed=True).size()
    pasted = "\n".join(f"# {age}\t{n}" for age, n in by_age.items())
    _notebook(jp_root_dir / "counts.ipynb", f"{pasted}\nx = 1\n")
    status, body = await api("POST", "strip", {"path": "counts.ipynb"})
    assert status == 200 and not body["ok"]
    assert {f["rule"] for f in body["item"]["findings"]} == {"data"}
    assert "explain" in body["summary"] and "1_Controle vooraf" in body["summary"]

    rin = persons["RINPERSOON"].iloc[0]
    _notebook(jp_root_dir / "ids.ipynb", f"odd = persons[persons.RINPERSOON == '{rin}']\n")
    status, body = await api("POST", "strip", {"path": "ids.ipynb"})
    assert status == 200 and not body["ok"] and body["item"]["never_exportable"]
    assert "never be exported" in body["summary"] and rin not in json.dumps(body)


async def test_strip_refuses_notebooks_outside_the_server_root(api, jp_root_dir, tmp_path):
    outside = _notebook(tmp_path / "outside.ipynb", "x = 1\n")
    for path in (str(outside), "../outside.ipynb", "../../" + outside.name):
        status, body = await api("POST", "strip", {"path": path})
        assert status == 403 and "inside" in body["message"], path
    status, body = await api("POST", "strip", {"path": "nope.ipynb"})
    assert status == 404 and "not a notebook or script" in body["message"]
    (jp_root_dir / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    status, body = await api("POST", "strip", {"path": "data.csv"})
    assert status == 404 and ".sps" in body["message"]
    status, body = await api("POST", "strip", {})
    assert status == 400 and "path" in body["message"]
    assert cel.Basket().items == []


# --- the contract: one OpenAPI file, the same routes as the server, the TypeScript types taken from it --------------


def test_the_openapi_file_names_every_route_and_method_of_the_server():
    served = {}
    for pattern, handler in server.handlers("/"):
        template = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern.removeprefix(f"/{server.NAMESPACE}"))
        served[template] = {m.lower() for m in ("GET", "PUT", "POST", "DELETE") if m.lower() in vars(handler)}
    written = {path: {m for m in ops if m != "parameters"} for path, ops in spec()["paths"].items()}
    assert written == served
    Draft202012Validator.check_schema({k: v for k, v in spec().items() if k == "components"})
    for ops in spec()["paths"].values():
        for method, op in ops.items():
            if method != "parameters":
                assert all(r.startswith(("2", "4")) for r in op["responses"]), (method, op["operationId"])


def test_the_openapi_enums_are_the_codes_of_the_package():
    schemas = spec()["components"]["schemas"]
    assert tuple(schemas["Status"]["enum"]) == codes.STATUSES
    assert tuple(schemas["Severity"]["enum"]) == codes.SEVERITIES
    assert tuple(schemas["ItemKind"]["enum"]) == codes.ITEM_KINDS


def test_the_committed_typescript_types_are_generated_from_the_openapi_file(tmp_path):
    tools = LABEXTENSION / "node_modules" / ".bin"
    if not (tools / "openapi-typescript").exists() or shutil.which("node") is None:
        pytest.skip("the labextension's node modules are not installed (the wheel build installs them)")
    out = tmp_path / "api-types.ts"
    subprocess.run(
        [str(tools / "openapi-typescript"), str(SPEC_FILE), "--output", str(out)],
        check=True,
        capture_output=True,
        cwd=LABEXTENSION,
        timeout=120,
    )
    subprocess.run(
        [str(tools / "prettier"), "--config", str(LABEXTENSION / ".prettierrc.json"), "--write", str(out)],
        check=True,
        capture_output=True,
        cwd=LABEXTENSION,
        timeout=120,
    )
    generated = out.read_text(encoding="utf-8")
    committed = (LABEXTENSION / "src" / "api-types.ts").read_text(encoding="utf-8")
    assert generated == committed, "run `jlpm run api-types` in labextension/ and commit src/api-types.ts"


# --- the sidebar shows what the server decides ---------------------------------------------------------------------


async def test_items_carry_their_words_and_what_may_be_explained(api, basket, exportmap):
    status, body = await api("GET", "basket")
    shown = {i["id"]: i for i in body["items"]}
    for item in basket.items:
        view = shown[item.id]
        assert view["status_words"] == server.STATUS_WORDS[item.status] and view["notes"][0] == view["status_words"]
        assert view["explanation_state"] == ("editable" if item.needs_explanation else "none")
        assert view["section"] == "waiting"
        assert [f["label"] for f in view["findings"]] == [server.SEVERITY_WORDS[f.severity] for f in item.findings]
    # Both plain tables are unexplained reviews: held back, so the meter counts nothing, as the plan would.
    assert body["budget"]["waiting"] == 2 and "none can go as output light" in body["budget"]["summary"]
    assert body["budget"]["spent_on"] == "" and body["budget"]["fraction"] == 0

    await api("PUT", "settings", {"exportmap": str(exportmap)})
    for item in basket.items:
        if item.needs_explanation:
            basket.set_explanation(item.id, "Pooled over years.")
    status, _ = await api("POST", "prepare")
    status, after = await api("GET", "basket")
    for view in after["items"]:
        assert "already exported" in view["notes"] and view["exported"] and view["section"] == "exported"
        assert view["explanation_state"] == ("shown" if view["needs_explanation"] else "none")
    assert after["budget"]["waiting"] == 0 and after["budget"]["summary"] == "No outputs waiting."


async def test_settings_list_the_modes_and_say_how_a_relative_exportmap_was_read(api, jp_root_dir):
    status, body = await api("GET", "settings")
    assert [c["value"] for c in body["mode_choices"]] == ["", "vooraf", "achteraf"]
    assert body["mode_sentence"] == "Mode: not known yet" and body["notice"] is None
    status, body = await api("PUT", "settings", {"exportmap": "F:/exportmap"})
    assert status == 200 and str(jp_root_dir) in body["notice"] and "F:/exportmap" in body["notice"]
    demo.make_exportmap(jp_root_dir / "em", "achteraf")
    status, body = await api("PUT", "settings", {"exportmap": str(jp_root_dir / "em")})
    assert body["notice"] is None and body["mode_sentence"] == "Mode: achteraf (detected from the exportmap)"


# --- hardening: no frozen server, no 500 ---------------------------------------------------------------------------

HOLD_LOCK = """
import sys, time
from pathlib import Path
from filelock import FileLock
lock = FileLock(sys.argv[1])
with lock:
    Path(sys.argv[2]).write_text("held")
    release = Path(sys.argv[3])
    for _ in range(1200):
        if release.exists():
            break
        time.sleep(0.05)
"""


async def _until(condition, what: str) -> None:
    for _ in range(1200):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


async def test_a_kernel_holding_the_basket_lock_does_not_freeze_the_server(api, basket, jp_fetch, tmp_path):
    """While another process holds the lock, a write waits for it and every other request is answered."""
    from cbs_export_lab.basket import LOCK

    held, release = tmp_path / "held", tmp_path / "release"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(basket.folder / LOCK), str(held), str(release)])
    try:
        await _until(held.exists, "the lock holder")
        item_id = basket.items[1].id
        writing = asyncio.ensure_future(api("PUT", f"basket/{item_id}", {"explanation": "Pooled over years."}))
        status = await jp_fetch("api", "status")
        assert status.code == 200
        for path in ("settings", "basket"):
            code, _ = await api("GET", path)
            assert code == 200, path
        assert not writing.done() and holder.poll() is None  # answered while the lock is still held
        release.touch()
        code, body = await writing
        assert code == 200 and body["has_explanation"]
    finally:
        release.touch()
        holder.wait(timeout=60)


async def test_an_item_removed_meanwhile_answers_404_not_400(api, basket, monkeypatch):
    first, second = (i.id for i in basket.items)
    real_remove = cel.Basket.remove
    for method, item_id, name in (("PUT", first, "set_explanation"), ("DELETE", second, "remove")):
        original = getattr(cel.Basket, name)

        def removed_meanwhile(self, target, *args, _original=original, **kw):
            real_remove(cel.Basket(self.folder), target)  # another process removes the item between check and change
            return _original(self, target, *args, **kw)

        monkeypatch.setattr(cel.Basket, name, removed_meanwhile)
        status, body = await api(method, f"basket/{item_id}", {"explanation": "x"} if method == "PUT" else None)
        assert status == 404 and "no item" in body["message"], (method, body)
        monkeypatch.setattr(cel.Basket, name, original)


@pytest.mark.parametrize(
    "body, expected",
    [
        ('{"explanation": "' + "[" * 5000 + '"}', None),  # a long text is fine up to the size limit
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"explanation": ' + "[" * 40 + "]" * 40 + "}", "nested too deeply"),
        ('{"explanation": "half a pair \\ud800 here"}', "unpaired surrogate"),
        ('{"explanation": "a\\u0000b"}', "NUL character"),
        ('{"\\udfff": "x"}', "unpaired surrogate"),
        ('{"explanation": ["a list"]}', "must be text"),
        ('{"explanation": "' + "x" * 1_100_000 + '"}', "at most 1,000,000"),
    ],
)
async def test_malformed_bodies_answer_a_message_never_500(raw, basket, body, expected):
    item_id = basket.items[1].id
    status, answer = await raw("PUT", f"basket/{item_id}", body)
    if expected is None:
        assert status == 200
    else:
        assert status in (400, 413) and expected in answer["message"], answer


async def test_settings_and_strip_refuse_unstorable_values_with_a_message(api, raw):
    for change in ({"project": ["9876"]}, {"researcher": {"name": "A"}}, {"mode": 3}):
        status, body = await api("PUT", "settings", change)
        assert status == 400 and "must be text" in body["message"], change
    status, body = await raw("PUT", "settings", '{"researcher": "A. \\u0000Onderzoeker"}')
    assert status == 400 and "NUL" in body["message"]
    for path in ("x" * 5000 + ".ipynb", "a/" + "y" * 300 + ".R", "../" * 2000 + "etc/passwd"):
        status, body = await api("POST", "strip", {"path": path})
        assert status in (400, 403, 404) and body["message"], path
    status, body = await api("POST", "strip", {"path": "x.R", "saved_first": "yes"})
    assert status == 400 and "saved_first" in body["message"]
    status, body = await api("GET", "zip", params={"path": "z" * 5000 + ".zip"})
    assert status == 400 and body["message"]


# --- scan and add as syntax: notebooks and scripts -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, comment",
    [("analysis.R", "#"), ("analysis.do", "//"), ("analysis.sps", "*"), ("analysis.py", "#"), ("analysis.sas", "*")],
)
async def test_strip_scans_scripts_of_every_language_into_the_basket(api, jp_root_dir, persons, name, comment):
    rin = persons["RINPERSOON"].iloc[0]
    (jp_root_dir / name).write_text(f"{comment} select one person\nx = '{rin}'\n", encoding="utf-8")
    status, body = await api("POST", "strip", {"path": name})
    assert status == 200, body
    stored = cel.Basket().get(body["item"]["id"])
    assert body["item"]["title"] == stored.title == name
    assert [f["rule"] for f in body["item"]["findings"]] == [f.rule for f in stored.findings]
    assert "identifier" in {f.rule for f in stored.findings} and stored.never_exportable and not body["ok"]
    assert name in body["summary"] and "never be exported" in body["summary"] and rin not in json.dumps(body)
    assert body["title"] == "The script still contains data"


async def test_strip_lists_the_files_it_scans(api):
    status, body = await api("GET", "strip")
    assert status == 200 and body["suffixes"] == [".ipynb", ".r", ".do", ".sps", ".py", ".sas"]


async def test_strip_says_when_unsaved_changes_were_saved_first(api, jp_root_dir):
    _notebook(jp_root_dir / "clean.ipynb", "x = 1\n")
    status, body = await api("POST", "strip", {"path": "clean.ipynb", "saved_first": True})
    assert status == 200 and body["saved_first"]
    assert body["summary"].startswith("Your unsaved changes were saved first.")
    assert body["title"] == "Added to the basket as syntax"


async def test_a_table_or_figure_file_from_the_file_browser_is_checked_and_added(api, jp_root_dir, persons):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Tabel 1. Personen naar geslacht (uit R)"])
    ws.append([])
    ws.append(["geslacht", "aantal"])
    for label, n in persons["geslacht"].value_counts().items():
        ws.append([str(label), int(n)])
    wb.save(jp_root_dir / "tabel.xlsx")
    persons.to_csv(jp_root_dir / "bron.csv", index=False)
    (jp_root_dir / "figuur.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 32)

    status, body = await api("POST", "file", {"path": "tabel.xlsx"})
    assert status == 200 and body["item"]["kind"] == "table" and body["item"]["title"] == "tabel"
    assert body["item"]["status"] != "fail"
    status, body = await api("POST", "file", {"path": "figuur.png"})
    assert status == 200 and body["item"]["status"] == "review" and "number of observations" in body["summary"]
    status, body = await api("POST", "file", {"path": "bron.txt"})
    assert status == 404
    status, body = await api("GET", "basket")
    assert {"tabel", "figuur"} <= {i["title"] for i in body["items"]}


async def test_a_file_from_the_file_browser_gets_the_title_and_source_of_the_form(api, jp_root_dir, persons):
    persons["geslacht"].value_counts().rename_axis("geslacht").rename("aantal").to_csv(jp_root_dir / "tabel.csv")
    persons.to_csv(jp_root_dir / "bron.csv", index=False)
    (jp_root_dir / "figuur.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 32)

    body = {"path": "tabel.csv", "title": "  Personen naar geslacht, 18+  ", "source": "bron.csv"}
    status, answer = await api("POST", "file", body)
    assert status == 200 and answer["item"]["title"] == "Personen naar geslacht, 18+"
    assert "against bron.csv" in answer["summary"]
    status, answer = await api("POST", "file", {"path": "figuur.png", "title": "", "source": None})
    assert status == 200 and answer["item"]["title"] == "figuur"  # an empty title: called after the file
    status, answer = await api("POST", "file", {"path": "figuur.png", "source": "bron.csv"})
    assert status == 400 and "leave the source empty" in answer["message"]
