"""One writer process for tests/core/test_postgres_writers.py (a helper, not a test), driven over stdin/stdout.

    python pg_writer_job.py jobs LEDGER FOLDER NAME JOBS
        opens the ledger, starts a workflow run (reference NAME), prints "ready" and waits for a line on
        stdin (so that every writer starts at once); then records JOBS jobs under the workflow run, each
        reading FOLDER/reads_1.fastq and FOLDER/reads_2.fastq (shared by all writers) and writing a new
        FOLDER/NAME/out_<i>.txt (content: "NAME job i"), reference "NAME i"; finishes the workflow run.

    python pg_writer_job.py collide LEDGER PATH NAME ROUNDS
        prints "ready"; then ROUNDS times: waits for "write N", writes "content N" (and N dots, so no two
        contents have the same size) to PATH, hashes it (as `record_job` does, before its transaction),
        prints "hashed", waits for "go", and only then lets `record_job` write; prints "done UID HASH".
        The test sends "go" to both writers at once: their transactions for the same path collide.

Anything unexpected ends the process with an error on stderr, which the test shows.
"""

import sys
from pathlib import Path

from flowledger.plugin_api import Recorder, TransformSpec

SPEC = TransformSpec(name="rule trim", type="rule", source_code="cut -c1-10 {input} > {output}")


def content(number: int) -> str:
    return f"content {number}\n" + "." * number


def expect(line: str, word: str) -> str:
    if not line.startswith(word):
        raise SystemExit(f"expected {word!r} on stdin, got {line!r}")
    return line[len(word) :].strip()


def jobs(ledger: str, folder: Path, name: str, count: int) -> None:
    recorder = Recorder(db=ledger)
    workflow = recorder.start_run(TransformSpec(name="workflow"), reference=name, reference_type="test")
    inputs = [folder / "reads_1.fastq", folder / "reads_2.fastq"]
    (folder / name).mkdir()
    print("ready", flush=True)
    expect(sys.stdin.readline(), "go")
    for index in range(count):
        output = folder / name / f"out_{index}.txt"
        output.write_text(f"{name} job {index}\n")
        recorder.record_job(
            SPEC,
            inputs=inputs,
            outputs=[output],
            initiated_by=workflow,
            reference=f"{name} {index}",
            reference_type="test",
        )
    recorder.finish_run(workflow)
    recorder.close()


def collide(ledger: str, path: Path, name: str, rounds: int) -> None:
    recorder = Recorder(db=ledger)
    prepare = recorder.hasher.prepare
    hashed = []

    def write_hash_then_wait(**files):
        path.write_text(content(int(expect(sys.stdin.readline(), "write"))))
        prepared = prepare(**files)
        hashed.append(prepared.outputs[0].hash)
        print("hashed", flush=True)
        expect(sys.stdin.readline(), "go")
        return prepared

    recorder.hasher.prepare = write_hash_then_wait
    print("ready", flush=True)
    for index in range(rounds):
        uid = recorder.record_job(SPEC, outputs=[path], reference=f"{name} {index}", reference_type="test")
        print("done", uid, hashed[-1], flush=True)
    recorder.close()


if __name__ == "__main__":
    mode, ledger, where, name, count = sys.argv[1:]
    {"jobs": jobs, "collide": collide}[mode](ledger, Path(where), name, int(count))
