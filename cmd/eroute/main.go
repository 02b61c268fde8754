// Command eroute is the KLIPS `ipsec eroute` command on the Linux XFRM
// policy table. See eroute(8).
package main

import (
	"os"

	"github.com/eroute/eroute/cmd/internal/app"
)

func main() {
	os.Exit(app.Eroute(os.Args[1:]))
}
