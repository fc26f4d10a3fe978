#!/usr/bin/env bash
# Run the date-sensitive parts of the suite with the clock set to other days (libfaketime), to prove that
# the tests and the demo do not depend on today's date. Not part of CI (it runs the suites three times).
#
#   apt-get install -y faketime        # Debian's libfaketime
#   bench/any_date.sh                  # the demo, web and browser tests at three dates
#   bench/any_date.sh tests/web/test_letters_web.py    # other test paths
#   ANY_DATE_DATES="2027-12-31 14:00:00|2028-02-29 03:00:00" bench/any_date.sh
#
# SQLite only: PostgreSQL's server clock is not faked, so with TEST_DATABASE_URL client and server would
# disagree about now(). Dates are UTC; Chita is UTC+9 (the default dates are evening of the 29th and late
# evening of the 31st in Chita, and the first morning of a year).
set -euo pipefail
cd "$(dirname "$0")/.."

LIB=${FAKETIME_LIB:-/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1}
if [[ ! -e "$LIB" ]]; then
    echo "libfaketime not found at $LIB: apt-get install -y faketime (or set FAKETIME_LIB)" >&2
    exit 2
fi
PYTHON=${PYTHON:-.venv/bin/python}
[[ -x "$PYTHON" ]] || PYTHON=python3
# pytest.main() then os._exit(): under libfaketime a timer thread of the rate limiter's memory storage never
# wakes up, and the interpreter would wait for it at exit forever.
RUN_PYTEST='import os, sys, pytest; rc = pytest.main(sys.argv[1:]); sys.stdout.flush(); sys.stderr.flush(); os._exit(int(rc))'
IFS='|' read -r -a DATES <<< "${ANY_DATE_DATES:-2027-03-29 10:00:00|2027-10-31 14:30:00|2028-01-01 00:30:00}"
if [[ $# -gt 0 ]]; then PATHS=("$@"); else PATHS=(tests/test_cli_and_demo.py tests/web tests/e2e); fi

# This test runs `flask routes` in a subprocess, which would hang at exit the same way (and time out); it does
# not read the date, and is left out here.
DESELECT=(--deselect tests/web/test_hardening.py::test_wsgi_and_cli_refuse_the_default_key_unless_debug)

unset TEST_DATABASE_URL
status=0
for moment in "${DATES[@]}"; do
    echo "=== clock at $moment UTC: ${PATHS[*]}"
    # The clock starts at `moment` and ticks (subprocesses too). Monotonic clocks are faked as well: with
    # FAKETIME_DONT_FAKE_MONOTONIC=1 Python's time.sleep fails with EINVAL under libfaketime 0.9.10.
    if ! FAKETIME="@$moment" FAKETIME_DONT_RESET=1 LD_PRELOAD="$LIB" \
            "$PYTHON" -c "$RUN_PYTEST" -q -p no:cacheprovider "${PATHS[@]}" "${DESELECT[@]}"; then
        status=1
        echo "=== FAILED at $moment"
    fi
done
exit $status
