// Package nete2e holds the end-to-end tests of service networking on the
// real node agent: containerd + runc + the CNI bridge, one node, with the
// control plane in-process (embedded JetStream, command service,
// projector, queries) and the networking workers wired as `gantry up`
// wires them: the endpoints controller, the proxy programming nftables in
// the host's network namespace, and the cluster DNS worker. Deployments
// are reconciled by the replicaset and deployment loops; their pod
// templates carry spec.nodeName, so no scheduler runs.
//
// The node's network, chosen not to clash with anything else on the
// machine:
//
//	bridge gantrynet0 10.244.123.1/24 (pod CIDR 10.244.123.0/24)
//	services 10.99.0.0/16, routed to the bridge so an unprogrammed VIP
//	    never leaves the machine
//	DNS worker on 10.244.123.1:53 (the pods' ClusterDNS, the node's
//	    InternalIP and its NodePort address)
//	nftables tables gantrynete2e, gantrynete2e-00, gantrynete2e-01
//	the ingress router (ingress_test.go) on 127.0.0.1, ports the kernel
//	    picks
//
// Pods reach a VIP through the host's nat hooks: the packet is routed by
// the host (the VIP is not on the bridge), and replies between pods on the
// bridge pass netfilter because the bridge is created with
// nf_call_iptables on (br_netfilter).
//
// Traffic goes only to the bridge, the pods and the service addresses the
// tests create; every request loop is bounded in count and time. Each test
// removes what it made (pods, containerd objects, netns, the bridge, the
// proxy's tables, processes by PID) in t.Cleanup, also on failure.
//
// Needs root, containerd, runc, ip, nft and the CNI plugins in
// /usr/lib/cni; skipped without them and with -short.
//
//	go test ./workers/nete2e/ -v
package nete2e
