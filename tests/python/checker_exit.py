"""Runs a checker's main() and leaves without interpreter teardown.

With pyarrow's and deltalake's native thread pools both loaded, teardown on a loaded machine has
aborted ("terminate called without an active exception") after every check had passed and
printed. A failure still exits non-zero with its traceback.
"""

import os
import sys
import traceback


def run(main):
    exit_code = 0
    try:
        main()
    except SystemExit as e:
        exit_code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - report any failure, then exit as below
        traceback.print_exc()
        exit_code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)
