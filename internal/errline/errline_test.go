package errline

import (
	"errors"
	"strings"
	"testing"
)

func TestWriteOneLine(t *testing.T) {
	var b strings.Builder
	Write(&b, "eroute", errors.New("bad value \"a\nb\tc\x1b[31m\x7f\": refused"))
	if want := "eroute: bad value \"a\\nb\\tc\\x1b[31m\\x7f\": refused\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
