package xfrm

import (
	"errors"
	"slices"
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
	long := *l // three times the records: chunks on both goroutines, the last one short
	long.recs = slices.Concat(l.recs, l.recs, l.recs)
	checkChunkedText(t, &long, strings.Repeat(string(want), 3))
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

// checkChunkedText: writeText on two goroutines, chunk by chunk, writes
// the same text in order, and stops at the writer's first error.
func checkChunkedText(t *testing.T, l *listing, want string) {
	t.Helper()
	defer func(old int) { parallelFrom = old }(parallelFrom)
	parallelFrom = 1
	if n := len(l.recs); n <= 2*chunkLines {
		t.Fatalf("%d records: fewer than three chunks", n)
	}
	var got strings.Builder
	if err := l.writeText(&got); err != nil {
		t.Fatal(err)
	}
	if got.String() != want {
		t.Errorf("writeText on two goroutines:\n%s\nwant:\n%s", got.String(), want)
	}
	for fail := range 3 {
		w := &failingWriter{after: fail}
		if err := l.writeText(w); err != errWriteFailed || w.writes != fail+1 {
			t.Errorf("writer failing at write %d: %v after %d writes", fail+1, err, w.writes)
		}
	}
}

var errWriteFailed = errors.New("write failed")

// failingWriter fails its write number after+1.
type failingWriter struct{ after, writes int }

func (w *failingWriter) Write(b []byte) (int, error) {
	w.writes++
	if w.writes > w.after {
		return 0, errWriteFailed
	}
	return len(b), nil
}
