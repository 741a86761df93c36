from processors.executors.progress import PartitionProgress


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
