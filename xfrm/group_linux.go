package xfrm

import (
	"golang.org/x/sys/unix"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/sadb"
)

// groupsFor gives the templates of every group an eroute of ops names,
// from one dump of the SAs (none when no op names an SA). For one SAID the
// kernel dumps only the SAs to its destination (XFRMA_ADDRESS_FILTER), so
// that an --add next to an IKE daemon's thousands of SAs stays cheap.
func (c *nlConn) groupsFor(saids []eroute.SAID) (map[eroute.SAID][]Template, error) {
	if len(saids) == 0 {
		return nil, nil
	}
	var filter []byte
	if len(saids) == 1 {
		filter = addressFilter(saids[0].Dst)
	}
	heads, err := c.groupHeadsIn(filter)
	if err != nil {
		return nil, err
	}
	groups := map[eroute.SAID][]Template{}
	for _, s := range saids {
		if ts, ok := heads[s]; ok {
			groups[s] = ts
		}
	}
	return groups, nil
}

// groupHeadsIn dumps the SAs (only those the filter lets through, when
// there is one) and gives their groups' templates by head (groupHeads).
func (c *nlConn) groupHeadsIn(filter []byte) (map[eroute.SAID][]Template, error) {
	var sas []sadb.SA
	keep := func(typ uint16, b []byte) {
		if sa, err := decodeState(b); typ == msgNewSA && err == nil {
			sas = append(sas, sa)
		}
	}
	var err error
	if filter != nil {
		var seq uint32
		seq, err = c.send(msgGetSA, unix.NLM_F_DUMP, filter)
		if err == nil {
			err = c.receive(seq, keep)
		}
	} else {
		err = c.dumpUncounted(msgGetSA, keep)
	}
	if err != nil {
		return nil, kernelError(err, 0, nil)
	}
	return groupHeads(sas), nil
}
