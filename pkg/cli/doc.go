// Package cli is the eroute command line: it reads the KLIPS `ipsec eroute`
// options (GNU getopt_long rules: --opt VALUE, --opt=VALUE, unambiguous
// abbreviations), checks them completely before anything reaches the kernel,
// and drives a Table. The kernel side stays behind the Table interface, so
// every message and exit status can be tested without root.
//
// The commands (--add, --batch, --monitor...) are one table, commands in
// commands.go: a newcomer's place to start, since the parser, the batch
// reader, the dispatcher and the usage all read it.
package cli
