"""`flowledger_redun.task` is `redun.task`: same Task hash, signature and options; metadata aside."""

import inspect

import flowledger_redun
import redun
from flowledger_redun.decorator import lineage_of
from flowledger_redun.mapping import describe
from redun.hashing import hash_struct
from redun.utils import get_func_source


def _make(decorator, **options):
    def scaled(x: int, factor: int = 2) -> int:
        """Multiply x."""
        return x * factor

    return decorator(namespace="fl_test_deco", **options)(scaled)


def test_same_hash_signature_and_options():
    plain = _make(redun.task, cache=True)
    plain_hash, plain_options = plain.hash, plain.get_task_options()
    recorded = _make(flowledger_redun.task, cache=True, description="Scale", key="scaled")
    assert isinstance(recorded, redun.Task)
    assert recorded.hash == plain_hash
    assert recorded.get_task_options() == plain_options
    assert inspect.signature(recorded.func) == inspect.signature(plain.func)
    assert "description" not in recorded.get_task_options()
    assert lineage_of("fl_test_deco.scaled") == {"description": "Scale", "key": "scaled"}


def test_bare_decorator_and_redun_options(wf):
    @flowledger_redun.task
    def bare(x: int) -> int:
        return x

    assert isinstance(bare, redun.Task)
    assert bare.source == get_func_source(bare.func)
    # The test pipeline's task, decorated with metadata, hashes as plain redun would: name + source.
    count = wf.count_words
    assert count.hash == hash_struct(["Task", "fl_test.count_words", "source", get_func_source(count.func)])


def test_description_is_the_given_one_else_the_docstring(wf):
    """The live tracker and the importer both describe a task through `mapping.describe`."""
    assert describe("fl_test.count_words", wf.count_words.source) == "Count the words of one sample"
    assert describe("fl_test.normalize", wf.normalize.source) == (
        "Turn counts into fractions. Raises when fail_on matches (failure scenario)."
    )
    assert describe("fl_test.write_summary", wf.write_summary.source) is None
    assert describe("fl_test.unknown", None) is None
