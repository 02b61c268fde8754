module github.com/eroute/eroute

go 1.22.0

require (
	github.com/google/go-cmp v0.7.0
	github.com/rogpeppe/go-internal v1.13.1
	github.com/vishvananda/netlink v1.3.1
	github.com/vishvananda/netns v0.0.5
	golang.org/x/sys v0.30.0
)

require golang.org/x/tools v0.26.0 // indirect
