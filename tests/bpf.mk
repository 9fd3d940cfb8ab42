# BPF unit tests (BPF_PROG_TEST_RUN on crafted packets) and the packet-cost
# benchmark.
#
#   build/tests/test_bpf      the unit tests, without sanitizers (also run in VMs)
#   build/tests/test_bpf-san  the same with $(SAN_FLAGS), when SAN=1
#   make bench-pkt            ns/packet of kvlb's XDP path vs. a bare XDP_TX program

TBPF_DIR   := tests/bpf
TBPF_LIB   := $(TBPF_DIR)/harness.c $(TBPF_DIR)/pktbuild.c
TBPF_HDRS  := $(wildcard $(TBPF_DIR)/*.h) include/kvlb.h

TEST_DEPS += $(BUILD)/tests/test_bpf $(BPF_OBJS) $(BUILD)/tests/xdp_bounce.bpf.o
ifeq ($(SAN),1)
TEST_DEPS += $(BUILD)/tests/test_bpf-san
endif

$(BUILD)/tests/test_bpf: $(TBPF_DIR)/test_bpf.c $(TBPF_LIB) $(TBPF_HDRS) | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(TBPF_DIR)/test_bpf.c $(TBPF_LIB) $(LDLIBS) -o $@

$(BUILD)/tests/test_bpf-san: $(TBPF_DIR)/test_bpf.c $(TBPF_LIB) $(TBPF_HDRS) | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $(TBPF_DIR)/test_bpf.c $(TBPF_LIB) $(LDLIBS) -o $@

$(BUILD)/tests/xdp_bounce.bpf.o $(BUILD)/tests/xdp_pass.bpf.o: $(BUILD)/tests/%.bpf.o: \
		$(TBPF_DIR)/%.bpf.c | $(BUILD)/tests
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# scripts/topo.sh attaches it to the client's link (the demo needs it too).
ALL_TARGETS += $(BUILD)/tests/xdp_pass.bpf.o

$(BUILD)/tests/bench_pkt: $(TBPF_DIR)/bench_pkt.c $(TBPF_LIB) $(TBPF_HDRS) | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(TBPF_DIR)/bench_pkt.c $(TBPF_LIB) $(LDLIBS) -o $@

.PHONY: bench-pkt
bench: bench-pkt
bench-pkt: $(BPF_OBJS) $(BUILD)/tests/xdp_bounce.bpf.o $(BUILD)/tests/bench_pkt
	$(Q)$(BUILD)/tests/bench_pkt --obj-dir $(BUILD) --bounce $(BUILD)/tests/xdp_bounce.bpf.o
