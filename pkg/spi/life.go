package spi

import (
	"fmt"
	"strings"

	"github.com/eroute/eroute/pkg/eroute"
)

// ParseLife reads a --life value:
//
//	item ("," item)*   item = (soft|hard)-(allocations|bytes|addtime|usetime|packets)=VALUE
//
// VALUE is a C-style number (0x hexadecimal, leading-0 octal, else
// decimal), up to 2^64-1 (KLIPS kept 32 bits and silently truncated). A soft
// limit above the hard one is lowered to it, as the KLIPS kernel did.
// allocations has no XFRM equivalent: it is read, then ignored with the
// note the second result gives.
func ParseLife(s string) (soft, hard Limits, note string, err error) {
	seen := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		sev, rest, ok := strings.Cut(item, "-")
		switch {
		case sev != "soft" && sev != "hard":
			return soft, hard, "", fmt.Errorf("missing lifetime severity in %s", item)
		case !ok:
			return soft, hard, "", fmt.Errorf("expected '-' after severity of lifetime parameter to --life option.")
		}
		typ, value, ok := strings.Cut(rest, "=")
		switch {
		case !validLifeType(typ):
			return soft, hard, "", fmt.Errorf("missing lifetime type after '-' in %s", item)
		case !ok:
			return soft, hard, "", fmt.Errorf("expected '=' after type of lifetime parameter to --life option.")
		case value == "":
			return soft, hard, "", fmt.Errorf("expected value after '=' in --life option.")
		}
		key := sev + "-" + typ
		if old, dup := seen[key]; dup {
			return soft, hard, "", fmt.Errorf("Error, lifetime parameter redefined:%s, already defined as:%s", item, old)
		}
		seen[key] = value
		n, err := eroute.ParseNumber(value, ^uint64(0))
		if err != nil {
			return soft, hard, "", fmt.Errorf("Invalid number for lifetime option parameter %s in parameter string \"%s\": %v", item, s, err)
		}
		l := &soft
		if sev == "hard" {
			l = &hard
		}
		switch typ {
		case "bytes":
			l.Bytes = n
		case "packets":
			l.Packets = n
		case "addtime":
			l.AddTime = n
		case "usetime":
			l.UseTime = n
		case "allocations":
			note = "--life " + key + " ignored: XFRM has no allocation limit"
		}
	}
	clamp(&soft.Bytes, hard.Bytes)
	clamp(&soft.Packets, hard.Packets)
	clamp(&soft.AddTime, hard.AddTime)
	clamp(&soft.UseTime, hard.UseTime)
	return soft, hard, note, nil
}

func validLifeType(t string) bool {
	switch t {
	case "allocations", "bytes", "addtime", "usetime", "packets":
		return true
	}
	return false
}

// clamp lowers a soft limit to the hard one (0 is no limit).
func clamp(soft *uint64, hard uint64) {
	if hard != 0 && *soft > hard {
		*soft = hard
	}
}
