package xfrm

import (
	"io"
	"net/netip"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/sadb"
)

// The exported API of each type, checked at compile time against both the
// Linux types and the stubs of other systems (table_other.go), so that a
// method added to one is not missing from the other. A program that builds
// on Linux builds everywhere; outside Linux every call fails with ErrNoXFRM.
// TestStubsMatchLinux compares the whole exported API of both, signatures
// included, from the source, for what these do not list.
type (
	tableAPI interface {
		io.Closer
		Add(eroute.Eroute) error
		Replace(eroute.Eroute) error
		Delete(eroute.Selector) error
		Clear(all bool) error
		AddInbound(e eroute.Eroute, replace bool) error
		DeleteInbound(eroute.Selector) error
		List() ([]eroute.Eroute, error)
		Walk(func(eroute.Eroute) error) error
		WriteListing(io.Writer) error
		WalkEntries(func(Entry) error) error
		Lookup(sel eroute.Selector, inbound bool) (Entry, bool, error)
		Find(sel eroute.Selector, inbound bool) ([]Entry, error)
		Inbound() ([]Entry, error)
		DeleteEntries([]Entry) error
		Shadow(eroute.Eroute) (*Entry, error)
		Apply([]Op) error
		ApplyFunc(n int, op func(i int) Op) error
		ApplyFuncUntil(stop <-chan struct{}, n int, op func(i int) Op) error
		Snapshot() (*Snapshot, error)
		AddHold(h Hold, timeout time.Duration) error
		Holds() ([]Hold, error)
		DeleteHold(Hold) (bool, error)
		States() ([]sadb.SA, error)
		SAs() ([]sadb.SA, error)
		AddSA(sadb.SA) error
		DeleteSA(eroute.SAID) error
		FlushSAs() error
		LocalAddrs() ([]netip.Addr, error)
		InboundPolicies() ([]eroute.Eroute, error)
		AddPolicy(Policy) error
		UpdatePolicy(Policy) error
		DeletePolicy(id Policy) error
		GetPolicy(id Policy) (Policy, bool, error)
		Policies() ([]Policy, error)
		ApplyPolicies([]PolicyOp) error
		SyncPolicies(want []Policy, o SyncOptions) (SyncResult, error)
	}
	snapshotAPI interface {
		io.Closer
		Len() int
		Entry(i int) Entry
		Apply([]Op) error
		ApplyFunc(n int, op func(i int) Op) error
		ApplyFuncUntil(stop <-chan struct{}, n int, op func(i int) Op) error
	}
	listenerAPI interface {
		io.Closer
		Next() (Event, error)
		SetDeadline(time.Time) error
	}
	guardAPI interface {
		io.Closer
		Next() (Event, error)
		Own() int
		StaleHolds() []Hold
	}
)

var (
	_ tableAPI    = (*Table)(nil)
	_ snapshotAPI = (*Snapshot)(nil)
	_ listenerAPI = (*Listener)(nil)
	_ guardAPI    = (*Guard)(nil)

	_ func(string) (*Table, error)           = Open
	_ func(OpenOptions) (*Table, error)      = OpenWith
	_ func(string, int) (*Listener, error)   = Listen
	_ func(ListenOptions) (*Listener, error) = ListenWith
	_ func(string, string) (*Guard, error)   = OpenGuard
	_ func(string) (io.Closer, error)        = ClaimMonitor
	_ func(string) (time.Duration, error)    = AcquireExpiry
)
