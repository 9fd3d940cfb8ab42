# Benchmarks that print tables (see the Makefile's header). Another fragment
# adds its own target as a further prerequisite line of `bench`.
#
#   make bench-affinity [TRACE=path/to/conversation_trace.jsonl]
#
# TRACE is a Mooncake-format JSONL trace, read in place (never copied into
# the repository); the built-in workload runs whether or not it exists.

TRACE ?= ../shared/traces/conversation_trace.jsonl

.PHONY: bench bench-affinity
bench: bench-affinity

bench-affinity: deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/kvlb-emu
	$(Q)BUILD=$(abspath $(BUILD)) scripts/bench-affinity.sh --trace $(TRACE)
