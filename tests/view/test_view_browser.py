"""The lineage page in a real browser (Debian's Chromium, driven by Playwright): loaded from its file://
URL, drawn, clicked, searched, panned and zoomed. Each test saves a screenshot in its tmp_path."""

import os

import pytest
from view_samples import CALL_ERROR
from view_support import CHROMIUM, ledger_view_of_run


def node_id(page, label: str) -> str:
    return page.evaluate("label => window.flowledger.data.nodes.find((n) => n.label === label).id", label)


def click_node(page, label: str) -> None:
    """A real click where the node is drawn (the page finds the node under the pointer), once in view."""
    page.evaluate("id => window.flowledger.centre(id)", node_id(page, label))
    where = page.evaluate("id => window.flowledger.screenPosition(id)", node_id(page, label))
    page.mouse.click(where["x"], where["y"])


def panel_fields(page) -> dict[str, str]:
    return page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#panel dt')].map((dt) => [dt.textContent, "
        "dt.nextElementSibling.textContent]))"
    )


def next_frame(page) -> None:
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def test_the_page_draws_every_node_and_edge_of_the_ledger(recorded, written, open_page, tmp_path):
    page = open_page(written(recorded["workflow"]))
    expected = ledger_view_of_run(recorded["db"], recorded["workflow"])
    nodes, edges = len(expected["runs"]) + len(expected["artifacts"]), len(expected["links"])
    assert page.evaluate("window.flowledger.counts") == {"nodes": nodes, "edges": edges}
    page.evaluate("window.flowledger.fit()")
    next_frame(page)
    drawn = page.evaluate("({...window.flowledger.frame})")
    assert (drawn["nodes"], drawn["edges"]) == (nodes, edges)  # with everything in view, everything was drawn
    assert page.title() == f"Lineage of run {recorded['workflow']}"
    assert page.inner_text("#summary").startswith("9 runs, 9 files, 19 links")
    page.screenshot(path=tmp_path / "lineage-page.png")
    assert (tmp_path / "lineage-page.png").stat().st_size > 20_000


def test_the_page_loads_nothing_from_anywhere(recorded, written, browser):
    page = browser.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    path = written(recorded["workflow"])
    page.goto(path.as_uri())
    page.wait_for_function("window.flowledgerRendered === true", timeout=30_000)
    assert requested == [path.as_uri()]
    page.close()


def test_clicking_a_job_shows_its_fields_error_and_code(recorded, written, open_page, tmp_path):
    page = open_page(written(recorded["workflow"]))
    click_node(page, "call (B)")
    assert page.inner_text("#panel h2") == "call (B)"
    fields = panel_fields(page)
    assert fields["run uid"] == recorded["jobs"]["call B"]
    assert (fields["exit code"], fields["started"], fields["duration"]) == ("1", "2025-01-15 14:36:00 UTC", "42.0 s")
    assert fields["wildcards"] == "sample=B" and fields["workflow run"].startswith("variant-calling")
    assert page.inner_text("#panel .badge") == "errored"
    assert page.text_content("#panel pre.error") == CALL_ERROR  # recorded text stays text: no markup from it
    assert page.locator("#panel b").count() == 0
    panel = page.text_content("#panel")
    assert "bcftools mpileup" in panel and "Read (2)" in panel and "aligned/B.bam" in panel
    page.screenshot(path=tmp_path / "job.png")


def test_clicking_a_file_shows_who_made_it_and_which_rerun_reproduced_it(recorded, written, open_page, tmp_path):
    page = open_page(written(recorded["workflow"]))
    click_node(page, "genome.fa.fai")
    fields = panel_fields(page)
    assert fields["path"] == recorded["files"]["fai"] and fields["hash"].startswith("sha256:")
    panel = page.text_content("#panel")
    assert recorded["first index"] in panel  # made by the earlier workflow run's job (not on this page)
    assert "Reproduced by re-runs: the same bytes (1)" in panel and recorded["jobs"]["index"] in panel
    page.click("#panel a:text('index')")  # the re-run is on the page: its link selects it
    assert page.inner_text("#panel h2") == "index" and page.inner_text("#panel .badge") == "cached"
    assert "Reproduced: wrote the same bytes again (1)" in page.text_content("#panel")
    click_node(page, "trimmed/B.fq")
    assert page.inner_text("#panel .badge") == "deleted when recorded"
    click_node(page, "A.vcf")
    assert panel_fields(page)["on disk now"].startswith("changed since recorded (sha256:")
    page.screenshot(path=tmp_path / "file.png")


def test_search_box_finds_nodes_by_name_path_and_uid(recorded, written, open_page, tmp_path):
    page = open_page(written(recorded["workflow"]))
    before = page.evaluate("({...window.flowledger.view})")
    page.click("#search")
    page.keyboard.type("trimmed")
    page.wait_for_function("document.getElementById('matches').textContent === '2 matches'")
    page.keyboard.press("Enter")
    page.wait_for_timeout(400)
    assert page.evaluate("({...window.flowledger.view})") != before  # moved to show the matches
    page.screenshot(path=tmp_path / "search.png")
    page.keyboard.press("Escape")
    assert page.inner_text("#matches") == ""
    page.fill("#search", recorded["jobs"]["call B"][:8])
    page.press("#search", "Enter")
    assert page.inner_text("#matches") == "1 match" and page.inner_text("#panel h2") == "call (B)"


def test_wheel_zooms_and_dragging_pans(recorded, written, open_page):
    page = open_page(written(recorded["workflow"]))
    box = page.locator("#graph canvas").bounding_box()
    middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    k = page.evaluate("window.flowledger.view.k")
    page.mouse.move(*middle)
    page.mouse.wheel(0, -300)
    page.wait_for_function(f"window.flowledger.view.k > {k}")
    x = page.evaluate("window.flowledger.view.x")
    page.mouse.down()
    page.mouse.move(middle[0] + 120, middle[1] + 10, steps=4)
    page.mouse.up()
    assert page.evaluate("window.flowledger.view.x") == pytest.approx(x + 120, abs=1)
    assert page.inner_text("#panel h2") == "variant-calling"  # a drag is not a click


def test_a_file_page_opens_on_the_file(recorded, written, open_page):
    page = open_page(written(recorded["files"]["calls"], "--downstream"))
    assert page.inner_text("#panel h2") == "A.vcf"
    assert page.inner_text("#panel .badge") == "changed since recorded"
    assert page.evaluate("window.flowledger.counts") == {"nodes": 15, "edges": 14}


@pytest.mark.skipif(not os.environ.get("CI"), reason="CI only: there the browser tests must not be skipped")
def test_chromium_is_installed_under_ci():
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: .ci/run installs Debian's chromium"
