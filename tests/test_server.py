"""The REST API the sidebar uses, on a real jupyter_server with the extension loaded (pytest-jupyter)."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from tornado.httpclient import HTTPClientError

import cbs_export_lab as cel
from cbs_export_lab import demo
from cbs_export_lab.errors import UserError
from cbs_export_lab.exportmap import ACHTERAF, VOORAF

pytest_plugins = ["pytest_jupyter.jupyter_server"]

ENDPOINTS = [
    ("GET", "settings"), ("PUT", "settings"), ("GET", "basket"), ("PUT", "basket/x"), ("DELETE", "basket/x"),
    ("GET", "plan"), ("POST", "prepare"), ("POST", "strip"), ("GET", "zip"),
]


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"cbs_export_lab": True}}}


@pytest.fixture
def api(jp_fetch):
    """Call an endpoint; returns (status, decoded JSON or None); HTTP errors are returned, not raised."""

    async def call(method: str, path: str, body: dict | None = None, **kw):
        if body is None and method in ("PUT", "POST"):
            body = {}
        try:
            response = await jp_fetch("cbs-export-lab", *path.split("/"), method=method,
                                      body=None if body is None else json.dumps(body), **kw)
        except HTTPClientError as exc:
            response = exc.response
            assert response is not None, exc
        text = response.body.decode() if response.body else ""
        return response.code, json.loads(text) if text else None

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

    status, after = await api("PUT", "settings", {"exportmap": str(exportmap), "project": "9876", "researcher": "A. Onderzoeker"})
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


async def test_a_body_that_is_not_json_is_refused_with_a_message(jp_fetch):
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("cbs-export-lab", "strip", method="POST", body="path=analysis.ipynb")
    assert refused.value.code == 400
    assert "not valid JSON" in json.loads(refused.value.response.body)["message"]


async def test_basket_lists_what_the_kernel_added_with_findings_and_budget(api, basket):
    status, body = await api("GET", "basket")
    assert status == 200
    expected = basket.items
    assert [i["id"] for i in body["items"]] == [i.id for i in expected]
    for shown, item in zip(body["items"], expected):
        assert (shown["title"], shown["kind"], shown["status"]) == (item.title, item.kind, item.status)
        assert [f["message"] for f in shown["findings"]] == [f.message for f in item.findings]
        assert shown["needs_explanation"] == item.needs_explanation
    assert body["budget"]["fraction"] == pytest.approx(cel.light_budget(expected).fraction)
    assert body["budget"]["fits"] == cel.light_budget(expected).fits


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


async def test_plan_without_an_exportmap_passes_the_user_error_through(api, basket):
    with pytest.raises(UserError) as expected:
        cel.plan_export(basket, None)
    status, body = await api("GET", "plan")
    assert status == 400 and body == {"message": str(expected.value)}


async def test_plan_is_the_python_plan_in_plain_words(api, basket, exportmap):
    await api("PUT", "settings", {"exportmap": str(exportmap), "project": "9876"})
    status, body = await api("GET", "plan")
    assert status == 200
    expected = cel.plan_export(basket, exportmap, project="9876")
    assert body["mode"] == expected.mode == "achteraf"
    assert [(z["folder"], z["items"]) for z in body["zips"]] == [(z.folder, z.items) for z in expected.zips]
    assert [(b["item_id"], b["reason"]) for b in body["blocked"]] == [(b.item_id, b.reason) for b in expected.blocked]
    assert body["description"] == expected.describe()
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
    assert status == 404 and "not a notebook" in body["message"]
    status, body = await api("POST", "strip", {})
    assert status == 400 and "path" in body["message"]
    assert cel.Basket().items == []
