"""The redun step of the chain: counts the words of the file Snakemake made."""

import sys
from collections import Counter

from redun import File, task
from redun.config import Config

from flowledger_redun import Scheduler

redun_namespace = "fl_export"


@task()
def count(text: File, out: str) -> File:
    counts = Counter(text.read().split())
    result = File(out)
    result.write("".join(f"{word}\t{n}\n" for word, n in sorted(counts.items())))
    return result


@task()
def main(src: str, out: str) -> File:
    return count(File(src), out)


if __name__ == "__main__":
    scheduler = Scheduler(config=Config({"backend": {"db_uri": "sqlite:///redun.db"}}))
    scheduler.load()
    print(scheduler.run(main(sys.argv[1], sys.argv[2])).path)
