"""The planning and the runner of host_drain / host_return / host_evacuate, on a fake driver and clock."""
import pytest

from ansible_collections.osops.toolkit.plugins.module_utils import _drain as drain


class Clock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class FakeNova(object):
    """Each instance takes ``durations[id]`` seconds; ids in ``fails`` fail, in ``refuses`` are refused."""

    def __init__(self, clock, durations, fails=(), refuses=(), cold_confirm=True):
        self.clock = clock
        self.durations = durations
        self.fails = set(fails)
        self.refuses = set(refuses)
        self.started = {}
        self.confirmed = set()
        self.aborted = []
        self.max_in_flight = 0
        self.polls = 0
        self.cold_confirm = cold_confirm
        self.not_confirmable = {}
        self.confirm_calls = 0

    def start(self, record):
        if record["id"] in self.refuses:
            raise RuntimeError("Cannot 'os-migrateLive' instance %s while it is in task_state migrating" % record["id"])
        self.started[record["id"]] = self.clock()
        self.max_in_flight = max(self.max_in_flight, len(self.started))

    def poll(self, records):
        self.polls += 1
        phases = {}
        for record in records:
            elapsed = self.clock() - self.started[record["id"]]
            if elapsed < self.durations[record["id"]]:
                continue
            if record["id"] in self.fails:
                phases[record["id"]] = ("failed", "live-migration ended in status error: NoValidHost")
            elif record["method"] == "cold" and record["id"] not in self.confirmed:
                phases[record["id"]] = ("confirm", None)
            else:
                phases[record["id"]] = ("done", None)
        return phases

    def confirm(self, record):
        if self.not_confirmable.get(record["id"], 0) > 0:
            # like nova between "migration finished" and "instance in VERIFY_RESIZE"
            self.not_confirmable[record["id"]] -= 1
            return False
        self.confirmed.add(record["id"])
        self.confirm_calls += 1
        return True

    def abort(self, record):
        self.aborted.append(record["id"])
        return "; aborted"

    def finish(self, record):
        del self.started[record["id"]]
        record["destination"] = "elsewhere"

    def settle(self, record):
        self.started.pop(record["id"], None)


def _records(spec):
    return [drain.new_record({"id": i, "name": "vm-%s" % i, "status": status}, "compute-1",
                             drain.drain_method(status)) for i, status in spec]


def _runner(nova, clock, **kwargs):
    kwargs.setdefault("poll_interval", 1.0)

    def forget_failed(done, total, record):
        if record["result"] != drain.MOVED:
            nova.settle(record)
    return drain.MoveRunner(nova, clock=clock, sleep=clock.sleep, on_progress=forget_failed, **kwargs)


@pytest.mark.parametrize("status, method", [
    ("ACTIVE", "live"), ("PAUSED", "live"), ("SHUTOFF", "cold"),
    ("SUSPENDED", None), ("ERROR", None), ("SHELVED", None), ("BUILD", None), ("VERIFY_RESIZE", None),
])
def test_drain_method_by_state(status, method):
    assert drain.drain_method(status) == method


def test_fit_instances_spreads_largest_first_and_reports_what_fits_nowhere():
    free = {"c2": {"VCPU": 4, "MEMORY_MB": 4096, "DISK_GB": 100},
            "c3": {"VCPU": 8, "MEMORY_MB": 2048, "DISK_GB": 100}}
    demands = [("small", {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}),
               ("big", {"VCPU": 2, "MEMORY_MB": 3072, "DISK_GB": 10}),
               ("huge", {"VCPU": 1, "MEMORY_MB": 8192, "DISK_GB": 1}),
               ("mid", {"VCPU": 1, "MEMORY_MB": 1536, "DISK_GB": 1})]
    placed, unfit = drain.fit_instances(demands, free)
    assert unfit == ["huge"]
    assert placed["big"] == "c2"          # only c2 has 3 GiB
    assert placed["mid"] == "c3"          # c3 has most memory left after that
    assert placed["small"] == "c2"        # 1024 left on c2 vs 512 on c3


def test_fit_instances_counts_a_missing_class_as_no_room():
    placed, unfit = drain.fit_instances([("a", {"VCPU": 1, "MEMORY_MB": 64, "DISK_GB": 1})],
                                        {"bm": {"CUSTOM_BAREMETAL": 1}})
    assert placed == {} and unfit == ["a"]


def test_capacity_message_names_the_instances_and_the_way_out():
    records = _records([("a", "ACTIVE")])
    message = drain.capacity_message(records, {}, [("a", {"VCPU": 2, "MEMORY_MB": 64, "DISK_GB": 1})])
    assert "vm-a" in message and "VCPU=2" in message and "capacity_check=false" in message
    assert "Nothing was moved" in message


def test_runner_moves_everything_and_keeps_concurrency():
    clock = Clock()
    records = _records([(str(i), "ACTIVE") for i in range(10)])
    nova = FakeNova(clock, dict((str(i), 3) for i in range(10)))
    _runner(nova, clock, concurrency=3).run(records)
    assert [r["result"] for r in records] == [drain.MOVED] * 10
    assert nova.max_in_flight == 3
    assert all(r["destination"] == "elsewhere" and r["seconds"] == 3.0 for r in records)
    assert all(not k.startswith("_") for r in records for k in r)
    # 10 moves of 3 s, 3 at a time: 4 waves of 3 s
    assert clock.now == 12.0


def test_runner_confirms_cold_migrations_once():
    clock = Clock()
    records = _records([("a", "SHUTOFF")])
    nova = FakeNova(clock, {"a": 2})
    _runner(nova, clock).run(records)
    assert records[0]["result"] == drain.MOVED and nova.confirmed == {"a"}


def test_a_migration_nova_cannot_confirm_yet_is_confirmed_on_a_later_round():
    clock = Clock()
    records = _records([("a", "SHUTOFF")])
    nova = FakeNova(clock, {"a": 2})
    nova.not_confirmable["a"] = 2
    _runner(nova, clock).run(records)
    assert records[0]["result"] == drain.MOVED and records[0]["error"] is None
    assert nova.confirmed == {"a"} and nova.confirm_calls == 1


def test_one_failure_does_not_stop_the_others():
    clock = Clock()
    records = _records([("a", "ACTIVE"), ("b", "ACTIVE"), ("c", "SHUTOFF")])
    nova = FakeNova(clock, {"a": 1, "b": 1, "c": 1}, fails={"a"})
    _runner(nova, clock, concurrency=1).run(records)
    assert [r["result"] for r in records] == [drain.FAILED, drain.MOVED, drain.MOVED]
    assert "NoValidHost" in records[0]["error"]


def test_a_refused_start_is_a_failure_of_that_instance_only():
    clock = Clock()
    records = _records([("a", "ACTIVE"), ("b", "ACTIVE")])
    nova = FakeNova(clock, {"a": 1, "b": 1}, refuses={"a"})
    _runner(nova, clock, concurrency=2).run(records)
    assert records[0]["result"] == drain.FAILED and "task_state migrating" in records[0]["error"]
    assert records[1]["result"] == drain.MOVED


def test_stop_on_failure_starts_nothing_more():
    clock = Clock()
    records = _records([("a", "ACTIVE"), ("b", "ACTIVE"), ("c", "ACTIVE")])
    nova = FakeNova(clock, {"a": 1, "b": 1, "c": 1}, fails={"a"})
    _runner(nova, clock, concurrency=1, stop_on_failure=True).run(records)
    assert [r["result"] for r in records] == [drain.FAILED, drain.NOT_STARTED, drain.NOT_STARTED]
    assert "stop_on_failure" in records[1]["error"]


def test_instance_timeout_aborts_that_move_and_the_rest_go_on():
    clock = Clock()
    records = _records([("slow", "ACTIVE"), ("b", "ACTIVE")])
    nova = FakeNova(clock, {"slow": 100, "b": 2})
    _runner(nova, clock, concurrency=2, instance_timeout=10).run(records)
    assert records[0]["result"] == drain.TIMEOUT and "per-instance timeout" in records[0]["error"]
    assert records[0]["error"].endswith("; aborted") and nova.aborted == ["slow"]
    assert records[1]["result"] == drain.MOVED
    assert clock.now == 10.0


def test_overall_timeout_reports_in_flight_and_not_started():
    clock = Clock()
    records = _records([("a", "ACTIVE"), ("b", "ACTIVE"), ("c", "ACTIVE")])
    nova = FakeNova(clock, {"a": 3, "b": 100, "c": 1})
    _runner(nova, clock, concurrency=1, overall_timeout=5, instance_timeout=1000).run(records)
    assert [r["result"] for r in records] == [drain.MOVED, drain.TIMEOUT, drain.NOT_STARTED]
    assert "overall timeout" in records[1]["error"] and "overall timeout" in records[2]["error"]


def test_records_with_a_result_are_left_alone_and_progress_counts_the_rest():
    clock = Clock()
    records = _records([("a", "ACTIVE"), ("s", "SUSPENDED")])
    records[1]["result"] = drain.NOT_MOVED
    seen = []
    nova = FakeNova(clock, {"a": 1})
    drain.MoveRunner(nova, clock=clock, sleep=clock.sleep, poll_interval=1,
                     on_progress=lambda done, total, record: seen.append((done, total, record["id"]))).run(records)
    assert seen == [(1, 1, "a")]
    assert records[1]["result"] == drain.NOT_MOVED


def test_polls_once_per_round_whatever_the_number_in_flight():
    clock = Clock()
    records = _records([(str(i), "ACTIVE") for i in range(5)])
    nova = FakeNova(clock, dict((str(i), 4) for i in range(5)))
    _runner(nova, clock, concurrency=5).run(records)
    assert nova.polls == 4


def test_summary_and_unsuccessful():
    records = _records([("a", "ACTIVE"), ("b", "ACTIVE"), ("c", "SUSPENDED")])
    for record, result in zip(records, (drain.MOVED, drain.TIMEOUT, drain.LEFT)):
        record["result"] = result
    summary = drain.summarize(records)
    assert summary["total"] == 3 and summary["moved"] == 1 and summary["timeout"] == 1 and summary["left"] == 1
    assert [r["id"] for r in drain.unsuccessful(records)] == ["b"]


def test_event_error_prefers_details_then_the_exception_line():
    from ansible_collections.osops.toolkit.plugins.module_utils._nova_moves import event_error
    traceback = ("Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n    raise result\n"
                 "nova.exception.NoValidHost: No valid host was found. \n")
    assert event_error([{"result": "Success"}, {"result": "Error", "traceback": traceback}]) == \
        ": nova.exception.NoValidHost: No valid host was found."
    assert event_error([{"result": "Error", "details": "No valid host was found. ", "traceback": traceback}]) == \
        ": No valid host was found."
    assert event_error([{"result": "Success"}]) == ""


def test_adaptive_polling_notices_quick_moves_soon_and_long_ones_every_poll_interval():
    clock = Clock()
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock.sleep(seconds)
    records = _records([("quick", "ACTIVE"), ("long", "ACTIVE")])
    nova = FakeNova(clock, {"quick": 1, "long": 60})
    drain.MoveRunner(nova, concurrency=2, poll_interval=2.0, min_poll=0.25, clock=clock, sleep=sleep).run(records)
    assert records[0]["seconds"] <= 1.25          # noticed within 0.25 s of finishing
    assert records[1]["seconds"] <= 62.0
    assert sleeps[0] == 0.25 and max(sleeps) == 2.0
    assert len(sleeps) < 60                        # not a request every 0.25 s for a minute


# ---------------------------------------------------------------- faults, re-reads, merged reruns

class Outage(Exception):
    """What the driver raises once the API stayed away for the whole retry time."""


class FlakyNova(FakeNova):
    """FakeNova whose API goes away for good at ``down_at`` (every call after it raises Outage)."""

    def __init__(self, clock, durations, down_at, **kwargs):
        super(FlakyNova, self).__init__(clock, durations, **kwargs)
        self.down_at = down_at

    def _check(self):
        if self.clock() >= self.down_at:
            raise Outage("The compute API did not answer for 120s")

    def start(self, record):
        self._check()
        return super(FlakyNova, self).start(record)

    def poll(self, records):
        self._check()
        return super(FlakyNova, self).poll(records)


def test_an_api_that_stays_away_ends_the_run_with_every_record_and_names_the_moves_in_flight():
    clock = Clock()
    records = _records([("a", "ACTIVE"), ("b", "ACTIVE"), ("c", "ACTIVE"), ("d", "ACTIVE")])
    nova = FlakyNova(clock, {"a": 1, "b": 50, "c": 50, "d": 1}, down_at=5)
    seen = []
    runner = drain.MoveRunner(nova, concurrency=2, poll_interval=1, clock=clock, sleep=clock.sleep,
                              error_types=(RuntimeError,), outage_types=(Outage,),
                              on_progress=lambda done, total, record: seen.append(record["id"]))
    assert runner.run(records) is records
    assert [r["result"] for r in records] == [drain.MOVED, drain.STILL_RUNNING, drain.STILL_RUNNING,
                                              drain.NOT_STARTED]
    assert "may still finish" in records[1]["error"] and "did not answer" in records[1]["error"]
    assert records[3]["error"] == "not started: The compute API did not answer for 120s"
    assert runner.outage == "The compute API did not answer for 120s"
    assert sorted(seen) == ["a", "b", "c", "d"]           # a progress line for each
    assert all(not k.startswith("_") for r in records for k in r)
    assert clock.now == 5.0                               # stopped at once, not at the timeouts


def test_an_outage_at_the_first_start_leaves_everything_not_started():
    clock = Clock()
    records = _records([("a", "ACTIVE"), ("b", "SHUTOFF")])
    nova = FlakyNova(clock, {"a": 1, "b": 1}, down_at=0)
    drain.MoveRunner(nova, clock=clock, sleep=clock.sleep, error_types=(RuntimeError,),
                     outage_types=(Outage,)).run(records)
    assert [r["result"] for r in records] == [drain.NOT_STARTED, drain.NOT_STARTED]


def test_a_failing_poll_is_named_when_the_move_times_out():
    clock = Clock()
    records = _records([("a", "ACTIVE")])
    nova = FakeNova(clock, {"a": 100})

    def broken_poll(records):
        raise RuntimeError("HTTP 500 from nova")
    nova.poll = broken_poll
    drain.MoveRunner(nova, clock=clock, sleep=clock.sleep, poll_interval=1, instance_timeout=5,
                     error_types=(RuntimeError,)).run(records)
    assert records[0]["result"] == drain.TIMEOUT
    assert "the last look at nova failed: HTTP 500 from nova" in records[0]["error"]


class ReReadingNova(FakeNova):
    """FakeNova whose start reads the instance first: ``elsewhere`` moved, ``busy`` {id: rounds}."""

    def __init__(self, clock, durations, elsewhere=(), deleted=(), busy=None, **kwargs):
        super(ReReadingNova, self).__init__(clock, durations, **kwargs)
        self.elsewhere, self.deleted, self.busy = set(elsewhere), set(deleted), dict(busy or {})
        self.start_calls = []

    def start(self, record):
        self.start_calls.append(record["id"])
        if record["id"] in self.deleted:
            return drain.GONE
        if record["id"] in self.elsewhere:
            record["destination"] = "compute-9"
            return drain.MOVED_ELSEWHERE
        if self.busy.get(record["id"], 0) > 0:
            self.busy[record["id"]] -= 1
            return drain.BUSY
        return super(ReReadingNova, self).start(record)


def test_an_instance_moved_by_someone_else_is_recorded_not_moved_again():
    clock = Clock()
    records = _records([("a", "ACTIVE"), ("b", "ACTIVE"), ("c", "ACTIVE")])
    nova = ReReadingNova(clock, {"a": 2, "c": 2}, elsewhere={"b"}, deleted={"c"})
    _runner(nova, clock, concurrency=1, stop_on_failure=True).run(records)
    assert [r["result"] for r in records] == [drain.MOVED, drain.MOVED_ELSEWHERE, drain.GONE]
    assert records[1]["destination"] == "compute-9"
    assert "b" not in nova.started and drain.unsuccessful(records) == []


def test_a_busy_instance_is_asked_again_and_the_others_go_on_meanwhile():
    clock = Clock()
    records = _records([("busy", "ACTIVE"), ("b", "ACTIVE")])
    nova = ReReadingNova(clock, {"busy": 1, "b": 3}, busy={"busy": 2})
    _runner(nova, clock, concurrency=1).run(records)
    assert [r["result"] for r in records] == [drain.MOVED, drain.MOVED]
    assert nova.start_calls[:2] == ["busy", "b"] and nova.start_calls.count("busy") == 3


def test_an_instance_busy_for_longer_than_the_instance_timeout_times_out():
    clock = Clock()
    records = _records([("busy", "ACTIVE")])
    nova = ReReadingNova(clock, {"busy": 1}, busy={"busy": 1000})
    _runner(nova, clock, instance_timeout=10).run(records)
    assert records[0]["result"] == drain.TIMEOUT and "kept it busy" in records[0]["error"]
    assert clock.now == 10.0


def _done(record_id, result, origin="compute-1", destination="compute-2"):
    record = drain.new_record({"id": record_id, "name": record_id, "status": "ACTIVE"}, origin, "live",
                              destination)
    record["result"] = result
    return record


def test_a_rerun_keeps_what_the_first_run_moved_so_return_sends_it_home():
    first = [_done("a", drain.MOVED), _done("b", drain.FAILED, destination=None),
             _done("gone-by-hand", drain.FAILED), _done("x", drain.MOVED, origin="compute-5")]
    second = [_done("b", drain.MOVED, destination="compute-3")]
    merged = drain.merge_records(first, second, "compute-1")
    by = dict((r["id"], r) for r in merged)
    assert sorted(by) == ["a", "b"]                                   # other hosts, unmoved ones: out
    assert by["a"]["result"] == drain.MOVED and by["a"]["origin"] == "compute-1"
    assert by["a"]["destination"] == "compute-2"
    assert by["b"] is second[0] and by["b"]["destination"] == "compute-3"
    assert set(by["a"]) == set(second[0])                              # the record keys, no more
    assert drain.merge_records([], second, "compute-1") == second


def test_a_rerun_that_finds_an_instance_back_on_the_host_takes_its_new_record():
    first = [_done("a", drain.MOVED)]
    second = [_done("a", drain.FAILED, destination=None)]
    merged = drain.merge_records(first, second, "compute-1")
    assert merged == second and drain.unsuccessful(merged) == second


def test_an_earlier_run_stopped_mid_move_counts_the_instance_moved_once_it_left_the_host():
    first = [_done("left", drain.STILL_RUNNING, destination=None), _done("stayed", drain.STILL_RUNNING)]
    second = [_done("stayed", drain.MOVED, destination="compute-3")]     # still listed on the host, moved now
    by = dict((r["id"], r) for r in drain.merge_records(first, second, "compute-1"))
    assert by["stayed"] is second[0]
    assert by["left"]["result"] == drain.MOVED and "an earlier run that stopped" in by["left"]["error"]
    assert drain.unsuccessful(list(by.values())) == []


def test_a_rerun_that_saw_the_earlier_runs_move_end_counts_it_moved_so_return_sends_it_home():
    # the rerun listed it on the host while nova still moved it, then found it gone elsewhere
    first = [_done("a", drain.STILL_RUNNING, destination=None)]
    second = [_done("a", drain.MOVED_ELSEWHERE, destination="compute-3")]
    [merged] = drain.merge_records(first, second, "compute-1")
    assert (merged["result"], merged["origin"], merged["destination"]) == (drain.MOVED, "compute-1", "compute-3")
    # someone else's move of an instance this drain never moved stays theirs
    [theirs] = drain.merge_records([], [_done("b", drain.MOVED_ELSEWHERE)], "compute-1")
    assert theirs["result"] == drain.MOVED_ELSEWHERE


def test_the_same_instance_twice_in_the_earlier_records_is_kept_once_the_later_entry_winning():
    first = [_done("a", drain.STILL_RUNNING, destination=None), _done("a", drain.MOVED, destination="compute-9")]
    [kept] = drain.merge_records(first, [], "compute-1")
    assert (kept["result"], kept["destination"]) == (drain.MOVED, "compute-9")


def test_a_snapshot_of_a_running_drain_marks_the_moves_in_flight_still_running():
    clock = Clock()
    records = _records([("a", "ACTIVE"), ("b", "ACTIVE"), ("c", "ACTIVE")])
    snapshots = []
    nova = FakeNova(clock, {"a": 2, "b": 5, "c": 1})
    runner = _runner(nova, clock, concurrency=2)
    runner.on_start = lambda record: snapshots.append(drain.records_as_of_now(records))
    runner.run(records)
    # when b started, a was in flight and c waited: a and b read still_running, c nothing yet
    when_b_started = snapshots[1]
    assert [r["result"] for r in when_b_started] == [drain.STILL_RUNNING, drain.STILL_RUNNING, None]
    assert all(not k.startswith("_") for r in when_b_started for k in r)
    assert [r["result"] for r in drain.records_as_of_now(records)] == [drain.MOVED] * 3


def test_left_on_host_reports_what_nova_still_lists_there():
    records = [_done("a", drain.MOVED), _done("b", drain.FAILED), _done("c", drain.LEFT)]
    newcomers = drain.left_on_host(records, [{"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": "new"}], "compute-1")
    assert [r["result"] for r in records] == [drain.STILL_ON_HOST, drain.FAILED, drain.LEFT]
    assert "still lists it on compute-1" in records[0]["error"] and records[0]["destination"] == "compute-1"
    assert newcomers == [{"id": "new"}]
