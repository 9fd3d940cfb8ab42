# The HTTP/JSON front parser, prefix chain and HTTP-aware choice: userspace
# unit tests from the BPF headers (ASan/UBSan unless SAN=0), a libFuzzer
# harness, and a BPF program proving the parser passes the verifier.
#
#   build/tests/test_http        parser and chain unit tests
#   build/tests/test_choose      backend choice unit tests
#   build/tests/fuzz_http        libFuzzer harness (clang)
#   build/tests/http_verify.bpf.o + build/tests/test_http_bpf
#   make fuzz                    a longer fuzzing run (FUZZ_TIME seconds, default 300)

THTTP_DIR   := tests/http
THTTP_HDRS  := bpf/http.h bpf/prefix.h bpf/cshim.h bpf/choose.h include/kvlb.h \
	$(wildcard $(THTTP_DIR)/*.h)
THTTP_CFLAGS := $(CFLAGS) -Ibpf -I$(THTTP_DIR) -Itests/user -Wno-unknown-pragmas
ifeq ($(SAN),1)
THTTP_CFLAGS += $(SAN_FLAGS)
endif
FUZZ_TIME ?= 300

TEST_DEPS += $(BUILD)/tests/test_http $(BUILD)/tests/test_choose \
	$(BUILD)/tests/http_verify.bpf.o $(BUILD)/tests/test_http_bpf $(BUILD)/tests/fuzz_http

$(BUILD)/tests/test_http: $(THTTP_DIR)/test_http.c $(THTTP_HDRS) | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(THTTP_CFLAGS) $< -o $@

$(BUILD)/tests/test_choose: $(THTTP_DIR)/test_choose.c $(THTTP_HDRS) | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(THTTP_CFLAGS) $< -o $@

# libFuzzer needs clang; the sanitizers are always on for fuzzing.
$(BUILD)/tests/fuzz_http: $(THTTP_DIR)/fuzz_http.c $(THTTP_HDRS) | $(BUILD)/tests
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) -O1 -g $(WARN) -Iinclude -Ibpf -I$(THTTP_DIR) \
		-Wno-unknown-pragmas -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $< -o $@

$(BUILD)/tests/http_verify.bpf.o: $(THTTP_DIR)/http_verify.bpf.c $(BPF_HDRS) $(THTTP_HDRS) \
		| $(BUILD)/tests
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -I$(THTTP_DIR) -c $< -o $@

$(BUILD)/tests/test_http_bpf: $(THTTP_DIR)/test_http_bpf.c $(THTTP_HDRS) | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(THTTP_CFLAGS) $< $(LDLIBS) -o $@

.PHONY: fuzz-http
fuzz: fuzz-http
fuzz-http: $(BUILD)/tests/fuzz_http
	$(Q)mkdir -p $(BUILD)/fuzz-http
	$(Q)$(BUILD)/tests/fuzz_http -max_total_time=$(FUZZ_TIME) -max_len=4096 \
		-dict=$(THTTP_DIR)/http.dict -artifact_prefix=$(BUILD)/fuzz-http/ \
		$(BUILD)/fuzz-http $(THTTP_DIR)/corpus
