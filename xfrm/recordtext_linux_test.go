package xfrm

import (
	"strings"
	"testing"
)

// TestListingWriteTextCounts checks the listing's text, counts included:
// SA packets for eroute's own and for foreign policies, a foreign
// policy's count from its detail, SA groups, against Walk's eroutes with
// AppendLine.
func TestListingWriteTextCounts(t *testing.T) {
	l := &listing{details: map[uint32]*detail{}, sas: newSAIndex()}
	for i, e := range lineEroutes(t) {
		flags := uint8(recOwn)
		switch i % 5 {
		case 1:
			flags = 0
		case 2:
			flags = 0
			l.details[uint32(i)] = &detail{count: uint64(1000 + i), counted: true}
		case 3:
			flags |= recGroup
		}
		r := recordOf(e, flags, uint32(i))
		r.index = uint32(i)
		l.recs = append(l.recs, r)
		if k, ok := saKeyOf(e.SAID); ok && i%3 != 0 {
			l.sas.add(saInfo{key: k, packets: uint64(i + 1)})
		}
	}
	var want []byte
	for i := range l.recs {
		want = append(l.eroute(i).AppendLine(want), '\n')
	}
	var got strings.Builder
	if err := l.writeText(&got); err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("writeText:\n%s\nwant:\n%s", got.String(), want)
	}
	counted := 0
	for _, line := range strings.Split(got.String(), "\n") {
		if line != "" && line[0] != '0' {
			counted++
		}
	}
	if counted < len(l.recs)/4 {
		t.Errorf("only %d of %d lines have a count: the test's SAs do not count", counted, len(l.recs))
	}

}
