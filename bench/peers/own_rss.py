"""Peak RSS of the running process, shared by the peer apps.

Used by the faust floor. The Quix app keeps a copy: it runs isolated (``python -I``) in
its own venv and imports nothing from the checkout.
"""

from __future__ import annotations

import resource


def peak_rss() -> tuple[int, int]:
    """(this process's own peak RSS, ``ru_maxrss * 1024``) in bytes.

    The first is ``VmHWM`` of /proc/self/status: the high-water mark of this address
    space only. Linux's ``ru_maxrss`` also keeps the peak of the process image that
    exec'd this one (the launcher, as forked), so it overstates a child started by a
    large parent; it is kept alongside for reference (and used where /proc is absent).
    """
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024, maxrss
    except OSError:
        pass
    return maxrss, maxrss
