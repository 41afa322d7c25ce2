"""`python -m flowledger_nextflow ...`: the `flowledger nextflow` group without the core CLI, which the
onComplete hook runs with the Python that generated it (no PATH lookup inside the JVM)."""

import sys

from flowledger.plugin_api import FlowledgerError

from .commands import nextflow_group


def main() -> None:
    try:
        nextflow_group(prog_name="flowledger nextflow", standalone_mode=True)
    except FlowledgerError as exc:  # one line, never a traceback
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
