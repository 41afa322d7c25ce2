"""The script step of the chain: a report of the counts redun made, tracked with fl.track()."""

import flowledger as fl

run = fl.track()
rows = [line.split("\t") for line in open("results/counts.tsv").read().splitlines()]
with open("results/report.txt", "w") as handle:
    handle.write(f"{len(rows)} distinct words; most frequent: {max(rows, key=lambda r: int(r[1]))[0]}\n")
run.inputs.add("results/counts.tsv")
run.outputs.add("results/report.txt")
fl.finish()
