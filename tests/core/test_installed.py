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


def demo_distribution(site, name: str, entry_points: str) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Name: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[flowledger]\n{entry_points}\n")


def test_entry_points_are_remembered_until_a_package_is_installed(tmp_path, monkeypatch):
    """Plugins are found without reading every entry_points.txt on each start, and a package installed
    (its folder changes) is found at the next start."""
    site = tmp_path / "site-packages"
    demo_distribution(site, "first_plugin", "first = first_plugin.hooks")
    monkeypatch.syspath_prepend(str(site))
    scans = []
    scan = installed._scan
    monkeypatch.setattr(installed, "_scan", lambda group: scans.append(group) or scan(group))

    def ours():
        return [e.name for e in installed.entry_points("flowledger") if e.dist_name.endswith("_plugin")]

    assert ours() == ["first"] and len(scans) == 1
    installed._distributions.cache_clear()  # (a new process)
    assert ours() == ["first"] and len(scans) == 1  # from the cache: nothing read

    demo_distribution(site, "second_plugin", "second = second_plugin.hooks")
    os.utime(site, ns=(1, 1))  # (a folder's mtime can stay the same within one clock tick)
    installed._distributions.cache_clear()
    assert ours() == ["first", "second"] and len(scans) == 2
    assert [e.name for e in installed.entry_points("flowledger", fresh=True) if e.name == "second"] == ["second"]
    assert len(scans) == 3


def test_a_stale_cache_is_read_again_when_a_plugin_no_longer_loads(monkeypatch):
    from flowledger import plugins

    stale = installed.EntryPoint("gone", "flowledger_gone_plugin.hooks", "flowledger-gone", "1.0")
    monkeypatch.setattr(installed, "_cached", lambda cache: [stale])
    loaded = plugins._installed_plugins()
    assert sorted(entry.name for entry, _ in loaded) == sorted(
        e.name for e in metadata.entry_points(group="flowledger")
    )


def test_old_caches_are_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    caches = tmp_path / "cache-home" / "flowledger"
    caches.mkdir(parents=True)
    for number in range(installed.CACHE_FILES + 5):
        (caches / f"entry-points-old{number}-flowledger.json").write_text("{}")
        os.utime(caches / f"entry-points-old{number}-flowledger.json", ns=(number, number))
    installed.entry_points("flowledger", fresh=True)
    left = sorted(p.name for p in caches.iterdir())
    assert len(left) == installed.CACHE_FILES and "entry-points-old0-flowledger.json" not in left
    assert any(not name.startswith("entry-points-old") for name in left)  # this installation's
