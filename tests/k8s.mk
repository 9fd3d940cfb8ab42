# Kubernetes: kvlb-discover (user/discover/), its test build and its fuzzer.
#
#   build/kvlb-discover            EndpointSlices or InferencePool -> kvlbd config (in `make`)
#   build/tests/kvlb-discover      the same, ASan/UBSan unless SAN=0 (before `make test`)
#   build/tests/fuzz_slices        libFuzzer harness of the slice, pool and pod parsers
#   make fuzz-k8s                  a longer fuzzing run (FUZZ_K8S_TIME s)

DISC_SRCS     := $(wildcard user/discover/*.c)
DISC_HDRS     := $(wildcard user/discover/*.h) $(LIB_HDRS)
DISC_LIB_SRCS := user/lib/endpoint.c user/lib/opts.c
DISC_LDLIBS   := -ljansson -lcurl
FUZZ_K8S_TIME ?= 60

DISC_TEST_CFLAGS := $(CFLAGS)
ifeq ($(SAN),1)
DISC_TEST_CFLAGS += $(SAN_FLAGS)
endif

ALL_TARGETS += $(BUILD)/kvlb-discover
TEST_DEPS   += $(BUILD)/tests/kvlb-discover $(BUILD)/tests/fuzz_slices

$(BUILD)/kvlb-discover: $(DISC_SRCS) $(DISC_HDRS) $(DISC_LIB_SRCS) | $(BUILD)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(DISC_SRCS) $(DISC_LIB_SRCS) $(DISC_LDLIBS) -o $@

$(BUILD)/tests/kvlb-discover: $(DISC_SRCS) $(DISC_HDRS) $(DISC_LIB_SRCS) | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(DISC_TEST_CFLAGS) $(DISC_SRCS) $(DISC_LIB_SRCS) $(DISC_LDLIBS) -o $@

$(BUILD)/tests/fuzz_slices: tests/k8s/fuzz_slices.c user/discover/slices.c user/discover/pool.c \
		$(DISC_LIB_SRCS) \
		$(DISC_HDRS) | $(BUILD)/tests
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Iuser/lib \
		-Iuser/discover -fsanitize=fuzzer,address,undefined tests/k8s/fuzz_slices.c \
		user/discover/slices.c user/discover/pool.c $(DISC_LIB_SRCS) -ljansson -o $@

.PHONY: fuzz-k8s
fuzz-k8s: $(BUILD)/tests/fuzz_slices
	$(Q)mkdir -p $(BUILD)/fuzz-k8s-corpus
	$(Q)$< -max_total_time=$(FUZZ_K8S_TIME) -max_len=8192 $(BUILD)/fuzz-k8s-corpus \
		tests/k8s/recorded

fuzz: fuzz-k8s
