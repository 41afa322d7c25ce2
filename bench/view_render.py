"""The lineage page of a 5,000-node run: time to first render in headless Chromium (target: at most 2 s),
against a baseline of an empty page, and the frame time while panning and zooming.

The run is recorded once with the synchronous Recorder, in batches: a workflow run of `--samples` chains of
`--steps` jobs (each reading the previous job's output, the first a raw input per sample) and one job merging
the last outputs; with the defaults 250 x 10 + 1 = 2,501 jobs, 2,501 outputs and 250 raw inputs: 5,253 nodes.
`flowledger view UID` writes the page once (its time is printed). Then, for `--repeats` rounds, interleaved:

    baseline   an empty HTML page that sets window.flowledgerRendered at once
    page       the lineage page: parse it, read its JSON, index the graph, draw the first frame with every
               node and edge in view (the page sets window.flowledgerRendered once that frame is drawn)

each in a fresh browser tab, measured in the page as performance.now() at that moment (milliseconds since
navigation began). Last, in one tab: the median and p95 time to draw a frame while panning and zooming, 60
frames with the whole graph in view (every node drawn, no labels) and 60 close up (labels drawn).

Chromium: Debian's /usr/bin/chromium (or --chromium PATH), driven by Playwright for Python.

    uv run python bench/view_render.py                     # 250 x 10 jobs, 7 rounds
    uv run python bench/view_render.py --samples 50 --repeats 3      # quick
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flowledger.plugin_api import Recorder, TransformSpec
from playwright.sync_api import sync_playwright

TARGET_S = 2.0
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BASELINE = "<!DOCTYPE html><html><body><script>window.flowledgerRenderedAt = performance.now(); \
window.flowledgerRendered = true;</script></body></html>"
PAN_AND_ZOOM = """async () => {
  const page = window.flowledger;
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const times = { overview: [], close: [] };
  for (const [name, zoom] of [["overview", null], ["close", 1.0]]) {
    page.fit();
    if (zoom) page.zoomAt(zoom / page.view.k, 700, 450);
    await frame();
    for (let i = 0; i < 60; i++) {
      if (i % 3 === 2) page.zoomAt(i % 2 ? 1.15 : 0.87, 400, 300);
      else page.panBy(i % 2 ? 40 : -25, 30);
      await frame();
      await frame();
      times[name].push(page.frame.ms);
    }
  }
  return times;
}"""


def record(folder: Path, db: Path, samples: int, steps: int) -> str:
    """A workflow run of `samples` chains of `steps` jobs and one merging job; returns its uid."""
    rules = [
        TransformSpec(f"step{k}", type="rule", source_code=f"step{k} {{input}} > {{output}}") for k in range(steps)
    ]
    merge = TransformSpec("merge", type="rule", source_code="cat {input} > {output}")
    recorder = Recorder(db)
    workflow = recorder.start_run(
        TransformSpec("big-pipeline", source_code="rule step0: ..."),
        reference="bench",
        reference_type="snakemake_id",
        json={"snakemake_version": "9.27.1"},
    )
    (folder / "data").mkdir()
    (folder / "out").mkdir()
    last = []
    for start in range(0, samples, 50):
        with recorder.batch():
            for s in range(start, min(start + 50, samples)):
                previous = folder / "data" / f"s{s}.fq"
                previous.write_text(f"@r{s}\nACGT\n")
                for k in range(steps):
                    out = folder / "out" / f"s{s}.step{k}.txt"
                    out.write_text(f"sample {s} step {k}\n")
                    recorder.record_job(
                        rules[k],
                        inputs=[previous],
                        outputs=[out],
                        initiated_by=workflow,
                        reference=f"bench/{s}/{k}",
                        reference_type="snakemake_job",
                        json={"rule": f"step{k}", "wildcards": {"sample": f"s{s}"}},
                    )
                    previous = out
                last.append(previous)
    merged = folder / "out" / "all.txt"
    merged.write_text("all\n")
    recorder.record_job(
        merge,
        inputs=last,
        outputs=[merged],
        initiated_by=workflow,
        reference="bench/merge",
        reference_type="snakemake_job",
    )
    recorder.finish_run(workflow)
    recorder.close()
    return workflow


def first_render_ms(browser, url: str) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(url)
        page.wait_for_function("window.flowledgerRendered === true", timeout=120_000, polling="raf")
        return page.evaluate("window.flowledgerRenderedAt")
    finally:
        page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=250, help="chains of jobs (default 250)")
    parser.add_argument("--steps", type=int, default=10, help="jobs per chain (default 10)")
    parser.add_argument("--repeats", type=int, default=7, help="rounds of baseline and page (default 7)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the Chromium to drive")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowledger-bench-view-") as scratch:
        folder = Path(scratch)
        db = folder / "ledger.db"
        began = time.perf_counter()
        uid = record(folder, db, args.samples, args.steps)
        print(f"recorded {args.samples * args.steps + 1} jobs in {time.perf_counter() - began:.1f} s")
        page_file, empty = folder / "page.html", folder / "empty.html"
        empty.write_text(BASELINE)
        cli = str(Path(sys.executable).with_name("flowledger"))
        began = time.perf_counter()
        done = subprocess.run([cli, "--db", str(db), "view", uid, "-o", str(page_file)], capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"flowledger view failed: {done.stderr[-2000:]}")
        print(f"flowledger view: {time.perf_counter() - began:.2f} s, {page_file.stat().st_size / 1e6:.1f} MB")
        print(done.stderr.strip())
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            print(f"Chromium {browser.version}")
            first_render_ms(browser, empty.as_uri())  # warm-up: the browser's own start-up costs
            times: dict[str, list[float]] = {"baseline": [], "page": []}
            for round_ in range(args.repeats):
                order = ["baseline", "page"] if round_ % 2 == 0 else ["page", "baseline"]
                for case in order:
                    url = (empty if case == "baseline" else page_file).as_uri()
                    times[case].append(first_render_ms(browser, url) / 1000)
                print(f"round {round_ + 1}: page {times['page'][-1]:.3f} s, baseline {times['baseline'][-1]:.3f} s")
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(page_file.as_uri())
            page.wait_for_function("window.flowledgerRendered === true", timeout=120_000, polling="raf")
            nodes = page.evaluate("window.flowledger.counts")
            drawn = page.evaluate("({...window.flowledger.frame})")
            frames = page.evaluate(PAN_AND_ZOOM)
            browser.close()
    page_s, base_s = statistics.median(times["page"]), statistics.median(times["baseline"])
    print(f"nodes {nodes['nodes']}, edges {nodes['edges']}; the first frame drew {drawn['nodes']} and {drawn['edges']}")
    for view, spent in frames.items():
        spent.sort()
        p95 = spent[int(len(spent) * 0.95) - 1]
        print(f"pan and zoom, {view}: frame drawn in median {statistics.median(spent):.1f} ms, p95 {p95:.1f} ms")
    verdict = "ok" if page_s <= TARGET_S else "OVER TARGET"
    print(
        f"view_render: {nodes['nodes']} nodes, time to first render median {page_s:.3f} s "
        f"(baseline {base_s:.3f} s, difference {page_s - base_s:.3f} s; target <= {TARGET_S:.0f} s): {verdict}"
    )


if __name__ == "__main__":
    main()
