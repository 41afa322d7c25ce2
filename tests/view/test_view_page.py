"""`flowledger view` writes one self-contained page holding the lineage the ledger records (no browser here:
the page's data, checked against the ledger with SQL of its own; test_view_browser.py draws it)."""

import json
import os
import re
import subprocess
import sys

import pytest
from flowledger.page import NODE_HEIGHT, NODE_WIDTH, box_geometry, file_label, layout, render, run_label
from view_samples import CALL_ERROR
from view_support import DATA, FLOWLEDGER, ledger_view_of_run, page_data, view


def by_label(data: dict) -> dict:
    return {n["label"]: n for n in data["nodes"]}


def test_a_run_page_holds_every_job_file_and_link_of_the_run(recorded, written):
    data = page_data(written(recorded["workflow"]))
    expected = ledger_view_of_run(recorded["db"], recorded["workflow"])
    assert {n["id"] for n in data["nodes"]} == {f"r{i}" for i in expected["runs"]} | {
        f"a{i}" for i in expected["artifacts"]
    }
    edges = sorted((role, s, t) for s, t, role in data["edges"])
    assert edges == sorted(
        (role, f"a{a}", f"r{r}") if role == "input" else (role, f"r{r}", f"a{a}") for role, a, r in expected["links"]
    )
    assert (len(expected["runs"]), len(expected["artifacts"]), len(expected["links"])) == (9, 9, 19)
    assert data["counts"] == {"nodes": 18, "edges": 19, "runs": 9, "artifacts": 9, "boxes": 1}


def test_statuses_marks_and_a_replicated_output(recorded, written):
    data = page_data(written(recorded["workflow"]))
    nodes = by_label(data)
    assert nodes["index"]["status"] == "cached"
    assert nodes["call (B)"]["status"] == "errored" and nodes["call (B)"]["exit_code"] == 1
    assert nodes["call (B)"]["error"] == CALL_ERROR
    assert nodes["report"]["status"] == "unfinished"  # started by a process that is gone
    assert nodes["variant-calling"]["status"] == "errored" and nodes["variant-calling"]["jobs_shown"] == 8
    assert nodes["trimmed/B.fq"]["mark"] == "deleted"
    assert nodes["A.vcf"]["mark"] == "changed" and nodes["A.vcf"]["check_detail"].startswith("sha256:")
    assert "mark" not in nodes["trimmed/A.fq"]
    assert {n["manager"] for n in nodes.values() if n["kind"] == "run"} == {"snakemake"}
    # the cached job wrote the index again: not an empty leaf, but linked to the file it reproduced
    fai = nodes["genome.fa.fai"]
    assert fai["made_by"][0] is None and fai["made_by"][1] == recorded["first index"]  # made by wf-0, not shown
    assert [run[1] for run in fai["reproduced_by"]["runs"]] == [recorded["jobs"]["index"]]
    assert [nodes["index"]["id"], fai["id"], "replicated"] in data["edges"]


def test_labels_name_the_rule_and_its_wildcards(recorded, written):
    nodes = by_label(page_data(written(recorded["workflow"])))
    assert {"trim (A)", "align (B)", "data/A.fq", "data/B.fq", "A.bam", "genome.fa"} <= set(nodes)
    trim = nodes["trim (A)"]
    assert trim["json"]["params"] == {"quality": 20} and trim["json"]["wildcards"] == {"sample": "A"}
    assert trim["parent"] == nodes["variant-calling"]["id"]
    assert nodes["A.bam"]["path"].endswith("/aligned/A.bam") and nodes["A.bam"]["hash"].startswith("sha256:")
    assert run_label("proj:ALIGN", {"process": "ALIGN", "tag": "sample_1"}) == "ALIGN (sample_1)"
    assert file_label("s3://bucket/data/", "folder") == "data/"


def test_a_file_page_goes_back_across_workflow_runs_and_forward_with_downstream(recorded, written):
    upstream = page_data(written(recorded["files"]["calls"]))
    assert upstream["root"] == next(n["id"] for n in upstream["nodes"] if n.get("path") == recorded["files"]["calls"])
    labels = {n["label"] for n in upstream["nodes"]}
    assert {"call (A)", "align (A)", "trim (A)", "index", "genome.fa.fai", "data/A.fq"} <= labels
    assert not {"report", "plot.py", "call (B)", "align (B)"} & labels
    boxes = [n for n in upstream["nodes"] if n.get("jobs_shown")]
    assert sorted(n["uid"] for n in boxes) == sorted([recorded["earlier"], recorded["workflow"]])
    upper, lower = sorted(boxes, key=lambda n: n["y"])  # the two workflow runs' boxes do not overlap
    assert upper["y"] + upper["height"] / 2 < lower["y"] - lower["height"] / 2
    downstream = page_data(written(recorded["files"]["calls"], "--downstream"))
    assert {"report", "plot.py", "A.png"} <= {n["label"] for n in downstream["nodes"]}
    assert next(n for n in downstream["nodes"] if n["label"] == "plot.py")["manager"] == "python"


def test_a_file_read_by_many_lists_its_readers_and_versions(recorded, written):
    nodes = by_label(page_data(written(recorded["workflow"])))
    genome = nodes["genome.fa"]
    assert genome["read_by"]["total"] == 6  # index twice, align A and B, call A and B
    assert "made_by" not in genome and "versions" not in genome


def test_the_page_needs_no_network_and_no_other_file(recorded, written):
    html = written(recorded["workflow"]).read_text(encoding="utf-8")
    assert not re.search(r"""<(script|link|img|iframe)[^>]*\b(src|href)=""", html)
    assert "http://" not in html and "https://" not in html
    assert "@import" not in html and "url(" not in html


def test_no_recorded_text_can_end_the_script_that_holds_it(recorded, written):
    html = written(recorded["workflow"]).read_text(encoding="utf-8")
    assert html.count("</script>") == 2  # the data's and the page script's own
    assert "</script><b>" not in html and "\\u003c/script>\\u003cb>no such contig" in html
    assert by_label(page_data(written(recorded["workflow"])))["call (B)"]["error"] == CALL_ERROR


def test_default_file_name_and_no_check(recorded, tmp_path):
    done = view(recorded["db"], recorded["workflow"][:6], "--no-check", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = tmp_path / f"lineage-{recorded['workflow']}.html"
    assert page.exists() and f"Wrote {page.name} (9 runs, 9 files)" in done.stderr
    assert "mark" not in by_label(page_data(page))["A.vcf"]  # --no-check: the files on disk were not compared


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("zzzzzzzz", "no run with uid 'zzzzzzzz' and no recorded file "),
        ("nowhere/file.txt", "was never recorded in ledger "),
    ],
)
def test_an_unknown_uid_or_path_is_one_error_line(recorded, tmp_path, target, message):
    done = view(recorded["db"], target, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ") and message in done.stderr and done.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_no_ledger_is_one_error_line(tmp_path):
    done = view(str(tmp_path / "none.db"), "abc", cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.startswith("Error: no ledger at ")


# ---- the layout ---------------------------------------------------------------------------------------


def test_layout_puts_each_node_one_layer_after_what_it_came_from():
    edges = [("raw", "job1"), ("job1", "out1"), ("out1", "job2"), ("late", "job2"), ("job2", "out2")]
    ids = ["raw", "job1", "out1", "late", "job2", "out2"]
    positions = layout(ids, edges, {})
    layer = {n: x / positions["job1"][0] for n, (x, _) in positions.items()}
    assert layer == {"raw": 0, "job1": 1, "out1": 2, "late": 2, "job2": 3, "out2": 4}  # `late` next to its reader
    assert len({positions[n] for n in ids}) == len(ids)


def test_layout_survives_a_cycle_and_keeps_boxes_apart():
    parents = {"a": "box1", "b": "box1", "c": "box2", "d": "box2", "box1": None, "box2": None}
    edges = [("a", "b"), ("b", "a"), ("b", "c"), ("c", "d"), ("raw", "a")]
    positions = layout(["raw", "a", "b", "c", "d"], edges, parents)
    geometry = box_geometry(positions, parents)
    (x1, y1, w1, h1), (x2, y2, w2, h2) = geometry["box1"], geometry["box2"]
    apart_x = abs(x1 - x2) >= (w1 + w2) / 2
    apart_y = abs(y1 - y2) >= (h1 + h2) / 2
    assert apart_x or apart_y
    for node in "ab":
        x, y = positions[node]
        assert abs(x - x1) + NODE_WIDTH / 2 <= w1 / 2 and abs(y - y1) + NODE_HEIGHT / 2 <= h1 / 2


def test_open_hands_the_page_to_the_web_browser(recorded, tmp_path):
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text(f"import sys\nopen({str(opened)!r}, 'w').write(sys.argv[1])\n")
    env = {**os.environ, "BROWSER": f"{sys.executable} {browser} %s"}
    done = subprocess.run(
        [FLOWLEDGER, "--db", recorded["db"], "view", recorded["workflow"], "-o", "page.html", "--open"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert opened.read_text() == (tmp_path / "page.html").as_uri()


def test_a_nan_in_recorded_json_still_makes_a_page_that_parses():
    html = render({"subject": "x", "nodes": [], "json": {"ratio": float("nan"), "top": float("inf")}})
    data = json.loads(DATA.search(html).group(1))
    assert data["json"] == {"ratio": "nan", "top": "inf"}
