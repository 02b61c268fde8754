package eroute

import (
	"errors"
	"net/netip"
	"testing"
)

// A foreign policy is named as the listing shows it, with its priority;
// the option refused, when known, gets the --force hint. The command line
// and the library give these very words.
func TestForeignErrorText(t *testing.T) {
	holder := Entry{Eroute: Eroute{Selector: Selector{Src: netip.MustParsePrefix("10.0.0.0/8"),
		Dst: netip.MustParsePrefix("10.4.0.0/16"), Proto: TCP, DstPort: 80}, SAID: Trap, Count: 12}, Priority: 367231}
	fe := &ForeignError{Holder: holder}
	want := "the selector 10.0.0.0/8 -> 10.4.0.0/16:80:6 belongs to a policy eroute did not make (10.0.0.0/8 -> 10.4.0.0/16:80 => %trap:6, priority 367231)"
	if fe.Error() != want {
		t.Errorf("got  %q\nwant %q", fe.Error(), want)
	}
	fe.Option = "--del"
	if want += "; --force lets --del change it"; fe.Error() != want {
		t.Errorf("got  %q\nwant %q", fe.Error(), want)
	}
	var be error = &BatchError{Index: 3, Err: fe}
	var got *ForeignError
	if !errors.As(be, &got) || got != fe || be.Error() != want {
		t.Errorf("a batch error does not give its ForeignError: %v", be)
	}
}

func TestModeName(t *testing.T) {
	for mode, want := range map[uint8]string{0: "transport", 1: "tunnel", 4: "beet", 5: "mode(5)"} {
		if got := (Template{Mode: mode}).ModeName(); got != want {
			t.Errorf("mode %d: %q, want %q", mode, got, want)
		}
	}
}
