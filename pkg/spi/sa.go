package spi

import "github.com/eroute/eroute/pkg/sadb"

// The SA model is package sadb's, below both this command and the driver
// (xfrm), which reads and writes it: these names keep the command's code
// as it reads best.
type (
	SA      = sadb.SA
	Alg     = sadb.Alg
	Limits  = sadb.Limits
	Current = sadb.Current
	Replay  = sadb.Replay
	Stats   = sadb.Stats
	Encap   = sadb.Encap
	Group   = sadb.Group
)

// MaxCPI is the largest IPCOMP CPI: 16 bits on the wire.
const MaxCPI = 0xffff
