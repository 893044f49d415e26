"""A busy process: spins on the CPU for SECONDS, and ends at once when its parent (the
loop it competes with) is gone, so a run leaves nothing behind."""

import os
import sys
import time

parent = os.getppid()
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end and os.getppid() == parent:
    pass
