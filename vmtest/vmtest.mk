# vmtest: the BPF checks inside a VM on Debian 12's kernels (see vmtest/vmtest.sh).
#
#   make vmtest                    both kernels (KERNEL="6.1 6.12")
#   make vmtest KERNEL=6.1         one; also a linux-image .deb or a vmlinuz path
#   make verifier-stats            verifier figures per program, per kernel
#                                  (the VM kernels and the running one)

KERNEL ?= 6.1 6.12
VMTEST_BIN := $(BUILD)/vmtest/verifier_stats $(BUILD)/vmtest/probe.bpf.o

ALL_TARGETS += $(VMTEST_BIN)
TEST_DEPS   += $(VMTEST_BIN)

.PHONY: vmtest verifier-stats

$(BUILD)/vmtest:
	$(Q)mkdir -p $@

$(BUILD)/vmtest/verifier_stats: vmtest/verifier_stats.c | $(BUILD)/vmtest
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $< $(LDLIBS) -o $@

$(BUILD)/vmtest/probe.bpf.o: vmtest/probe.bpf.c | $(BUILD)/vmtest
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

vmtest: deps
	$(Q)$(MAKE) --no-print-directory build-all $(TEST_DEPS)
	$(Q)BUILD=$(BUILD) vmtest/vmtest.sh $(KERNEL)

verifier-stats: deps
	$(Q)$(MAKE) --no-print-directory build-all $(TEST_DEPS)
	$(Q)BUILD=$(BUILD) vmtest/vmtest.sh --stats $(KERNEL)
	$(Q)if [ "$$(id -u)" -eq 0 ]; then \
		$(BUILD)/vmtest/verifier_stats --no-header $(sort $(BPF_OBJS)) $(BUILD)/vmtest/probe.bpf.o; \
	else echo "(running kernel skipped: loading programs needs root)"; fi
