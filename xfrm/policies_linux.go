package xfrm

import (
	"errors"

	"golang.org/x/sys/unix"
)

// AddPolicy adds a policy as given (XFRM_MSG_NEWPOLICY, exclusive): any
// direction, type, action, priority, mark, if_id and templates (with
// their reqids). Index 0 lets the kernel choose it. ErrExists when a
// policy with the same selector, direction, type, mark and if_id exists,
// whatever its priority.
func (t *Table) AddPolicy(p Policy) error {
	p, err := completePolicy(p)
	if err != nil {
		return err
	}
	err = t.c.request(msgNewPolicy, unix.NLM_F_CREATE|unix.NLM_F_EXCL, encodePolicy(p))
	return kernelError(err, unix.EEXIST, ErrExists)
}

// UpdatePolicy adds p, or replaces the policy with the same selector,
// direction, type, mark and if_id (XFRM_MSG_UPDPOLICY) in one step: no
// packet meets a gap.
func (t *Table) UpdatePolicy(p Policy) error {
	p, err := completePolicy(p)
	if err != nil {
		return err
	}
	err = t.c.request(msgUpdPolicy, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, encodePolicy(p))
	return kernelError(err, 0, nil)
}

// DeletePolicy deletes the policy id names: by id.Index when it is not 0,
// else by id.Sel; either way with id's direction, type, mark and if_id.
// ErrNotFound when there is none.
func (t *Table) DeletePolicy(id Policy) error {
	if err := completeID(&id); err != nil {
		return err
	}
	err := t.c.request(msgDelPolicy, 0, encodePolicyID(id))
	return kernelError(err, unix.ENOENT, ErrNotFound)
}

// GetPolicy reads the policy id names, as DeletePolicy finds it; false
// when there is none.
func (t *Table) GetPolicy(id Policy) (Policy, bool, error) {
	if err := completeID(&id); err != nil {
		return Policy{}, false, err
	}
	var p Policy
	found := false
	var derr error
	err := t.c.get(msgGetPolicy, encodePolicyID(id), func(typ uint16, b []byte) {
		if typ == msgNewPolicy && !found {
			p, derr = decodePolicy(b)
			found = true
		}
	})
	switch {
	case errors.Is(err, unix.ENOENT):
		return Policy{}, false, nil
	case err != nil:
		return Policy{}, false, kernelError(err, 0, nil)
	case derr != nil:
		return Policy{}, false, derr
	}
	return p, found, nil
}

// Policies gives every policy of the table, of every direction and type
// (socket policies too), decoded, in the kernel's order. Policies that
// do not decode are left out.
func (t *Table) Policies() ([]Policy, error) {
	var ps []Policy
	err := t.c.dump(msgGetPolicy, func(typ uint16, b []byte) {
		if typ != msgNewPolicy {
			return
		}
		if p, err := decodePolicy(b); err == nil {
			ps = append(ps, p)
		}
	})
	if err != nil {
		return nil, forReading(kernelError(err, 0, nil))
	}
	return ps, nil
}
