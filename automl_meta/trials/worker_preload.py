"""What the fork server imports once for every worker it starts (its preload).

Ctrl-C reaches every process of the terminal's job, and `timeout`, systemd or Slurm send
SIGTERM to every process of theirs; the run itself handles them. The fork server and its
workers ignore them from their first moment (forkserver.warm_up starts the server with
them blocked), so the workers live on to refit the best model, and an early Ctrl-C prints
no traceback of theirs.
"""

import signal

from automl_meta.trials.forkserver import IGNORED_SIGNALS

for _signum in IGNORED_SIGNALS:
    signal.signal(_signum, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_UNBLOCK, IGNORED_SIGNALS)

import automl_meta.trials.evaluate  # noqa: E402,F401  the heavy imports, done once
