#!/usr/bin/env bash
# Run kvlb's BPF checks inside a VM on another kernel.
#
#   vmtest/vmtest.sh [--stats] KERNEL...
#
# KERNEL is one of
#   6.1, 6.12          Debian 12's cloud kernel of that series (linux-image-cloud-amd64,
#                      linux-image-6.12-cloud-amd64), fetched with apt-get download
#   PATH.deb           a linux-image .deb (its vmlinuz and modules are used)
#   PATH/vmlinuz-REL   a kernel image; modules from $VMTEST_MODULES or /lib/modules/REL
#
# For each kernel this builds an initramfs (busybox, bash, iproute2, bpftool,
# curl, the kernel modules the tests need and the build/ tree), boots it in
# qemu (KVM when it works, software emulation otherwise) and, inside: loads
# the modules, mounts bpffs, loads every BPF program and reports its verifier
# figures, runs build/tests/test_bpf, attaches a probe XDP and TC program on a
# veth, runs one end-to-end test of kvlbd over namespaces, and streams 4,000
# requests (VMTEST_HTTP_N per side) through an HTTP VIP to kvlb-emu pods under
# tc netem (vmtest/guest-http.sh). Results come back on the second serial port; the
# guest's kernel log is scanned for BUG/WARNING/lockup/Oops lines.
#
# Prints one line per check, "PASS vmtest-K name" / "FAIL vmtest-K name: why"
# / "SKIP ...". Exit status 1 when any check failed, 0 otherwise, 2 on bad
# usage or a missing build, 3 when this machine cannot run the VM at all (no
# qemu, or the kernel package is neither in apt nor cached).
#
# --stats   only load the programs and print the verifier figures.
#
# Environment:
#   BUILD            build directory (default build)
#   VMTEST_CACHE     where kernel packages are kept (default /var/cache/kvlb-vmtest)
#   VMTEST_ACCEL     auto (default), kvm or tcg
#   VMTEST_TIMEOUT   seconds one VM may run (default 600)
#   VMTEST_MEM       guest memory in MiB (default 1024)
#   VMTEST_HTTP_N    streamed requests per side of the HTTP VIP netem check
#                    (default 2000: 4,000 in all)
#   VMTEST_MODULES   module directory for a KERNEL given as a vmlinuz path
#   VMTEST_VERBOSE=1 copy the guest console to standard error as it runs
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
BUILD=${BUILD:-build}
CACHE=${VMTEST_CACHE:-/var/cache/kvlb-vmtest}
ACCEL=${VMTEST_ACCEL:-auto}
TIMEOUT=${VMTEST_TIMEOUT:-600}
MEM=${VMTEST_MEM:-1024}
HTTP_N=${VMTEST_HTTP_N:-2000}
MODE=test

# Modules the guest needs: veth pairs, the clsact qdisc (sch_ingress) for TC
# programs, cls_bpf, netem for lossy links.
GUEST_MODULES="veth sch_ingress cls_bpf sch_netem"
# Host programs copied into the guest, with the libraries they link.
GUEST_PROGS="/usr/bin/bash /usr/sbin/ip /usr/sbin/tc /usr/sbin/bpftool /usr/sbin/ethtool
	/usr/sbin/sysctl /usr/bin/curl"
# Patterns in the guest kernel log that fail the run.
BAD_LOG='BUG:|WARNING:|soft lockup|hard LOCKUP|Oops|Kernel panic|general protection fault|
rcu.*detected stall|blocked for more than|kernel BUG|Call Trace:|refcount_t:|UBSAN:|KASAN:'
BAD_LOG=${BAD_LOG//$'\n'/}

die() { echo "vmtest: $*" >&2; exit 2; }
# cannot: this machine cannot run a VM test at all (exit 3, a reason to skip).
cannot() { echo "vmtest: cannot run: $*" >&2; exit 3; }
note() { echo "vmtest: $*" >&2; }

# ---------------------------------------------------------------- kernels

# fetch_series SERIES: print the root of an extracted Debian cloud kernel.
fetch_series() {
	local series=$1 meta pkg deb root
	case "$series" in
	6.1) meta=linux-image-cloud-amd64 ;;
	*) meta=linux-image-$series-cloud-amd64 ;;
	esac
	mkdir -p "$CACHE/debs"
	pkg=$(apt-cache depends "$meta" 2>/dev/null |
		sed -n "s/^ *Depends: \(linux-image-$series[.-][^ ]*-cloud-amd64\)$/\1/p" | sed -n 1p)
	if [ -z "$pkg" ]; then
		# No package index (offline): use what an earlier run fetched.
		root=$(ls -d "$CACHE"/root-"$series".*-cloud-amd64 "$CACHE"/root-"$series"-*cloud-amd64 \
			2>/dev/null | sort -V | tail -1 || true)
		[ -n "$root" ] || cannot "no package for Linux $series ($meta) in apt and none cached"
		note "apt knows no $meta; using cached $(basename "$root")"
		echo "$root"
		return
	fi
	root="$CACHE/root-${pkg#linux-image-}"
	if [ ! -d "$root" ]; then
		deb=$(ls "$CACHE/debs/${pkg}"_*.deb 2>/dev/null | sed -n 1p || true)
		if [ -z "$deb" ]; then
			note "fetching $pkg"
			(cd "$CACHE/debs" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
				{ apt-get update -qq >/dev/null 2>&1 &&
				  (cd "$CACHE/debs" && apt-get download -q "$pkg" >/dev/null 2>&1); } ||
				cannot "apt-get download $pkg failed"
			deb=$(ls "$CACHE/debs/${pkg}"_*.deb | sed -n 1p)
		fi
		extract_deb "$deb" "$root"
	fi
	echo "$root"
}

# extract_deb DEB ROOT: unpack beside ROOT and rename, so a run that
# races this one, or one that was interrupted, never sees half a tree.
extract_deb() {
	local deb=$1 root=$2 tmp="$2.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	dpkg-deb -x "$deb" "$tmp"
	mv -T "$tmp" "$root" 2>/dev/null || rm -rf "$tmp"
}

# resolve KERNEL: set KIMAGE, KMODS (the lib/modules/REL dir) and KREL.
resolve() {
	local k=$1 root rel
	case "$k" in
	*.deb)
		[ -f "$k" ] || die "$k: no such file"
		root="$CACHE/root-$(basename "$k" .deb)"
		[ -d "$root" ] || extract_deb "$k" "$root"
		;;
	/* | ./* | */*)
		[ -f "$k" ] || die "$k: no such file"
		KIMAGE=$k
		rel=$(basename "$k")
		rel=${rel#vmlinuz-}
		rel=${rel#bzImage-}
		KMODS=${VMTEST_MODULES:-/lib/modules/$rel}
		[ -d "$KMODS" ] || die "no modules for $k at $KMODS (set VMTEST_MODULES)"
		KREL=$(basename "$KMODS")
		return
		;;
	[0-9]*.[0-9]*) root=$(fetch_series "$k") ;;
	*) die "unknown kernel '$k' (6.1, 6.12, a .deb or a vmlinuz path)" ;;
	esac
	KIMAGE=$(ls "$root"/boot/vmlinuz-* 2>/dev/null | sed -n 1p || true)
	[ -n "$KIMAGE" ] || die "$root holds no boot/vmlinuz-*"
	KREL=${KIMAGE##*/vmlinuz-}
	KMODS="$root/lib/modules/$KREL"
	[ -d "$KMODS" ] || die "$root holds no lib/modules/$KREL"
}

# ---------------------------------------------------------------- initramfs

# copy_prog FILE DEST: FILE and every library it links, at the same paths.
copy_prog() {
	local f=$1 dest=$2 lib
	install -D -m 0755 "$f" "$dest$f"
	for lib in $(ldd "$f" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^\s*\(\/[^ ]*\) .*/\1/p'); do
		[ -e "$dest$lib" ] && continue
		install -D -m 0755 "$(readlink -f "$lib")" "$dest$lib"
	done
}

# mod_path NAME: the modules.dep entry (relative path) of module NAME.
mod_path() {
	local want=${1//-/_}
	awk -F: -v w="$want" '{
		n = $1; sub(/.*\//, "", n); sub(/\.ko(\.xz|\.zst|\.gz)?$/, "", n); gsub(/-/, "_", n)
		if (n == w) { print $1; exit }
	}' "$KMODS/modules.dep"
}

# copy_modules DEST: the wanted modules and everything they depend on.
copy_modules() {
	local dest=$1 m p d todo seen=" "
	local out="$dest/lib/modules/$KREL"
	mkdir -p "$out"
	if [ ! -f "$KMODS/modules.dep" ]; then
		# A package's tree has no modules.dep until depmod runs (its postinst).
		depmod -b "${KMODS%/lib/modules/*}" "$KREL" ||
			die "depmod failed for $KMODS"
	fi
	cp "$KMODS/modules.dep" "$out/"
	[ -f "$KMODS/modules.builtin" ] && cp "$KMODS/modules.builtin" "$out/"
	todo=""
	for m in $GUEST_MODULES; do
		p=$(mod_path "$m")
		if [ -z "$p" ]; then
			# Built in: nothing to copy; the guest sees it under /sys/module.
			grep -qE "/${m}\.ko" "$KMODS/modules.builtin" 2>/dev/null ||
				note "$KREL has no module $m (the guest will report it)"
			continue
		fi
		todo="$todo $p"
	done
	while [ -n "${todo// /}" ]; do
		set -- $todo
		p=$1
		shift
		todo="$*"
		case "$seen" in *" $p "*) continue ;; esac
		seen="$seen$p "
		install -D -m 0644 "$KMODS/$p" "$out/$p"
		for d in $(sed -n "s|^$p: *||p" "$KMODS/modules.dep"); do
			todo="$todo $d"
		done
	done
}

build_initramfs() {
	local dir=$1 img=$2 f
	rm -rf "$dir"
	mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,kvlb}
	cp /bin/busybox "$dir/bin/busybox"
	install -m 0755 vmtest/guest-init.sh "$dir/init"
	for f in $GUEST_PROGS; do
		[ -x "$f" ] || die "$f is missing (scripts/deps.sh installs it)"
		copy_prog "$f" "$dir"
	done
	copy_modules "$dir"
	# system() and scripts run /bin/sh; busybox's shell would run its own
	# applets (ip, tc, sysctl) before the real tools in PATH, so sh is bash.
	ln -s /usr/bin/bash "$dir/bin/sh"
	echo "root:x:0:0:root:/root:/bin/sh" >"$dir/etc/passwd"
	echo "root:x:0:" >"$dir/etc/group"

	# The repository's view inside the guest: /kvlb is the top, as on the host.
	mkdir -p "$dir/kvlb/$BUILD/tests" "$dir/kvlb/scripts" "$dir/kvlb/vmtest"
	install -m 0755 vmtest/guest.sh "$dir/kvlb/vmtest/guest.sh"
	install -m 0644 vmtest/guest-http.sh "$dir/kvlb/vmtest/guest-http.sh"
	install -m 0755 scripts/topo.sh "$dir/kvlb/scripts/topo.sh"
	cp "$BUILD"/*.bpf.o "$dir/kvlb/$BUILD/"
	mkdir -p "$dir/kvlb/$BUILD/vmtest"
	cp "$BUILD/vmtest/probe.bpf.o" "$dir/kvlb/$BUILD/vmtest/"
	for f in "$BUILD/vmtest/verifier_stats" "$BUILD/tests/test_bpf" "$BUILD/tests/test_splice" \
		"$BUILD/kvlbd" "$BUILD/kvlbctl" "$BUILD/kvlb-emu"; do
		[ -x "$f" ] || continue
		install -D -m 0755 "$f" "$dir/kvlb/$f"
		copy_prog "$TOP/$f" "$dir"
	done
	# test_bpf may read test data next to it.
	for f in "$BUILD"/tests/*; do
		[ -f "$f" ] && [ ! -x "$f" ] && cp "$f" "$dir/kvlb/$BUILD/tests/"
	done
	(cd "$dir" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$img"
}

# ---------------------------------------------------------------- qemu

# kvm_works: boot the kernel under KVM with a one-line init; nested KVM
# often starts but never runs the guest, so it must prove itself quickly.
kvm_works() {
	local dir=$1 out
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	rm -rf "$dir/kvmprobe"
	mkdir -p "$dir/kvmprobe/bin"
	cp /bin/busybox "$dir/kvmprobe/bin/"
	printf '#!/bin/busybox sh\n/bin/busybox echo KVLB-KVM-OK\n/bin/busybox poweroff -f\n' \
		>"$dir/kvmprobe/init"
	chmod +x "$dir/kvmprobe/init"
	(cd "$dir/kvmprobe" && find . | cpio -o -H newc --quiet) | gzip -1 >"$dir/kvmprobe.img"
	out=$(timeout 15 qemu-system-x86_64 -nodefaults -no-user-config -accel kvm -cpu host \
		-m 256 -display none -serial stdio -no-reboot -kernel "$KIMAGE" \
		-initrd "$dir/kvmprobe.img" -append "console=ttyS0 quiet panic=-1" 2>&1 || true)
	grep -q KVLB-KVM-OK <<<"$out"
}

run_vm() {
	local label=$1 dir=$2 img=$3 accel cpu smp
	accel=$ACCEL
	if [ "$accel" = auto ]; then
		if kvm_works "$dir"; then accel=kvm; else accel=tcg; fi
	fi
	if [ "$accel" = kvm ]; then cpu=host; else cpu=max; fi
	smp=$(nproc)
	[ "$smp" -gt 2 ] && smp=2
	note "$label: booting $KREL ($accel, $smp cpus)"
	: >"$dir/console.log"
	: >"$dir/results.log"
	if [ "${VMTEST_VERBOSE:-0}" = 1 ]; then
		tail -f "$dir/console.log" >&2 &
		TAILPID=$!
	fi
	set +e
	timeout --kill-after=5 "$TIMEOUT" qemu-system-x86_64 -nodefaults -no-user-config \
		-accel "$accel" -cpu "$cpu" -smp "$smp" -m "$MEM" -display none -no-reboot \
		-serial "file:$dir/console.log" -serial "file:$dir/results.log" \
		-kernel "$KIMAGE" -initrd "$img" \
		-append "console=ttyS0 quiet panic=-1 oops=panic kvlb.mode=$MODE kvlb.build=$BUILD kvlb.http_n=$HTTP_N" \
		>"$dir/qemu.log" 2>&1
	VM_RC=$?
	set -e
	if [ -n "${TAILPID:-}" ]; then kill "$TAILPID" 2>/dev/null || true; TAILPID=; fi
	VM_ACCEL=$accel
}

# ---------------------------------------------------------------- results

report() {
	local label=$1 dir=$2 res="$dir/results.log" bad name failed=0
	tr -d '\r' <"$res" >"$res.txt"
	# Verifier figures and check lines, in the order the guest sent them.
	while IFS= read -r line; do
		case "$line" in
		"STAT kernel "*) [ -z "$HEADER_SHOWN" ] && echo "${line#STAT }"; HEADER_SHOWN=1 ;;
		"STAT "*) echo "${line#STAT }" ;;
		"LOG "*) echo "  $label| ${line#LOG }" >&2 ;;
		"PASS "* | "SKIP "*)
			# verifier-stats shows the table; only failures interrupt it.
			[ "$MODE" = test ] && echo "${line%% *} vmtest-$label ${line#* }" ;;
		"FAIL "*) echo "FAIL vmtest-$label ${line#FAIL }"; failed=1 ;;
		esac
	done < <(sed -n '/^@@DMESG-BEGIN/,/^@@DMESG-END/!p' "$res.txt")

	if ! grep -q '^@@DONE' "$res.txt"; then
		if [ "$VM_RC" -eq 124 ] || [ "$VM_RC" -eq 137 ]; then
			echo "FAIL vmtest-$label guest: timed out after ${TIMEOUT}s"
		else
			echo "FAIL vmtest-$label guest: stopped before finishing (qemu exit $VM_RC)"
		fi
		failed=1
		tail -n 30 "$dir/console.log" | tr -d '\r' | sed 's/^/  console| /' >&2
		sed 's/^/  qemu| /' "$dir/qemu.log" >&2
	fi

	# The kernel log: dmesg as the guest saw it at the end, plus the kernel's
	# lines on the console (those with a timestamp), which alone still hold
	# a panic that stopped the guest. Program output on the console is not
	# scanned: a test may well print the word WARNING.
	[ "$MODE" = test ] || return $failed
	bad=$( { sed -n '/^@@DMESG-BEGIN/,/^@@DMESG-END/p' "$res.txt"
		tr -d '\r' <"$dir/console.log" | grep -E '^\[ *[0-9]+\.[0-9]+\]'; } |
		grep -E "$BAD_LOG" | sort -u || true)
	name="kernel log has no BUG/WARNING/lockup"
	if [ -z "$bad" ]; then
		echo "PASS vmtest-$label $name"
	else
		echo "FAIL vmtest-$label $name: $(head -1 <<<"$bad")"
		sed 's/^/  dmesg| /; 20q' <<<"$bad" >&2
		failed=1
	fi
	return $failed
}

# ---------------------------------------------------------------- main

while [ $# -gt 0 ]; do
	case "$1" in
	--stats) MODE=stats; shift ;;
	-h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || die "no kernel given (6.1, 6.12, a .deb or a vmlinuz path)"
case "$ACCEL" in auto | kvm | tcg) ;; *) die "VMTEST_ACCEL must be auto, kvm or tcg" ;; esac
[[ $HTTP_N =~ ^[1-9][0-9]{0,5}$ ]] || die "VMTEST_HTTP_N must be a count of requests (1..999999)"
command -v qemu-system-x86_64 >/dev/null || cannot "qemu-system-x86_64 is missing (scripts/deps.sh)"
for f in "$BUILD/vmtest/verifier_stats" "$BUILD/vmtest/probe.bpf.o"; do
	[ -e "$f" ] || die "$f is missing: run make first"
done
# A user who cannot write the shared cache keeps kernels in their own.
mkdir -p "$CACHE" 2>/dev/null && [ -w "$CACHE" ] || CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/kvlb-vmtest
mkdir -p "$CACHE"

status=0
HEADER_SHOWN=
TAILPID=
trap '[ -n "${TAILPID:-}" ] && kill "$TAILPID" 2>/dev/null; true' EXIT
for k in "$@"; do
	resolve "$k"
	case "$k" in [0-9]*) label=$k ;; *) label=$KREL ;; esac
	dir="$BUILD/vmtest/$KREL"
	mkdir -p "$dir"
	# One run per kernel at a time: make vmtest and make test share the directory.
	exec 9>"$dir.lock"
	flock 9
	start=$SECONDS
	build_initramfs "$dir/root" "$dir/initramfs.img"
	run_vm "$label" "$dir" "$dir/initramfs.img"
	report "$label" "$dir" || status=1
	note "$label: $KREL done in $((SECONDS - start))s ($VM_ACCEL); logs in $dir"
	exec 9>&-
done
exit $status
