# Userspace unit tests (tests/user/), and a kvlbctl for the CLI tests, built
# with ASan/UBSan unless SAN=0: bad input must fail cleanly, never corrupt.

USER_TEST_CFLAGS := $(CFLAGS) -Itests/user
ifeq ($(SAN),1)
USER_TEST_CFLAGS += $(SAN_FLAGS)
endif

USER_TESTS := $(BUILD)/tests/test_maglev $(BUILD)/tests/test_endpoint
TEST_DEPS += $(USER_TESTS) $(BUILD)/tests/kvlbctl

$(BUILD)/tests/test_maglev: tests/user/test_maglev.c user/lib/maglev.c $(LIB_HDRS) \
		tests/user/unit.h | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(USER_TEST_CFLAGS) tests/user/test_maglev.c user/lib/maglev.c -o $@

$(BUILD)/tests/test_endpoint: tests/user/test_endpoint.c user/lib/endpoint.c $(LIB_HDRS) \
		tests/user/unit.h | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(USER_TEST_CFLAGS) tests/user/test_endpoint.c user/lib/endpoint.c -o $@

KVLBCTL_LIB_SRCS := user/lib/endpoint.c user/lib/maglev.c user/lib/maps.c

$(BUILD)/tests/kvlbctl: $(KVLBCTL_SRCS) $(wildcard user/kvlbctl/*.h) $(KVLBCTL_LIB_SRCS) \
		$(LIB_HDRS) | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(USER_TEST_CFLAGS) $(KVLBCTL_SRCS) $(KVLBCTL_LIB_SRCS) $(LDLIBS) -o $@

# libFuzzer harness of the endpoint parser (clang). `make test` runs it for a
# fixed number of inputs; `make fuzz` for FUZZ_TIME seconds.
FUZZ_TIME ?= 300
TEST_DEPS += $(BUILD)/tests/fuzz_endpoint

$(BUILD)/tests/fuzz_endpoint: tests/user/fuzz_endpoint.c user/lib/endpoint.c $(LIB_HDRS) \
		| $(BUILD)/tests
	$(call msg,CLANG,$@)
	$(Q)$(CLANG) -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Iuser/lib \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		tests/user/fuzz_endpoint.c user/lib/endpoint.c -o $@

.PHONY: fuzz-endpoint
fuzz-endpoint: $(BUILD)/tests/fuzz_endpoint
	$(Q)mkdir -p $(BUILD)/fuzz-endpoint-corpus
	$(Q)$< -max_total_time=$(FUZZ_TIME) -max_len=128 $(BUILD)/fuzz-endpoint-corpus \
		tests/user/fuzz-seeds

fuzz: fuzz-endpoint

# libkvlb against maps that tests/cases/21-maps-lib.sh creates.
TEST_DEPS += $(BUILD)/tests/test_maps
$(BUILD)/tests/test_maps: tests/user/test_maps.c $(KVLBCTL_LIB_SRCS) $(LIB_HDRS) tests/user/unit.h \
		| $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(USER_TEST_CFLAGS) tests/user/test_maps.c $(KVLBCTL_LIB_SRCS) $(LDLIBS) -o $@
