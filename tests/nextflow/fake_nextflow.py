"""A stand-in for `nextflow run` that plays back the reference samples in the current directory: it
writes the work tree, results, trace file, `.nextflow/history` and `.nextflow.log` of the sample run,
posts the weblog bodies to the URL of a `-c` config's weblog scope, and runs the command of a
`workflow.onComplete` handler written the way `flowledger nextflow config` writes it (while the history
line still reads `-`, so only the handler's arguments say whether the run succeeded).

Scenario: env FAKE_NEXTFLOW_SCENARIO = ok | fail | resume (default: fail when the arguments mention
`data_bad`, resume with `-resume`, else ok); FAKE_NEXTFLOW_ORDER=old sends `error` before `completed`.
"""

import base64
import json
import os
import re
import subprocess
import sys
import urllib.request
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import nf_samples


def _option(args, name):
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else None


def _configs(args):
    texts = []
    for i, word in enumerate(args):
        if word == "-c" and i + 1 < len(args):
            texts.append(Path(args[i + 1]).read_text())
    return "\n".join(texts)


def _weblog(config):
    block = re.search(r"weblog\s*\{(.*?)\}", config, re.S)
    if not block or "enabled = true" not in block.group(1):
        return None, None
    url = re.search(r"url\s*=\s*'([^']*)'", block.group(1))
    token = re.search(r"basicToken\s*=\s*'([^']*)'", block.group(1))
    return (url.group(1) if url else None), (token.group(1) if token else None)


def _post(url, token, body):
    headers = {"Content-Type": "application/json", "User-Agent": "Nextflow/26.04.6"}
    if token:
        headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=body.encode(), headers=headers), timeout=30).read()
    except Exception as exc:  # nf-weblog: one WARN, no retry
        print(f"WARN: weblog request failed: {exc}", file=sys.stderr)


def _on_complete(config, workflow: dict):
    """Evaluate `def cmd = [...]` of the handler: '...' literals and "...${workflow.a.b}..." strings."""
    match = re.search(r"def cmd = \[(.*?)\]\n", config, re.S)
    if not match:
        return
    words = []
    for single, double in re.findall(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", match.group(1)):
        if double or (not single and double == ""):

            def lookup(m):
                value = workflow
                for key in m.group(1).split(".")[1:]:
                    value = value.get(key) if isinstance(value, dict) else None
                if isinstance(value, bool):
                    return str(value).lower()
                return "null" if value is None else str(value)

            words.append(re.sub(r"\$\{(?:fl \{ )?([\w.]+)(?: \})?\}", lookup, double))
        else:
            words.append(single.replace("\\'", "'").replace("\\\\", "\\"))
    subprocess.run(words, check=False)


def main(argv):
    if not argv or argv[0] != "run":
        print("fake nextflow: only `nextflow run` is played back", file=sys.stderr)
        return 2
    args = argv[1:]
    root = Path.cwd()
    params_file = _option(args, "-params-file")
    said = " ".join(args) + (Path(params_file).read_text() if params_file else "")
    scenario = os.environ.get("FAKE_NEXTFLOW_SCENARIO") or (
        "resume" if "-resume" in args else "fail" if "data_bad" in said else "ok"
    )
    sample = nf_samples.FAIL if scenario == "fail" else nf_samples.OK
    name = _option(args, "-name") or (nf_samples.RESUMED if scenario == "resume" else sample)
    session = os.environ.get("NXF_UUID") or nf_samples.SESSIONS[sample]
    if scenario == "resume":
        session = _option(args, "-resume") or session
    config = _configs(args)
    url, token = _weblog(config)
    print("N E X T F L O W  ~  version 26.04.6")
    print(f"Launching `{args[0]}` [{name}] DSL2 - revision: 6dff7986e1")

    def rename(text):
        return text.replace(sample, name).replace(nf_samples.SESSIONS[sample], session)

    if scenario == "resume":
        nf_samples.build_resumed(root, name, session)
        bodies = nf_samples.resume_weblog(root, name, session)
    else:
        nf_samples.build_run(root, sample, trace=False, history=False, log=False)
        bodies = [rename(b) for b in nf_samples.weblog_bodies(sample, root)]
        trace_name = f"trace-{datetime.now():%Y%m%d}-{os.getpid()}{len(list(root.glob('trace-*')))}.txt"
        if "trace {" in config or "-with-trace" in args:
            (root / trace_name).write_text((nf_samples.DATA / nf_samples.TRACE_FILES[sample][0]).read_text())
        (root / ".nextflow").mkdir(exist_ok=True)
        lines = (nf_samples.DATA / "history").read_text().splitlines()
        line = rename(next(entry for entry in lines if f"\t{sample}\t" in entry))
        cells = line.split("\t")
        launched = "\t".join([cells[0], "-", cells[2], "-", *cells[4:]])  # duration and status come at the end
        with open(root / ".nextflow" / "history", "a") as fh:
            fh.write(launched + "\n")
        log = (nf_samples.DATA / "nextflow.log").read_text().split("\n\nJul-20 10:02:12.300")
        text = log[0] if sample == nf_samples.OK else "Jul-20 10:02:12.300" + log[1]
        with open(root / ".nextflow.log", "a") as fh:
            fh.write(rename(nf_samples.rewrite(text.rstrip("\n") + "\n", root)))
    events = [json.loads(b) for b in bodies]
    completed_at = next(i for i, e in enumerate(events) if e["event"] == "completed")
    for body, event in zip(bodies[:completed_at], events[:completed_at]):
        if event["event"] == "process_submitted":
            t = event["trace"]
            print(f"[{t['hash']}] Submitted process > {t['name']}", flush=True)
        if url:
            _post(url, token, body)
    old_order = os.environ.get("FAKE_NEXTFLOW_ORDER") == "old"
    tail = bodies[completed_at:]
    if old_order and len(tail) == 2:
        tail = [tail[1], tail[0]]
    workflow = dict(events[completed_at]["metadata"]["workflow"])
    workflow["launchDir"] = str(root)
    _on_complete(config, workflow)  # the history line still says `-`: the hook's --success must tell
    if scenario != "resume":
        history = root / ".nextflow" / "history"
        history.write_text(history.read_text().replace(launched, line))
    for body in tail:
        if url:
            _post(url, token, body)
    success = workflow.get("success")
    print("Completed at: now" if success else "ERROR ~ Error executing process > 'COUNT (s3)'", flush=True)
    return 0 if success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
