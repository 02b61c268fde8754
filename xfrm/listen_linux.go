package xfrm

// ListenWith opens a Listener as Listen does, with the groups o chooses.
// Joining any XFRM group takes CAP_NET_ADMIN.
func ListenWith(o ListenOptions) (*Listener, error) {
	return listen(o.Netns, o.RcvBuf, o.groups())
}
