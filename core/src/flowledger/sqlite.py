"""sqlite-utils, imported without its optional pandas and numpy (~1 s of start-up we never use).

sqlite-utils imports pandas at module level when it is installed, only to map its column types.
`import flowledger` must stay light in a Snakemake or redun process, so while sqlite-utils loads, those
two modules are marked unavailable (unless the user already imported them); nothing else changes.
"""

import importlib
import sys

_OPTIONAL = ("pandas", "numpy")


def _import_light():
    blocked = [name for name in _OPTIONAL if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` raise ImportError
    try:
        return importlib.import_module("sqlite_utils")
    finally:
        for name in blocked:
            if sys.modules.get(name) is None:
                del sys.modules[name]


sqlite_utils = _import_light()
