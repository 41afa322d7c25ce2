"""Rebuild the reference Nextflow launch dir (work tree, results, history, log, trace files) under a
temporary root, from the samples copied into `data/` (tests never read /work/shared at run time).

Every sample uses the fictional root `/home/alice/lineage-demo`; a plain string replacement is safe.
"""

import json
import os
import shutil
from pathlib import Path

DATA = Path(__file__).parent / "data"
ROOT = "/home/alice/lineage-demo"
OK, FAIL = "golden_lovelace", "fervent_darwin"
SESSIONS = {OK: "b3c2a7e1-5d4f-4e8a-9c61-0f2d7a4e9b35", FAIL: "0c9d4f52-8e1b-47a3-b6d0-3a5e2f7c1d88"}
TRACE_FILES = {
    OK: ("trace.txt", "trace-20260720-33240700.txt"),
    FAIL: ("trace_failed.txt", "trace-20260720-36132700.txt"),
}
WEBLOGS = {OK: "weblog.jsonl", FAIL: "weblog_failed.jsonl"}


def rewrite(text: str, root) -> str:
    return text.replace(ROOT, str(root))


def work_tree(root=None) -> dict:
    text = (DATA / "work_tree.json").read_text()
    return json.loads(rewrite(text, root) if root else text)


def weblog_bodies(run_name: str, root) -> list[str]:
    """The POST bodies of one run, in send order, with the root rewritten."""
    return [rewrite(line, root) for line in (DATA / WEBLOGS[run_name]).read_text().splitlines() if line.strip()]


def build_pipeline(root) -> Path:
    """main.nf, nextflow.config and the input data, as a user's checkout would hold them."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for item in (DATA / "pipeline").iterdir():
        target = root / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(item, target)
    return root


def build_run(root, run_name: str, *, trace=True, history=True, log=True, results=True) -> dict:
    """Write the work dirs of one run (and its trace file, history line, log section, published file)."""
    root = Path(root).absolute()
    build_pipeline(root)
    tree = work_tree(root)
    run = next(r for r in tree["runs"] if r["runName"] == run_name)
    files = json.loads(rewrite((DATA / "work_files.json").read_text(), root))["files"]
    for task in run["tasks"]:
        wd = Path(task["workdir"])
        wd.mkdir(parents=True, exist_ok=True)
        rel = os.path.relpath(wd, root)
        for name, info in task["files"].items():
            target = wd / name
            if info["type"] == "symlink":
                if target.is_symlink() or target.exists():
                    target.unlink()
                target.symlink_to(info["target"])
                ns = info["mtime_ms"] * 1_000_000
                os.utime(target, ns=(ns, ns), follow_symlinks=False)
            else:
                target.write_text(files[f"{rel}/{name}"])
                ns = info["mtime_ms"] * 1_000_000
                os.utime(target, ns=(ns, ns))
    if results and run_name == OK:
        for pub in tree["published"]:
            dest = Path(pub["path"])
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(files[os.path.relpath(dest, root)])
    if trace:
        sample, real_name = TRACE_FILES[run_name]
        shutil.copyfile(DATA / sample, root / real_name)
    if history:
        (root / ".nextflow").mkdir(exist_ok=True)
        line = next(entry for entry in (DATA / "history").read_text().splitlines() if f"\t{run_name}\t" in entry)
        with open(root / ".nextflow" / "history", "a") as fh:
            fh.write(line + "\n")
    if log:
        sections = (DATA / "nextflow.log").read_text().split("\n\n" + "Jul-20 10:02:12.300")
        text = sections[0] if run_name == OK else "Jul-20 10:02:12.300" + sections[1]
        with open(root / ".nextflow.log", "a") as fh:
            fh.write(rewrite(text.rstrip("\n") + "\n", root))
    return run


def build_both(root) -> Path:
    root = Path(root).absolute()
    build_run(root, OK)
    build_run(root, FAIL)
    return Path(root)


# ---- a synthesised `-resume` of the OK run: every task CACHED, with the original hash and work dir ----
RESUMED = "agitated_curie"


def resume_trace_text() -> str:
    lines = (DATA / "trace.txt").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    out = [header]
    for row in rows:
        cells = row.split("\t")
        cells[4] = "CACHED"
        out.append("\t".join(cells))
    return "\n".join(out) + "\n"


def resume_weblog(root, run_name: str = RESUMED, session: str = SESSIONS[OK]) -> list[str]:
    """`started` and `completed` of the resumed run (the weblog never sends cached tasks)."""
    bodies = weblog_bodies(OK, root)
    started, completed = json.loads(bodies[0]), json.loads(bodies[-1])
    for body in (started, completed):
        body["runName"] = body["metadata"]["workflow"]["runName"] = run_name
        body["runId"] = body["metadata"]["workflow"]["sessionId"] = session
        body["metadata"]["workflow"]["resume"] = True
        body["metadata"]["workflow"]["commandLine"] = "nextflow run main.nf -with-trace -resume"
    completed["metadata"]["workflow"]["stats"]["cachedCount"] = 7
    completed["metadata"]["workflow"]["stats"]["succeededCount"] = 0
    return [json.dumps(started, separators=(",", ":")), json.dumps(completed, separators=(",", ":"))]


def build_resumed(root, run_name: str = RESUMED, session: str = SESSIONS[OK]) -> None:
    """History line, log section and trace file of a `-resume` run whose tasks were all cached."""
    root = Path(root)
    if not (root / "work").exists():
        build_run(root, OK)
    (root / "trace-20260721-1000.txt").write_text(resume_trace_text())
    (root / ".nextflow").mkdir(exist_ok=True)
    with open(root / ".nextflow" / "history", "a") as fh:
        fh.write(
            f"2026-07-21 00:00:01\t1.1s\t{run_name}\tOK\t6dff7986e1e2fc7cb7aadfa506603aad\t{session}\t"
            f"nextflow run main.nf -with-trace -resume\n"
        )
    tasks = next(r for r in work_tree(root)["runs"] if r["runName"] == OK)["tasks"]
    lines = [
        "Jul-21 00:00:00.300 [main] DEBUG nextflow.cli.Launcher - $> nextflow run main.nf -with-trace -resume",
        "Jul-21 00:00:00.480 [main] INFO  nextflow.cli.CmdRun - N E X T F L O W  ~  version 26.04.6",
        f"Jul-21 00:00:01.702 [main] DEBUG nextflow.Session - Session UUID: {session}",
        f"Jul-21 00:00:01.702 [main] DEBUG nextflow.Session - Run name: {run_name}",
        f"Jul-21 00:00:01.766 [main] DEBUG nextflow.Session - Work-dir: {root / 'work'} [ext2/ext3]",
    ]
    lines += [
        f"Jul-21 00:00:02.000 [Actor Thread 1] INFO  nextflow.processor.TaskProcessor - [{t['hashLog']}] "
        f"Cached process > {t['name']}"
        for t in tasks
    ]
    lines.append("Jul-21 00:00:03.000 [main] DEBUG nextflow.script.ScriptRunner - > Execution complete -- Goodbye")
    with open(root / ".nextflow.log", "a") as fh:
        fh.write("\n".join(lines) + "\n")
