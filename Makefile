# SPDX-License-Identifier: GPL-2.0
# agentfence: one binary, one BPF object linked from bpf/*.bpf.c.
#   make            build $(OUTPUT)/agentfence
#   make deps       install build and test packages (apt-get, idempotent)
#   make run        build and fence a demo agent
#   make test       unit, host and VM tests; last line "N passed, N failed, N skipped"
#   make test-k8s   the Kubernetes scenarios on a real single-node cluster (scripts/k8s)
#   make check-asan unit tests under ASan/UBSan
#   make bench      benchmarks (bench/RESULTS.md)
#   make fuzz       build the libFuzzer targets (tests/unit/fuzz_*.c) into $(OUTPUT)/fuzz
#   make install    PREFIX (/usr/local), DESTDIR: binary, man page, policies, agent helpers
#   V=1             show full commands

OUTPUT ?= build
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH ?= x86

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

CFLAGS ?= -O2 -g
AF_CFLAGS := $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -MMD -MP \
	-I$(OUTPUT) -Iuserspace -D_FORTIFY_SOURCE=2
# libbpf, libelf, zlib, libyaml, libseccomp statically where Debian ships the .a, so
# the binary runs on any node; glibc stays dynamic.
STATIC_LIBS := -Wl,-Bstatic -lbpf -lelf -lcrypto -lz -lzstd -lyaml -lseccomp -ljansson -Wl,-Bdynamic
LDLIBS := $(STATIC_LIBS)

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-I/usr/include/$(shell uname -m)-linux-gnu -Ibpf -I$(OUTPUT)

FENCE_BPF := bpf/fs.bpf.c bpf/proc.bpf.c bpf/net.bpf.c bpf/events.bpf.c bpf/effects.bpf.c bpf/fdwrite.bpf.c
BPF_HDRS := $(wildcard bpf/*.h)

LIB_SRCS := $(filter-out userspace/main.c,$(wildcard userspace/*.c))
LIB_OBJS := $(patsubst userspace/%.c,$(OUTPUT)/userspace/%.o,$(LIB_SRCS))
MAIN_OBJ := $(OUTPUT)/userspace/main.o
SKELS := $(OUTPUT)/fence.bpf.skel.h $(OUTPUT)/probe.skel.h

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
TEST_HELPERS := $(patsubst tests/helpers/%.c,$(OUTPUT)/tests/helpers/%,$(wildcard tests/helpers/*.c))
BENCH_BINS := $(patsubst bench/%.c,$(OUTPUT)/bench/%,$(wildcard bench/*.c))

.DELETE_ON_ERROR:
.PHONY: install all deps run test test-unit test-host test-vm test-k8s check-asan bench clean kernels vmlinux.h fuzz

all: $(OUTPUT)/agentfence $(OUTPUT)/agentfence.1 $(UNIT_BINS) $(TEST_HELPERS) $(BENCH_BINS)

$(OUTPUT) $(OUTPUT)/bpf $(OUTPUT)/userspace $(OUTPUT)/tests $(OUTPUT)/tests/helpers $(OUTPUT)/bench:
	$(Q)mkdir -p $@

$(OUTPUT)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(OUTPUT)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/fence.bpf.o: $(patsubst bpf/%.bpf.c,$(OUTPUT)/bpf/%.bpf.o,$(FENCE_BPF))
	$(call msg,LINK,$@)
	$(Q)$(BPFTOOL) gen object $@ $^

$(OUTPUT)/fence.bpf.skel.h: $(OUTPUT)/fence.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name fence_bpf > $@

$(OUTPUT)/probe.skel.h: $(OUTPUT)/bpf/probe.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name af_probe_bpf > $@

# The policy `run` uses without --policy, compiled in.
$(OUTPUT)/default_policy.c: policies/coding-agent.yaml | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q){ echo '#include <stddef.h>'; echo 'const char af_default_policy[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; echo 'const size_t af_default_policy_len = sizeof(af_default_policy) - 1;'; } > $@

$(OUTPUT)/default_policy.o: $(OUTPUT)/default_policy.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(AF_CFLAGS) -c $< -o $@

# Objects that include a skeleton wait for it.
$(OUTPUT)/userspace/fence.o $(OUTPUT)/userspace/net.o: $(OUTPUT)/fence.bpf.skel.h
$(OUTPUT)/userspace/backend.o: $(OUTPUT)/probe.skel.h

$(OUTPUT)/userspace/%.o: userspace/%.c | $(OUTPUT)/userspace
	$(call msg,CC,$@)
	$(Q)$(CC) $(AF_CFLAGS) -c $< -o $@

$(OUTPUT)/libagentfence.a: $(LIB_OBJS) $(OUTPUT)/default_policy.o
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUTPUT)/agentfence: $(MAIN_OBJ) $(OUTPUT)/libagentfence.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(AF_CFLAGS) $^ $(LDLIBS) -o $@

# Unit tests: cmocka, linked against the library.
$(OUTPUT)/tests/%: tests/unit/%.c $(OUTPUT)/libagentfence.a | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(AF_CFLAGS) $< $(OUTPUT)/libagentfence.a -lcmocka $(LDLIBS) -o $@

# Small programs the host and VM tests drive (io_uring, fd passing, ...).
$(OUTPUT)/tests/helpers/%: tests/helpers/%.c | $(OUTPUT)/tests/helpers
	$(call msg,CC,$@)
	$(Q)$(CC) $(AF_CFLAGS) $< -o $@

# Helpers that drive library code against real components (container
# runtimes, the node API of userspace/fence.h): they link the library.
LIB_HELPERS := $(OUTPUT)/tests/helpers/container-find $(OUTPUT)/tests/helpers/fencectl
$(LIB_HELPERS): $(OUTPUT)/tests/helpers/%: tests/helpers/%.c $(OUTPUT)/libagentfence.a | $(OUTPUT)/tests/helpers
	$(call msg,CC,$@)
	$(Q)$(CC) $(AF_CFLAGS) $< $(OUTPUT)/libagentfence.a $(LDLIBS) -o $@

# io_uring the way programs use it: liburing, statically.
$(OUTPUT)/tests/helpers/uring_lib: tests/helpers/uring_lib.c | $(OUTPUT)/tests/helpers
	$(call msg,CC,$@)
	$(Q)$(CC) $(AF_CFLAGS) $< -Wl,-Bstatic -luring -Wl,-Bdynamic -o $@

# Benchmark programs (bench/run drives them; `make test` smoke-runs them).
$(OUTPUT)/bench/%: bench/%.c | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(AF_CFLAGS) $< -o $@

# bench/progstats reads the programs' counters: libbpf.
$(OUTPUT)/bench/progstats: bench/progstats.c | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(AF_CFLAGS) $< $(LDLIBS) -o $@

# bench/events drives the real recorder and journal: it links the library.
$(OUTPUT)/bench/events: bench/events.c $(OUTPUT)/libagentfence.a | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(AF_CFLAGS) $< $(OUTPUT)/libagentfence.a $(LDLIBS) -o $@

$(OUTPUT)/agentfence.1: Documentation/agentfence.1.scd | $(OUTPUT)
	$(call msg,SCDOC,$@)
	$(Q)scdoc <$< >$@

deps:
	$(Q)scripts/deps

kernels:
	$(Q)scripts/kernels fetch

# Regenerate bpf/vmlinux.h from the 6.1 test kernel's BTF.
vmlinux.h:
	$(Q)scripts/kernels fetch 6.1
	$(Q){ head -4 bpf/vmlinux.h; $(BPFTOOL) btf dump file $(OUTPUT)/kernels/6.1/vmlinux format c; } > $(OUTPUT)/vmlinux.h.new
	$(Q)mv $(OUTPUT)/vmlinux.h.new bpf/vmlinux.h

# deps first, then the build: under -j the two must not overlap.
run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo $(OUTPUT)/agentfence

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run

test-unit test-host test-vm: all
	$(Q)tests/run $(patsubst test-%,%,$@)

# The Kubernetes scenarios (tests/host/k8s.sh, which `make test` skips
# when the cluster's binaries are not cached): builds them first (~10 min
# cold), then runs the file against a real single-node cluster.
test-k8s: all
	$(Q)scripts/k8s build
	$(Q)bash tests/host/k8s.sh

check-asan:
	$(Q)$(MAKE) OUTPUT=$(OUTPUT)/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
		STATIC_LIBS="-lbpf -lelf -lcrypto -lz -lzstd -lyaml -lseccomp -ljansson" all
	$(Q)AF_BUILD=$(OUTPUT)/asan tests/run unit

# libFuzzer targets: each links only the sources it exercises.
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Iuserspace
$(OUTPUT)/fuzz:
	$(Q)mkdir -p $@
$(OUTPUT)/fuzz/fuzz_policy: tests/unit/fuzz_policy.c userspace/policy.c userspace/caps.c userspace/json.c | $(OUTPUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $^ -lyaml -o $@
$(OUTPUT)/fuzz/fuzz_dns: tests/unit/fuzz_dns.c userspace/dns_msg.c | $(OUTPUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $^ -o $@
$(OUTPUT)/fuzz/fuzz_control: tests/unit/fuzz_control.c userspace/control_proto.c userspace/json.c | $(OUTPUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $^ -o $@
fuzz: $(OUTPUT)/fuzz/fuzz_policy $(OUTPUT)/fuzz/fuzz_dns $(OUTPUT)/fuzz/fuzz_control

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bench/run
	$(Q)bench/node --markdown bench/NODE.md

PREFIX ?= /usr/local
install: $(OUTPUT)/agentfence $(OUTPUT)/agentfence.1
	$(Q)install -D -m 0755 $(OUTPUT)/agentfence $(DESTDIR)$(PREFIX)/bin/agentfence
	$(Q)install -D -m 0644 $(OUTPUT)/agentfence.1 $(DESTDIR)$(PREFIX)/share/man/man1/agentfence.1
	$(Q)install -d $(DESTDIR)$(PREFIX)/share/agentfence/policies $(DESTDIR)$(PREFIX)/share/agentfence/agents
	$(Q)install -m 0644 policies/*.yaml $(DESTDIR)$(PREFIX)/share/agentfence/policies/
	$(Q)install -m 0644 policies/agents/* $(DESTDIR)$(PREFIX)/share/agentfence/agents/

clean:
	$(Q)rm -rf $(OUTPUT)/agentfence $(OUTPUT)/userspace $(OUTPUT)/bpf $(OUTPUT)/tests \
		$(OUTPUT)/*.o $(OUTPUT)/*.skel.h $(OUTPUT)/*.a $(OUTPUT)/default_policy.c $(OUTPUT)/asan $(OUTPUT)/fuzz


-include $(wildcard $(OUTPUT)/userspace/*.d $(OUTPUT)/*.d)
