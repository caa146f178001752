#!/bin/sh
# The Python interpreter the benchmarked playbooks run modules with (bench/measure.py passes it as
# ansible_python_interpreter). Ansible runs every module as `<interpreter> .../AnsiballZ_<module>.py`, so one
# line here is one module run (with pipelining the module comes on stdin: "pipelined"); then it becomes the
# real interpreter (exec: same process, same memory).
echo "${1:-pipelined}" >> "$BENCH_MODULE_RUNS_FILE"
exec "$BENCH_PYTHON" "$@"
