"""`installed` reads what importlib.metadata reads, faster: the same entry points and the same
distributions, so plugins load and environments are snapshotted as before, without its ~40 ms."""

import os
from importlib import metadata

import pytest
from flowledger import installed


@pytest.mark.parametrize("group", ["flowledger", "console_scripts", "pytest11"])
def test_the_same_entry_points_as_importlib_metadata(group):
    ours = [(e.name, e.value, e.dist_name, e.dist_version) for e in installed.entry_points(group)]
    theirs = [(e.name, e.value, e.dist.name, e.dist.version) for e in metadata.entry_points(group=group)]
    assert ours == theirs and ours  # (each group has entry points in this environment)


def test_an_entry_point_loads_what_it_names():
    (snakemake,) = [e for e in installed.entry_points("flowledger") if e.name == "snakemake"]
    assert snakemake.load() is metadata.entry_points(group="flowledger")["snakemake"].load()


def test_the_same_distributions_as_importlib_metadata():
    ours = [(name, version) for name, version in installed.names_and_versions()]
    theirs = [(d.metadata["Name"], d.version) for d in metadata.distributions()]
    assert ours == theirs


def test_an_entry_points_file_section_is_read_as_configparser_does(tmp_path, monkeypatch):
    info = tmp_path / "demo_pkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: Demo.Pkg\nVersion: 1.0\n\nLong text: not a header\n")
    (info / "entry_points.txt").write_text(
        "[console_scripts]\ndemo = demo:main\n\n[flowledger]\n# a comment\nfirst = demo.plugin\n"
        "second = demo.plugin:hooks.inner [extra]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    found = [(e.name, e.value, e.dist_name) for e in installed.entry_points("flowledger") if e.dist_name == "Demo.Pkg"]
    theirs = [
        (e.name, e.value, e.dist.name) for e in metadata.entry_points(group="flowledger") if e.dist.name == "Demo.Pkg"
    ]
    assert (
        found
        == theirs
        == [("first", "demo.plugin", "Demo.Pkg"), ("second", "demo.plugin:hooks.inner [extra]", "Demo.Pkg")]
    )


def test_the_environment_snapshot_is_reused_until_a_package_is_installed(tmp_path, monkeypatch):
    """The snapshot's index skips reading every distribution's metadata while nothing was installed; a
    folder holding distributions that changes (a package installed or removed) makes it read them again.
    Other changes (the script's own folder, where its outputs go) do not."""
    from flowledger import environment

    site = tmp_path / "site"
    (site / "oldpkg-1.0.dist-info").mkdir(parents=True)
    (site / "oldpkg-1.0.dist-info" / "METADATA").write_text("Name: oldpkg\nVersion: 1.0\n")
    monkeypatch.syspath_prepend(str(site))
    scripts = tmp_path / "scripts"  # the script's own folder, first on sys.path
    scripts.mkdir()
    monkeypatch.syspath_prepend(str(scripts))
    first = environment.snapshot(tmp_path / "ledger")
    assert "oldpkg==1.0" in first.read_text()
    (scripts / "output.txt").write_text("a script's output")
    os.utime(scripts, ns=(2, 2))
    reads = []
    monkeypatch.setattr(environment, "requirements_text", lambda: reads.append(1) or "# other\n")
    assert environment.snapshot(tmp_path / "ledger") == first and reads == []

    (site / "newpkg-1.0.dist-info").mkdir()  # installed: the folder's mtime changes
    os.utime(site, ns=(1, 1))
    second = environment.snapshot(tmp_path / "ledger")
    assert reads == [1] and second != first and second.read_text() == "# other\n"
