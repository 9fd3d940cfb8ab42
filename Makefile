# kvlb - in-kernel inference load balancer.
#
#   make            build BPF objects, skeletons, kvlbd, kvlbctl (and test tools)
#   make test       install missing packages, build, run every test
#   make demo       install missing packages, build, run the demo topology
#   make bench      every benchmark (bench-pkt, bench-affinity, bench-e2e)
#   make fuzz       longer fuzzing runs of the parsers
#   make check      cppcheck and clang-format
#
# Variables: CLANG, BPFTOOL, V=1 (show commands), SAN=0 (tests without sanitizers).

BUILD    ?= build
CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= gcc
SAN      ?= 1

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

WARN      := -Wall -Wextra -Werror
CFLAGS    ?= -O2 -g
CFLAGS    += $(WARN) -Iinclude -Iuser/lib -I$(BUILD) -D_GNU_SOURCE
LDLIBS    += -lbpf -lelf -lz
BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) $(WARN) -Iinclude -Ibpf \
	-I/usr/include/$(shell uname -m)-linux-gnu
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

BPF_PROGS := kvlb_xdp kvlb_tc
BPF_OBJS  := $(patsubst %,$(BUILD)/%.bpf.o,$(BPF_PROGS))
SKELS     := $(patsubst %,$(BUILD)/%.skel.h,$(BPF_PROGS))
BPF_HDRS  := $(wildcard bpf/*.h) include/kvlb.h

LIB_SRCS  := $(wildcard user/lib/*.c)
LIB_HDRS  := $(wildcard user/lib/*.h) include/kvlb.h
LIB_OBJS  := $(patsubst user/lib/%.c,$(BUILD)/lib/%.o,$(LIB_SRCS))
LIB       := $(BUILD)/libkvlb.a

KVLBD_SRCS   := $(wildcard user/kvlbd/*.c)
KVLBCTL_SRCS := $(wildcard user/kvlbctl/*.c)

# Fragments under tests/ and vmtest/ add their own targets and append to
# ALL_TARGETS (built by `make`) and TEST_DEPS (built before `make test`).
ALL_TARGETS := $(BPF_OBJS) $(SKELS) $(BUILD)/kvlbd $(BUILD)/kvlbctl
TEST_DEPS   :=

.PHONY: all test demo bench fuzz check clean deps compile_commands.json
all: build-all

include $(sort $(wildcard tests/*.mk tests/*/*.mk vmtest/*.mk scripts/*.mk))

build-all: $(ALL_TARGETS)

$(BUILD) $(BUILD)/lib $(BUILD)/tests:
	$(Q)mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@.tmp && mv $@.tmp $@

$(BUILD)/lib/%.o: user/lib/%.c $(LIB_HDRS) | $(BUILD)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/kvlbd: $(KVLBD_SRCS) $(wildcard user/kvlbd/*.h) $(LIB) $(SKELS)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(KVLBD_SRCS) $(LIB) $(LDLIBS) -o $@

$(BUILD)/kvlbctl: $(KVLBCTL_SRCS) $(wildcard user/kvlbctl/*.h) $(LIB)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(KVLBCTL_SRCS) $(LIB) $(LDLIBS) -o $@

deps:
	$(Q)scripts/deps.sh --check 2>/dev/null || scripts/deps.sh

test: deps
	$(Q)$(MAKE) --no-print-directory build-all $(TEST_DEPS)
	$(Q)tests/run

demo: deps
	$(Q)$(MAKE) --no-print-directory build-all
	$(Q)scripts/demo.sh

check:
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--suppress=missingIncludeSystem --suppress=unknownMacro -Iinclude -Iuser/lib user/ tests/*.c
	$(Q)clang-format --dry-run --Werror $(shell git ls-files '*.c' '*.h')

compile_commands.json:
	$(Q)$(MAKE) clean && bear -- $(MAKE) build-all $(TEST_DEPS)

clean:
	$(Q)rm -rf $(BUILD)
