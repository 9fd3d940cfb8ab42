# Benchmarks that print tables (see the Makefile's header). Another fragment
# adds its own target as a further prerequisite line of `bench`.
#
#   make bench-affinity [TRACE=path/to/conversation_trace.jsonl]
#   make bench-e2e      requests/s and latency: pods directly, HAProxy, kvlb's
#                       HTTP VIP (wrk; new connections and keep-alive)
#
# TRACE is a Mooncake-format JSONL trace (conversation_trace.jsonl of the
# Mooncake FAST'25 release), read in place, never copied into the repository;
# without it only the built-in workload runs.

TRACE ?=

.PHONY: bench bench-affinity bench-e2e
bench: bench-affinity bench-e2e

bench-affinity: deps
	$(Q)$(MAKE) --no-print-directory build-all $(BUILD)/kvlb-emu
	$(Q)BUILD=$(abspath $(BUILD)) scripts/bench-affinity.sh $(if $(TRACE),--trace $(TRACE))

bench-e2e: deps
	$(Q)$(MAKE) --no-print-directory build-all $(BUILD)/kvlb-emu
	$(Q)BUILD=$(abspath $(BUILD)) scripts/bench-e2e.sh
