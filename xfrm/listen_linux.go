package xfrm

// ListenWith opens a Listener as Listen does, with the groups o chooses.
// Joining any XFRM group takes CAP_NET_ADMIN.
func ListenWith(o ListenOptions) (*Listener, error) {
	l, err := listen(o.Netns, o.RcvBuf, o.groups())
	if err != nil {
		return nil, err
	}
	l.skip = o.skip()
	return l, nil
}
