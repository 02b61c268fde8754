// Package errline writes an error as the one line the commands of the
// suite (eroute, ipsec spi, ipsec spigrp) give it on standard error. It is
// its own package so that the SA commands, which the xfrm library
// imports for its SA type, need not bring the eroute command line with
// them into every program that uses the library.
package errline

import (
	"fmt"
	"io"
	"strings"
)

// Write writes "prog: message" and a newline. Messages quote the values
// they refuse, which may hold any byte: control characters are written as
// Go escapes (\n, \t, \x1b), so that the message stays one line and cannot
// drive the terminal.
func Write(w io.Writer, prog string, err error) {
	line := prog + ": " + err.Error()
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\n')
	io.WriteString(w, b.String())
}
