package eroute

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Names finds protocol and service names, as getprotobyname(3) and
// getservbyname(3) did for KLIPS: by the first column of the files only.
// A file name left empty, or a file that is missing, gives numbers only: the
// zero Names knows no names; SystemNames reads the system's files.
type Names struct {
	ProtocolsFile string // normally /etc/protocols
	ServicesFile  string // normally /etc/services
}

// SystemNames reads the system's /etc/protocols and /etc/services.
var SystemNames = Names{ProtocolsFile: "/etc/protocols", ServicesFile: "/etc/services"}

// ParseTransportProto reads --transport-proto: a name from /etc/protocols or
// a base-0 number from 0 to 255.
func (n Names) ParseTransportProto(s string) (uint8, error) {
	if v, ok := lookupFirstColumn(n.ProtocolsFile, s, parseProtocolsLine); ok {
		return uint8(v), nil
	}
	v, err := parseBase0(s, 255)
	if err != nil {
		return 0, nameOrNumberError(s, err, n.ProtocolsFile, 255)
	}
	return uint8(v), nil
}

// ParsePort reads --src-port or --dst-port: a name from /etc/services or a
// base-0 number from 0 to 65535.
func (n Names) ParsePort(s string) (uint16, error) {
	if v, ok := lookupFirstColumn(n.ServicesFile, s, parseServicesLine); ok {
		return uint16(v), nil
	}
	v, err := parseBase0(s, 65535)
	if err != nil {
		return 0, nameOrNumberError(s, err, n.ServicesFile, 65535)
	}
	return uint16(v), nil
}

func nameOrNumberError(s string, err error, file string, max int) error {
	if s != "" && (s[0] < '0' || s[0] > '9') {
		return fmt.Errorf("not a name in %s nor a number", file)
	}
	return fmt.Errorf("%v (want 0 to %d or a name in %s)", err, max, file)
}

// lookupFirstColumn finds the value of the first line of a file whose first
// word is name. A missing file is no match: the number forms still work
// without it. Each file is read once per process: a --batch of 100,000
// lines must not read /etc/services 100,000 times.
func lookupFirstColumn(file, name string, value func([]string) (int, bool)) (int, bool) {
	v, ok := columnTable(file, value)[name]
	return v, ok
}

var (
	columnTablesMu sync.Mutex
	columnTables   = map[string]map[string]int{}
)

func columnTable(file string, value func([]string) (int, bool)) map[string]int {
	columnTablesMu.Lock()
	defer columnTablesMu.Unlock()
	if t, ok := columnTables[file]; ok {
		return t
	}
	t := readColumnTable(file, value)
	columnTables[file] = t
	return t
}

func readColumnTable(file string, value func([]string) (int, bool)) map[string]int {
	t := map[string]int{}
	f, err := os.Open(file)
	if err != nil {
		return t
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		if _, seen := t[fields[0]]; seen {
			continue
		}
		if v, ok := value(fields); ok {
			t[fields[0]] = v
		}
	}
	return t
}

func parseProtocolsLine(f []string) (int, bool) {
	v, err := strconv.Atoi(f[1])
	return v, err == nil && v >= 0 && v <= 255
}

func parseServicesLine(f []string) (int, bool) {
	port, _, ok := strings.Cut(f[1], "/")
	v, err := strconv.Atoi(port)
	return v, ok && err == nil && v >= 0 && v <= 65535
}
