# Unit tests of kvlbd's configuration parser, with ASan/UBSan unless SAN=0.

CONFIG_TEST_CFLAGS := $(CFLAGS) -Itests/user
ifeq ($(SAN),1)
CONFIG_TEST_CFLAGS += $(SAN_FLAGS)
endif

TEST_DEPS += $(BUILD)/tests/test_config

$(BUILD)/tests/test_config: tests/config/test_config.c user/lib/config.c user/lib/endpoint.c \
		$(LIB_HDRS) tests/user/unit.h | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CONFIG_TEST_CFLAGS) tests/config/test_config.c user/lib/config.c \
		user/lib/endpoint.c -o $@
