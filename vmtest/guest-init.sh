#!/bin/busybox sh
# /init of the vmtest initramfs: mount what the checks need, run them
# (vmtest/guest.sh), power off. Runs before anything else exists, so only
# busybox may be used until the applets are installed.
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /dev/pts /root /var && ln -s /run /var/run
mount -t devpts devpts /dev/pts

mode=test build=build http_n=1000
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	kvlb.mode=*) mode=${arg#kvlb.mode=} ;;
	kvlb.build=*) build=${arg#kvlb.build=} ;;
	kvlb.http_n=*) http_n=${arg#kvlb.http_n=} ;;
	esac
done
cd /kvlb && HTTP_N=$http_n /usr/bin/bash vmtest/guest.sh "$mode" "$build"
sync
poweroff -f
