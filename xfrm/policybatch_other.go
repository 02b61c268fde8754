//go:build !linux

package xfrm

// ApplyPolicies implements the Linux API.
func (t *Table) ApplyPolicies(ops []PolicyOp) error { return ErrNoXFRM }

// SyncPolicies implements the Linux API.
func (t *Table) SyncPolicies(want []Policy, o SyncOptions) (SyncResult, error) {
	return SyncResult{}, ErrNoXFRM
}
