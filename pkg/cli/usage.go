package cli

// VersionString is the release; the Makefile may set it with -ldflags -X.
var VersionString = "1.0.0"

const versionNote = "eroute: the KLIPS eroute command on the Linux XFRM policy table."

// usageGlobal ends the usage (see usageOf): the options any command takes.
const usageGlobal = `        [ --debug ] is optional to any eroute command.
        [ --label <label> ] is optional to any eroute command.
        [ --netns <name> ] is optional to any eroute command: act on that network namespace (as 'ip netns' names it).
`
