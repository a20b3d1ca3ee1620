// Package cni gives each pod a network namespace on the node bridge, using
// libcni and the standard plugins Debian ships in /usr/lib/cni:
// bridge + host-local IPAM over the node's pod CIDR, loopback, and portmap
// for hostPort. A pod's netns is a named bind mount (NetnsDir/<prefix><podID>);
// its IP is recorded by host-local under DataDir and its attachment in the
// libcni cache, so List can adopt pods after an agent restart.
//
// Plugin versions: Debian 12 ships plugins 1.1.1, which speak CNI spec up
// to 1.0.0, so the generated list says cniVersion "1.0.0". Extra CNI_ARGS
// need IgnoreUnknown=1, which Setup always passes. portmap (and ipMasq)
// shell out to iptables.
package cni
