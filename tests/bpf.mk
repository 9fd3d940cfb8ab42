# BPF unit tests (BPF_PROG_TEST_RUN on crafted packets) and the packet-cost
# benchmark.
#
#   build/tests/test_bpf      the unit tests, without sanitizers (also run in VMs)
#   build/tests/test_bpf-san  the same with $(SAN_FLAGS), when SAN=1
#   build/tests/test_splice   delayed binding (HTTP VIPs) packet by packet; -san likewise
#   make bench-pkt            ns/packet of kvlb's XDP path (L4 and HTTP VIPs: SYN
#                             cookie, spliced flows both ways) vs. a bare XDP_TX program

TBPF_DIR   := tests/bpf
TBPF_LIB   := $(TBPF_DIR)/harness.c $(TBPF_DIR)/pktbuild.c
TBPF_HDRS  := $(wildcard $(TBPF_DIR)/*.h) include/kvlb.h

TBPF_TESTS := test_bpf test_splice

TEST_DEPS += $(TBPF_TESTS:%=$(BUILD)/tests/%) $(BPF_OBJS) $(BUILD)/tests/xdp_bounce.bpf.o
ifeq ($(SAN),1)
TEST_DEPS += $(TBPF_TESTS:%=$(BUILD)/tests/%-san)
endif

$(TBPF_TESTS:%=$(BUILD)/tests/%): $(BUILD)/tests/%: $(TBPF_DIR)/%.c $(TBPF_LIB) $(TBPF_HDRS) \
		| $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $< $(TBPF_LIB) $(LDLIBS) -o $@

$(TBPF_TESTS:%=$(BUILD)/tests/%-san): $(BUILD)/tests/%-san: $(TBPF_DIR)/%.c $(TBPF_LIB) \
		$(TBPF_HDRS) | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $< $(TBPF_LIB) $(LDLIBS) -o $@

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
