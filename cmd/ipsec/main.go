// Command ipsec is the FreeS/WAN-style front end: `ipsec eroute ARGS` is
// `eroute ARGS`, so runbooks written for KLIPS work as they are.
package main

import (
	"os"

	"github.com/eroute/eroute/cmd/internal/app"
)

func main() {
	os.Exit(app.Ipsec(os.Args[1:]))
}
