"""Canary: the undocumented redun attributes the tracker and the scheduler rely on (redun>=0.44,<0.45).

If this fails after a redun upgrade, the plugin needs porting before the pin is widened.
"""

import inspect

import redun
from redun.backends.db import RedunBackendDb
from redun.promise import Promise
from redun.scheduler import Execution, Job, Scheduler


def test_supported_redun_version():
    major, minor = (int(part) for part in redun.__version__.split(".")[:2])
    assert (major, minor) == (0, 44)


def test_the_hooks_we_wrap_exist_with_their_signatures():
    for name, params in {
        "record_execution": ["exec_id", "args"],
        "record_tags": ["entity_type", "entity_id", "tags"],
        "record_job_start": ["job"],
    }.items():
        assert list(inspect.signature(getattr(RedunBackendDb, name)).parameters)[1 : 1 + len(params)] == params
    run_params = inspect.signature(Scheduler.run).parameters
    assert list(run_params)[1:] == ["expr", "exec_argv", "dryrun", "cache", "tags", "context", "execution_id"]


def test_job_attributes_the_tracker_reads():
    job = Job(redun.scheduler.root_task, redun.scheduler.root_task(None), execution=Execution())
    for attribute in (
        "id",
        "task",
        "args",
        "parent_job",
        "was_cached",
        "call_hash",
        "eval_hash",
        "args_hash",
        "execution",
    ):
        assert hasattr(job, attribute), attribute
    assert isinstance(job.result_promise, Promise)
    assert {"fullname", "hash", "source", "func"} <= set(dir(job.task))
    # Callbacks registered with then() run synchronously when the job settles.
    seen = []
    job.result_promise.then(seen.append)
    job.result_promise.do_resolve("value")
    assert seen == ["value"]
