# Prometheus text parser (user/lib/prom.c): unit tests under ASan/UBSan, and
# a libFuzzer harness.
#
#   build/tests/test_prom        unit tests (before `make test`)
#   build/tests/fuzz_prom        libFuzzer harness (before `make test`: a case
#                                runs it for a few seconds)
#   make fuzz-prom               a longer run (FUZZ_PROM_TIME s, default 120)
#
# kvlbd scrapes with libcurl and serves its own /metrics with libmicrohttpd;
# the top Makefile links kvlbd with $(LDLIBS), so its extra libraries are
# added here, next to the code that needs them.

PROM_DIR       := tests/prom
FUZZ_PROM_TIME ?= 120

$(BUILD)/kvlbd: LDLIBS += -lcurl -lmicrohttpd -lpthread -lm

TEST_DEPS += $(BUILD)/tests/test_prom $(BUILD)/tests/fuzz_prom

$(BUILD)/tests/test_prom: $(PROM_DIR)/test_prom.c user/lib/prom.c user/lib/prom.h \
		tests/user/unit.h | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -Itests/user $(PROM_DIR)/test_prom.c user/lib/prom.c \
		-lm -o $@

$(BUILD)/tests/fuzz_prom: $(PROM_DIR)/fuzz_prom.c user/lib/prom.c user/lib/prom.h \
		| $(BUILD)/tests
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -Iuser/lib -Iinclude \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		$(PROM_DIR)/fuzz_prom.c user/lib/prom.c -lm -o $@

.PHONY: fuzz-prom
fuzz-prom: $(BUILD)/tests/fuzz_prom
	$(Q)mkdir -p $(BUILD)/fuzz-prom-corpus
	$(Q)$< -max_total_time=$(FUZZ_PROM_TIME) -max_len=65536 $(BUILD)/fuzz-prom-corpus \
		$(PROM_DIR)/fuzz-seeds

fuzz: fuzz-prom
