"""`flowledger_nextflow.run(...)`: start `nextflow run` as a subprocess and record it.

The run name and session id are chosen up front (`-name`, `NXF_UUID`), so the run is known before
Nextflow prints anything. A receiver on a loopback port with a one-off token records the weblog stream
live; when Nextflow exits, an import of the same run fills in what the stream cannot carry (cached
tasks, published files, or everything if the weblog plugin could not load). Our own code, no wrapper.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from flowledger.plugin_api import LEDGER_ENV_VAR, PathLike, RunInfo, absolute_setting, open_recorder, print_warning

from .config import config_text
from .errors import NextflowError
from .facts import RunFacts
from .history import read_history
from .importer import import_run
from .mapping import run_uid


def new_run_name() -> str:
    """A name Nextflow accepts (`[a-z](?:[a-z\\d]|[-_](?=[a-z\\d])){0,79}`), unique enough per launch dir."""
    return "fl_" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10))


def _last_session(launch_dir: Path) -> str:
    path = launch_dir / ".nextflow" / "history"
    entries = read_history(path) if path.exists() else []
    for entry in reversed(entries):
        if entry.session_id:
            return entry.session_id
    raise NextflowError(f"nothing to resume: no earlier run in {path}")


def run(
    pipeline: str,
    *,
    params: Mapping[str, Any] | None = None,
    profiles: Sequence[str] = (),
    resume: bool | str = False,
    run_name: str | None = None,
    work_dir: PathLike | None = None,
    launch_dir: PathLike | None = None,
    config_files: Sequence[PathLike] = (),
    args: Sequence[str] = (),
    nextflow: str | None = None,
    env: Mapping[str, str] | None = None,
    db: PathLike | None = None,
    stream: IO[str] | bool | None = None,
    check: bool = False,
) -> RunInfo:
    """Run a pipeline under Nextflow, record it, and return the recorded workflow run (a `RunInfo`: uid,
    status, reference, times; `flowledger.Run.get(info.uid)` has the rest).

    `resume=True` resumes the last session of `launch_dir`, a string resumes that session id.
    `stream` gets Nextflow's output line by line (default: this process's stdout; `False`: quiet).
    `db` is the ledger (default: found as everywhere). With `check=True` a failed run raises NextflowError
    after it is recorded.
    """
    from .receiver import Receiver

    executable = nextflow or shutil.which("nextflow", path=(env or os.environ).get("PATH"))
    if not executable:
        raise NextflowError(
            "the `nextflow` executable was not found on PATH: install Nextflow "
            "(https://www.nextflow.io/docs/latest/install.html) or pass nextflow=<path>"
        )
    launch = Path(launch_dir or os.getcwd()).absolute()
    if not launch.is_dir():
        raise NextflowError(f"launch dir {launch} does not exist")
    name = run_name or new_run_name()
    session = str(uuid.uuid4())
    if resume:
        session = resume if isinstance(resume, str) else _last_session(launch)
    ledger = absolute_setting(db) if db is not None else None  # None: resolved as everywhere
    token = secrets.token_urlsafe(18)
    receiver = Receiver(lambda: open_recorder(ledger, background=False), host="127.0.0.1", port=0, token=token).start()
    out = sys.stdout if stream is None or stream is True else stream
    with tempfile.TemporaryDirectory(prefix="flowledger-nextflow-") as tmp:
        cfg = Path(tmp) / "flowledger.config"
        cfg.write_text(config_text(weblog_url=receiver.url, token=token, hook=False))
        command = [executable, "run", str(pipeline), "-name", name]
        for extra in config_files:
            command += ["-c", str(extra)]
        command += ["-c", str(cfg)]
        if profiles:
            command += ["-profile", ",".join(profiles)]
        if resume:
            command += ["-resume", session]
        if work_dir:
            command += ["-work-dir", str(work_dir)]
        if params:
            params_file = Path(tmp) / "params.json"
            params_file.write_text(json.dumps(params))
            command += ["-params-file", str(params_file)]
        command += list(args)
        child_env = dict(env if env is not None else os.environ)
        child_env.update({"NXF_UUID": session, "NXF_ANSI_LOG": "false"})
        if ledger:  # a flowledger hook in the user's own config then records into the same ledger
            child_env[LEDGER_ENV_VAR] = ledger
        elif os.environ.get(LEDGER_ENV_VAR):
            child_env.setdefault(LEDGER_ENV_VAR, os.environ[LEDGER_ENV_VAR])
        try:
            proc = subprocess.Popen(
                command,
                cwd=launch,
                env=child_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                bufsize=1,
            )
        except OSError as exc:
            receiver.stop()
            raise NextflowError(f"cannot start {executable}: {exc.strerror or exc}") from None
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if out:
                    out.write(line)
                    out.flush()
            code = proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            code = proc.wait()
        finally:
            receiver.wait_idle()
            receiver.stop()
    facts = RunFacts(
        run_name=name,
        session_id=session,
        launch_dir=str(launch),
        success=code == 0,
        work_dir=str(Path(work_dir).absolute()) if work_dir else None,
        resume=bool(resume),
    )
    if code != 0:
        facts.exit_status = code
    recorder = open_recorder(ledger, background=False)
    try:
        try:
            import_run(recorder, launch, name, hook_facts=facts)
        except NextflowError as exc:
            print_warning(f"flowledger: Nextflow run {name} could not be imported after it ended: {exc}")
        recorded = recorder.get_run(run_uid(facts))
    finally:
        recorder.close()
    if recorded is None:
        raise NextflowError(f"Nextflow run {name} (exit status {code}) left nothing to record in {launch}")
    if check and code != 0:
        raise NextflowError(f"Nextflow run {name} failed with exit status {code} (recorded as {recorded.uid})")
    return recorded
