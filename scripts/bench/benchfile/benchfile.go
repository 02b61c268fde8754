//go:build eroutebench

// Package benchfile reads the --add files of scripts/bench.sh for its
// floor and vishloader programs (built with -tags eroutebench only).
package benchfile

import (
	"fmt"
	"os"
	"strings"

	"github.com/eroute/eroute/pkg/cli"
	"github.com/eroute/eroute/pkg/eroute"
)

// ReadAdds gives the eroutes of a file of eroute --add lines, checked as
// eroute checks them.
func ReadAdds(path string) ([]eroute.Eroute, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := cli.Parser{Resolver: eroute.NoResolver{}}
	var es []eroute.Eroute
	for n, line := range strings.Split(string(text), "\n") {
		words := strings.Fields(line)
		if len(words) == 0 || strings.HasPrefix(words[0], "#") {
			continue
		}
		req, err := p.Parse(words)
		if err != nil || req.Action != cli.Add {
			return nil, fmt.Errorf("%s: line %d: not an --add line (%v)", path, n+1, err)
		}
		es = append(es, req.Eroute)
	}
	return es, nil
}
