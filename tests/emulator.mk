# kvlb-emu: the emulated model server (tests/emulator/), its unit test and fuzzer.
#
#   build/kvlb-emu                 the server (in `make`)
#   build/tests/kvlb-emu           the same with ASan/UBSan when SAN=1, used by the test cases
#   build/tests/emu_cache_test     prefix-cache unit test, ASan/UBSan (before `make test`)
#   make fuzz-emu                  libFuzzer run of the request parser (FUZZ_EMU_TIME s)

EMU_DIR      := tests/emulator
EMU_LIB_SRCS := $(EMU_DIR)/json.c $(EMU_DIR)/request.c $(EMU_DIR)/tokenizer.c \
		$(EMU_DIR)/cache.c $(EMU_DIR)/metrics.c $(EMU_DIR)/sched.c
EMU_SRCS     := $(EMU_LIB_SRCS) $(EMU_DIR)/api.c $(EMU_DIR)/main.c
EMU_HDRS     := $(wildcard $(EMU_DIR)/*.h)
EMU_LDLIBS   := -levent -lm
FUZZ_EMU_TIME ?= 60

ALL_TARGETS += $(BUILD)/kvlb-emu
TEST_DEPS   += $(BUILD)/tests/emu_cache_test $(BUILD)/tests/kvlb-emu $(BUILD)/tests/fuzz_emu_request

$(BUILD)/kvlb-emu: $(EMU_SRCS) $(EMU_HDRS) | $(BUILD)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(EMU_SRCS) $(EMU_LDLIBS) -o $@

$(BUILD)/tests/kvlb-emu: $(EMU_SRCS) $(EMU_HDRS) | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(if $(filter 1,$(SAN)),$(SAN_FLAGS)) $(EMU_SRCS) $(EMU_LDLIBS) -o $@

$(BUILD)/tests/emu_cache_test: $(EMU_DIR)/cache_test.c $(EMU_DIR)/cache.c $(EMU_DIR)/tokenizer.c \
		$(EMU_HDRS) | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $(EMU_DIR)/cache_test.c $(EMU_DIR)/cache.c \
		$(EMU_DIR)/tokenizer.c -o $@

$(BUILD)/tests/fuzz_emu_request: $(EMU_DIR)/fuzz_request.c $(EMU_LIB_SRCS) $(EMU_HDRS) \
		| $(BUILD)/tests
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
		$(EMU_DIR)/fuzz_request.c $(EMU_LIB_SRCS) $(EMU_LDLIBS) -o $@

.PHONY: fuzz-emu
fuzz-emu: $(BUILD)/tests/fuzz_emu_request
	$(Q)mkdir -p $(BUILD)/fuzz-emu-corpus
	$(Q)$< -max_total_time=$(FUZZ_EMU_TIME) -max_len=4096 $(BUILD)/fuzz-emu-corpus \
		$(EMU_DIR)/fuzz-seeds

fuzz: fuzz-emu
