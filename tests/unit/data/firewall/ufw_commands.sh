#!/bin/sh
# run inside unshare -n -m
set -e
T=$(mktemp -d)
cp -a /etc/ufw $T/etc_ufw; cp -a /lib/ufw $T/lib_ufw; cp -a /etc/default/ufw $T/default_ufw
mount --make-rprivate /
mount --bind $T/etc_ufw /etc/ufw; mount --bind $T/lib_ufw /lib/ufw; mount --bind $T/default_ufw /etc/default/ufw
mount -t tmpfs tmpfs /run
grep -q "^IPT_MODULES=\"\"" /etc/default/ufw || { echo "IPT_MODULES not empty"; exit 1; }
ip link set lo up
ufw --force enable
ufw default deny incoming
ufw allow 8000/tcp
ufw insert 1 deny from 198.18.0.2
iptables-nft-save
echo =====
ip6tables-nft-save
echo =====
nft -j list ruleset > ufw.json
cat /proc/net/ip_tables_names
