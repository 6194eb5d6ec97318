set -e
iptables-legacy -P INPUT DROP
iptables-legacy -A INPUT -i lo -j ACCEPT
iptables-legacy -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables-legacy -N my-chain
iptables-legacy -A INPUT -p tcp -m multiport --dports 8000,9000:9010 -j my-chain
iptables-legacy -A my-chain -s 198.18.0.2/32 -j RETURN
iptables-legacy -A my-chain -j ACCEPT
iptables-legacy -A INPUT -p udp --dport 7 -m comment --comment "echo here" -j ACCEPT
iptables-legacy -A INPUT -p tcp --dport 22 -m recent --rcheck -j REJECT --reject-with tcp-reset
iptables-legacy -t nat -A PREROUTING -i v0 -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80
ip6tables-legacy -A INPUT -p tcp ! --dport 1:1024 -j DROP
iptables-legacy-save
echo =====
ip6tables-legacy-save
echo =====
cat /proc/net/ip_tables_names
