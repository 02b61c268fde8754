package cli

import "testing"

func TestDeleteInbound(t *testing.T) {
	w := newWorld(t)
	w.mustRun(t, "--addin", "--src", "10.1.0.0/16", "--dst", "10.0.0.0/8", "--said", "tun.135@10.0.0.1")
	if code := w.run("--del", "--src", "10.1.0.0/16", "--dst", "10.0.0.0/8"); code != 1 || w.stderr.String() != "eroute: "+errNotThere+"\n" {
		t.Errorf("--del of an inbound policy: status %d, stderr %q", code, w.stderr.String())
	}
	w.mustRun(t, "--delin", "--src", "10.1.0.0/16", "--dst", "10.0.0.0/8")
	if len(w.table.in) != 0 {
		t.Errorf("inbound policies left: %v", w.table.in)
	}
	if code := w.run("--delin", "--src", "10.1.0.0/16", "--dst", "10.0.0.0/8"); code != 1 || w.stderr.String() != "eroute: "+errNotThere+"\n" {
		t.Errorf("second --delin: status %d, stderr %q", code, w.stderr.String())
	}
	if code := w.run("--delin", "--src", "10.1.0.0/16"); code != 1 || w.stderr.String() != "eroute: Error -- delin option '--dst' is required.\n" {
		t.Errorf("--delin without --dst: status %d, stderr %q", code, w.stderr.String())
	}
}
