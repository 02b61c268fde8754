//go:build !linux

package xfrm

// AddPolicy implements the Linux API.
func (t *Table) AddPolicy(p Policy) error { return ErrNoXFRM }

// UpdatePolicy implements the Linux API.
func (t *Table) UpdatePolicy(p Policy) error { return ErrNoXFRM }

// DeletePolicy implements the Linux API.
func (t *Table) DeletePolicy(id Policy) error { return ErrNoXFRM }

// GetPolicy implements the Linux API.
func (t *Table) GetPolicy(id Policy) (Policy, bool, error) { return Policy{}, false, ErrNoXFRM }

// Policies implements the Linux API.
func (t *Table) Policies() ([]Policy, error) { return nil, ErrNoXFRM }

// ListenWith implements the Linux API.
func ListenWith(o ListenOptions) (*Listener, error) { return nil, ErrNoXFRM }

// OpenWith implements the Linux API.
func OpenWith(o OpenOptions) (*Table, error) { return nil, ErrNoXFRM }
