package xfrm

import (
	"slices"

	"github.com/eroute/eroute/pkg/eroute"
)

// Inbound gives the inbound main policies whose selector an eroute can
// have, read as eroutes and sorted as List sorts: Own for those --addin or
// --replacein wrote (the policy PolicyOf gives, with direction in),
// Deletable for those DeleteInbound by their selector removes. eroute
// --save writes the own ones back as --addin lines.
func (t *Table) Inbound() ([]Entry, error) {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	// Most tables have no inbound policy: the kernel's count spares them
	// a dump of every outbound one.
	if c.spdCount(spdInCount) == 0 {
		return nil, nil
	}
	var es []Entry
	var v policyView
	err := c.dumpLocked(msgGetPolicy, func(typ uint16, b []byte) {
		if typ != msgNewPolicy || scanPolicy(b, &v) != nil || v.Dir != DirIn || v.Type != TypeMain {
			return
		}
		p, err := decodePolicy(b)
		if err != nil {
			return
		}
		// Read as the outbound policy it mirrors: PolicyOf's shape is
		// the same but for the direction.
		p.Dir = DirOut
		if e, ok := entryOf(p); ok {
			e.Inbound = true
			es = append(es, e)
		}
	})
	if err != nil {
		return nil, kernelError(err, 0, nil)
	}
	slices.SortStableFunc(es, func(a, b Entry) int { return eroute.Compare(a.Selector, b.Selector) })
	return es, nil
}
