"""What the fork server imports once for every worker it starts (its preload).

Ctrl-C reaches every process of the terminal's job; the run itself handles it. The fork
server and its workers ignore it from their first moment, so an early Ctrl-C prints no
traceback of theirs (the fork server ignores it anyway once its preload is done).
"""

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)

import automl_meta.trials.evaluate  # noqa: E402,F401  the heavy imports, done once
