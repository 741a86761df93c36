from processors.executors.progress import PartitionProgress, RecentKeys


def test_the_committable_offset_is_the_smallest_still_in_flight() -> None:
    progress = PartitionProgress()
    assert progress.committable() is None
    progress.started(10, 2)
    progress.started(11, 0)  # nothing to deliver (every receiver done before a crash)
    progress.started(12, 1)
    assert (progress.committable(), progress.in_flight) == (10, 3)
    progress.finished(12)  # out of order
    progress.finished(10)
    assert progress.committable() == 10  # one of 10's two deliveries is still going
    progress.finished(10)
    assert (progress.committable(), progress.in_flight) == (13, 0)


def test_recent_keys_forget_the_oldest_beyond_their_bound() -> None:
    keys = RecentKeys(2)
    for key in ("a", "b", "a", "c"):  # "a" is renewed, so "b" is the oldest
        keys.add(key)
    assert ("a" in keys, "b" in keys, "c" in keys, len(keys)) == (True, False, True, 2)
