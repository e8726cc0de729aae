#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make test-asan / make test-tsan: builds the package and its tests with
# one sanitizer into a build directory of its own and runs every test
# there (extra arguments go to `swift test`, e.g. --filter NAME).
#
#   Tests/Sanitizers/run-tests.sh address|thread [swift test arguments]
#
# The tests start airtap, airtap-kernel-probe and the library programs as
# children (through tshark, env and setpriv too); they are found next to
# the test binary, so they are this build's sanitized ones, and they
# inherit ASAN_OPTIONS/TSAN_OPTIONS. Every process writes its reports to
# files in the build directory (log_path), so a report cannot hide in a
# child's output that no test reads; halt_on_error also ends the process
# with a failing status, which the test sees. Any report fails the run.
#
# Not instrumented: the kernel library (build/out/lib/liblkl.a, built by
# kernel/build.sh without a sanitizer); its host calls into malloc,
# pthreads and semaphores are still intercepted.
set -euo pipefail

sanitizer=${1:?usage: $0 address|thread [swift test arguments]}
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

# time_scale: roughly how many times slower the sanitized programs run on
# a loaded 2-core machine; the tests' hang guards and kernel-failure
# triggers stretch by it (Tests/WirelessTests/TestTimeScale.swift).
# parallel: test cases at once (Swift Testing's default is 2 per core):
# the drivers' own timeouts (rtw88's TX reports, a wlan interface within
# 20 s) do not stretch, so fewer sanitized kernels share the cores.
case $sanitizer in
address) scratch=.build-asan time_scale=3 parallel=2 ;;
thread) scratch=.build-tsan time_scale=3 parallel=2 ;;
*) echo "$0: sanitizer is address or thread, not $sanitizer" >&2; exit 2 ;;
esac
flags=(--sanitize="$sanitizer" --scratch-path "$scratch")

swift build --build-tests "${flags[@]}"
bin=$(swift build "${flags[@]}" --show-bin-path)

reports=$root/$scratch/sanitizer-reports
rm -rf "$reports"
# World-writable: some tests run airtap as nobody.
mkdir -p "$reports"
chmod 1777 "$reports"

# report.<program>.<pid> per process that reports.
common="halt_on_error=1:log_path=$reports/report:log_exe_name=1"
# No leak check: a process never shuts its kernel down, and at exit the
# kernel's threads still use the host objects they call back into (USB
# devices, their models, the simulated air), held from kernel memory that
# the kernel maps itself and LeakSanitizer does not scan: every process
# would report its whole device graph.
export ASAN_OPTIONS="$common:detect_leaks=0:check_initialization_order=1:strict_init_order=1"
export TSAN_OPTIONS="$common:second_deadlock_stack=1:suppressions=$root/Tests/Sanitizers/thread-suppressions.txt"
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-$parallel}
export AIRTAP_TEST_TIME_SCALE=$time_scale
# The kernel progress watchdog's limit (20 s by default), for the same reason.
export AIRTAP_STUCK_SECONDS=$((20 * time_scale))
# The runners' first choice; without these they would also look in .build/.
export AIRTAP_BINARY=$bin/airtap AIRTAP_PROBE=$bin/airtap-kernel-probe

started=$(date +%s)
status=0
swift test --skip-build "${flags[@]}" "$@" || status=$?
echo "sanitizers: swift test under the $sanitizer sanitizer took $(($(date +%s) - started)) s (status $status)"

shopt -s nullglob
found=("$reports"/report.*)
if [ ${#found[@]} -gt 0 ]; then
	for report in "${found[@]}"; do
		echo "=== $report"
		cat "$report"
	done
	echo "sanitizers: ${#found[@]} process(es) reported under the $sanitizer sanitizer (above; files in $reports)" >&2
	exit 1
fi
exit "$status"
