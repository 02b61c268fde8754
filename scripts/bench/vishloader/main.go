//go:build eroutebench && linux

// Command vishloader loads a file of eroute --add lines into a namespace
// the way a typical Go program would: one github.com/vishvananda/netlink
// XfrmPolicyAdd per eroute (a request and its acknowledgement each), with
// the very policy eroute writes. It is scripts/bench.sh's Go peer, built
// with -tags eroutebench by bench.sh only.
//
//	vishloader NETNS FILE.eroute
package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/scripts/bench/benchfile"
	"github.com/eroute/eroute/xfrm"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: vishloader NETNS FILE.eroute")
		os.Exit(2)
	}
	if err := load(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "vishloader:", err)
		os.Exit(1)
	}
}

func load(name, path string) error {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return err
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_XFRM)
	if err != nil {
		return err
	}
	es, err := benchfile.ReadAdds(path)
	if err != nil {
		return err
	}
	for i, e := range es {
		pol := policyOf(e)
		if err := h.XfrmPolicyAdd(&pol); err != nil {
			return fmt.Errorf("eroute %d: %v", i+1, err)
		}
	}
	return nil
}

// policyOf is eroute's policy for an eroute in the library's terms.
func policyOf(e eroute.Eroute) netlink.XfrmPolicy {
	p := xfrm.PolicyOf(e)
	pol := netlink.XfrmPolicy{
		Src:      ipNet(p.Sel.Src),
		Dst:      ipNet(p.Sel.Dst),
		Proto:    netlink.Proto(p.Sel.Proto),
		SrcPort:  int(p.Sel.SrcPort),
		DstPort:  int(p.Sel.DstPort),
		Dir:      netlink.XFRM_DIR_OUT,
		Priority: int(p.Priority),
		Action:   netlink.PolicyAction(p.Action),
	}
	for _, t := range p.Tmpls {
		pol.Tmpls = append(pol.Tmpls, netlink.XfrmPolicyTmpl{
			Src:   net.IP(t.Src.AsSlice()),
			Dst:   net.IP(t.Dst.AsSlice()),
			Proto: netlink.Proto(t.Proto),
			Mode:  netlink.Mode(t.Mode),
			Spi:   int(t.SPI),
			Reqid: int(t.Reqid),
		})
	}
	return pol
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
