package cli

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unicode/utf8"
	"unsafe"

	"github.com/eroute/eroute/internal/slotindex"
	"github.com/eroute/eroute/pkg/eroute"
)

// MaxLineLength is the longest line a --batch or --sync file may have.
const MaxLineLength = 64 * 1024

// The batch model is package eroute's, shared with the driver (xfrm): an
// Op is one checked line of a batch (Line its number in the file, for
// messages), and a *BatchError says which op the kernel refused, the table
// as it was.
type (
	Op         = eroute.Op
	BatchError = eroute.BatchError
)

// A batch file is read by one goroutine, which checks the text and cuts it
// into chunks of whole lines, and parsed by up to maxParsers others, one
// chunk each at a time: checking a line (1 µs) costs far more than reading
// it, and --sync reads the table on another core meanwhile. Lines are
// handled as they are read: a file of 100,000 lines is never held whole,
// only a few chunks of it and the checked ops.
const (
	chunkLines = 1024     // lines in a chunk, at most
	chunkBytes = 64 << 10 // text in a chunk, at most (a longer line makes its own)
	maxParsers = 4
)

// batchChunk is lines first, first+1, ... of a batch file, each followed by
// '\n' in text; the parser fills in the rest.
type batchChunk struct {
	seq   int // place among the chunks
	first int
	text  []byte
	// ops are where the parser puts the chunk's ops: a window of the
	// batch's own slice (placed, see opsInPlace) or the chunk's own
	// array (own), made when first needed.
	ops    []Op
	own    []Op
	placed bool
	// The first line of the chunk that is not a good command, if any.
	errLine int
	err     error
}

// openBatch opens a batch file ("-" is standard input).
func openBatch(path string, stdin io.Reader) (io.Reader, func(), error) {
	if path == "-" {
		return stdin, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read: %v", unwrapPathError(err))
	}
	return f, func() { f.Close() }, nil
}

// utf8BOM is the byte order mark some editors (Windows Notepad among them)
// put at the start of a UTF-8 file: it is no part of the first command.
var utf8BOM = []byte("\ufeff")

// readChunks reads the file into chunks for send, refusing what cannot be
// text: lines over MaxLineLength, NUL bytes, invalid UTF-8. A byte order
// mark at the start of the file is skipped. It gives the
// number of the line it stopped at with the reason, or 0 at the end of the
// file; it stops early, at a chunk's end, when stop says so.
func readChunks(r io.Reader, send func(*batchChunk), reuse func() *batchChunk, stop func() bool) (int, error) {
	br := bufio.NewReaderSize(r, 64*1024)
	c := reuse()
	c.first = 1
	seq := 0
	flush := func(next int) {
		if len(c.text) > 0 {
			c.seq = seq
			seq++
			send(c)
			c = reuse()
		}
		c.first = next
	}
	for n := 1; ; n++ {
		line, err := readLine(br)
		if err == io.EOF {
			flush(n)
			return 0, nil
		}
		if n == 1 {
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		if err == nil {
			err = checkText(line)
		}
		if err != nil {
			flush(n)
			return n, err
		}
		// A chunk ends before the line that would make its text grow (a
		// line longer than a whole chunk's text makes its own), or after
		// chunkLines lines.
		if len(c.text) > 0 && len(c.text)+len(line)+1 > cap(c.text) {
			flush(n)
			if stop() {
				return 0, nil
			}
		}
		c.text = append(append(c.text, line...), '\n')
		if n+1-c.first >= chunkLines {
			flush(n + 1)
			if stop() {
				return 0, nil
			}
		}
	}
}

// parseChunk checks each line of a chunk as a command line of one of the
// allowed actions, up to the first that is not. Blank lines and lines
// starting with # are skipped.
//
// quickEroute reads a line in place, from the chunk's bytes: it keeps
// nothing of the text (no string of it lives on in the eroute, and it
// makes no error), so the lines it takes, most of a large file, are never
// copied: 28 MB less garbage for 300,000 lines. A line it leaves is
// copied into a string of its own, which the general path may keep (a
// name being looked up after its time is up, an error): the chunk's
// bytes are read again as soon as the chunk is done.
func (p Parser) parseChunk(c *batchChunk, allowed map[Action]bool) {
	quick := allowed[Add]
	text := c.text
	var words []string
	for n := c.first; len(text) > 0; n++ {
		i := bytes.IndexByte(text, '\n')
		raw := text[:i]
		text = text[i+1:]
		if quick && len(raw) > 0 {
			c.ops = append(c.ops, Op{Kind: eroute.OpAdd, Line: n})
			if p.quickEroute(unsafe.String(&raw[0], len(raw)), &c.ops[len(c.ops)-1].Eroute) {
				continue
			}
			c.ops = c.ops[:len(c.ops)-1]
		}
		line := string(raw)
		words = appendFields(words[:0], line)
		if len(words) == 0 || strings.HasPrefix(words[0], "#") {
			continue
		}
		if !quick {
			// quickAdd is for --add lines only
		} else if e, ok, err := p.quickAdd(words); ok {
			if err != nil {
				c.errLine, c.err = n, err
				return
			}
			c.ops = append(c.ops, Op{Kind: eroute.OpAdd, Eroute: e, Line: n})
			continue
		}
		req, err := p.Parse(words)
		if err == nil {
			err = checkBatchRequest(req, allowed)
		}
		if err != nil {
			c.errLine, c.err = n, err
			return
		}
		c.ops = append(c.ops, opOf(req, n))
	}
}

// opOf gives the op of a checked batch line. A --del --force line whose
// addresses have host bits acts on the selector as given, as a single
// --del finds it: the policy someone else wrote with those bits (others
// clear them, as KLIPS did).
func opOf(req Request, line int) Op {
	op := Op{Kind: commandOf(req.Action).op, Eroute: req.Eroute, Line: line, Force: req.Force || req.All, Inbound: req.Action == AddInbound}
	if req.Action == Delete && req.Force && req.Exact != (eroute.Selector{}) {
		op.Eroute.Selector = req.Exact
	}
	return op
}

// appendFields appends the words of a line, as strings.Fields cuts them
// (a line with other than ASCII goes through strings.Fields itself, for
// its Unicode spaces).
func appendFields(words []string, line string) []string {
	start, base := -1, len(words)
	for i := 0; i < len(line); i++ {
		if line[i] >= utf8.RuneSelf {
			return append(words[:base], strings.Fields(line)...)
		}
		switch line[i] {
		case ' ', '\t', '\n', '\v', '\f', '\r':
			if start >= 0 {
				words = append(words, line[start:i])
				start = -1
			}
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		words = append(words, line[start:])
	}
	return words
}

// readLine gives one line without its end, refusing one too long to be an
// eroute command (so a binary file cannot make eroute hold it whole). The
// line is valid until the next read: a line whole in the reader's buffer,
// the usual case, is not copied (100,000 allocations fewer a 100,000-line
// file).
func readLine(br *bufio.Reader) ([]byte, error) {
	chunk, err := br.ReadSlice('\n')
	if err == nil && len(chunk) <= MaxLineLength+1 {
		return trimLineEnd(chunk), nil
	}
	var line []byte
	for {
		line = append(line, chunk...)
		if len(line) > MaxLineLength+1 {
			return nil, fmt.Errorf("line longer than %d bytes", MaxLineLength)
		}
		switch {
		case err == bufio.ErrBufferFull:
			chunk, err = br.ReadSlice('\n')
			continue
		case err == io.EOF && len(line) > 0:
			return line, nil
		case err == io.EOF:
			return nil, err
		case err != nil: // a directory, an I/O error
			return nil, fmt.Errorf("cannot read: %v", unwrapPathError(err))
		}
		return trimLineEnd(line), nil
	}
}

// trimLineEnd is bytes.TrimRight(line, "\r\n") without the set of
// bytes that builds for each line (a fifth of the reader's time).
func trimLineEnd(line []byte) []byte {
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	return line
}

func checkText(line []byte) error {
	if i := bytes.IndexByte(line, 0); i >= 0 {
		return errors.New("binary data (NUL byte), not an eroute command")
	}
	if !utf8.Valid(line) {
		return errors.New("not valid UTF-8 text")
	}
	return nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func lineError(n int, err error) error {
	return fmt.Errorf("line %d: %v", n, err)
}

// parseBatch reads and checks every line before anything is sent: each is
// a whole eroute command line of one of the allowed actions. The first bad
// line in the file is the one reported, as if the lines were checked one
// after the other. The caller then checks that no selector is given twice
// (findDuplicate, or bySelector).
// The soft memory limit grows with the lines checked (budget.lines).
func (p Parser) parseBatch(path string, stdin io.Reader, allowed map[Action]bool, budget *memoryBudget) ([]Op, error) {
	r, closeFile, err := openBatch(path, stdin)
	if err != nil {
		return nil, err
	}
	defer closeFile()
	parsers := min(runtime.GOMAXPROCS(0), maxParsers)
	pool := newChunkPool(parsers)
	work := make(chan *batchChunk, parsers)
	done := make(chan *batchChunk, parsers)
	var failed atomic.Bool // a chunk has a bad line: reading on is pointless
	parsing := p.startParsers(parsers, work, done, allowed, &failed)
	read := make(chan lineFault, 1)
	dest := &opsInPlace{size: fileSize(path), budget: budget}
	go func() {
		n, err := readChunks(r, func(c *batchChunk) { dest.place(c); work <- c }, pool.get, failed.Load)
		close(work)
		parsing.Wait()
		close(done)
		read <- lineFault{n, err}
	}()
	ops, bad := inFileOrder(done, pool, dest, budget)
	bad.keepEarlier(<-read)
	if bad.err != nil {
		return nil, lineError(bad.line, bad.err)
	}
	return ops, nil
}

// lineFault is why line stopped a batch; err nil: none did.
type lineFault struct {
	line int
	err  error
}

// keepEarlier keeps whichever of two faults comes first in the file: the
// one reported, as if the lines were checked one after the other.
func (f *lineFault) keepEarlier(g lineFault) {
	if g.err != nil && (f.err == nil || g.line < f.line) {
		*f = g
	}
}

// startParsers starts n goroutines that check the chunks of work and hand
// them on to done. The first bad line sets failed, so that the reader
// stops early.
func (p Parser) startParsers(n int, work <-chan *batchChunk, done chan<- *batchChunk, allowed map[Action]bool, failed *atomic.Bool) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				p.parseChunk(c, allowed)
				if c.err != nil {
					failed.Store(true)
				}
				done <- c
			}
		}()
	}
	return &wg
}

// inFileOrder puts the ops of the chunks into one slice in the file's
// order as the parsers give the chunks back (a chunk done early waits for
// those before it), and gives each chunk back to the pool; after a bad
// line it only drains the chunks. The slice is dest's: the ops of a chunk
// placed in it are there already, and only move down over the holes that
// blank lines and comments leave; the other chunks' ops are copied in.
// The memory budget grows with the slice.
func inFileOrder(done <-chan *batchChunk, pool *chunkPool, dest *opsInPlace, budget *memoryBudget) ([]Op, lineFault) {
	var ops []Op
	var bad lineFault
	pending := map[int]*batchChunk{}
	next := 0
	for c := range done {
		if c.err != nil {
			bad.keepEarlier(lineFault{c.errLine, c.err})
		}
		pending[c.seq] = c
		for c, ok := pending[next]; ok; c, ok = pending[next] {
			if next == 0 {
				ops = dest.ops[:0] // made before the first chunk was sent
				budget.lines(cap(ops))
			}
			switch {
			case bad.err != nil:
			case c.placed && c.first-1 == len(ops):
				ops = ops[:len(ops)+len(c.ops)]
			default:
				ops = append(ops, c.ops...) // within dest.ops, or past it
				budget.lines(cap(ops))
			}
			delete(pending, next)
			next++
			pool.put(c)
		}
	}
	return ops, bad
}

// opsInPlace lets the parsers write each chunk's ops straight into the one
// slice the batch's ops end up in, from the place of the chunk's first
// line on, rather than into the chunk's own array for inFileOrder to copy:
// 100,000 ops are 12.8 MB, and copying them into fresh memory took a
// --sync of the mix 18 ms of its CPU (the page faults more than the
// copy). The slice is made, at the first chunk, for the lines the file is
// thought to hold (estimateLines); chunks past its end use their own
// arrays and are copied as before.
type opsInPlace struct {
	size   int64 // the file's, 0 when not known
	budget *memoryBudget
	ops    []Op
}

// place gives the chunk the room for its ops, on the reader's goroutine
// before the chunk goes to a parser.
func (d *opsInPlace) place(c *batchChunk) {
	if d.ops == nil {
		// The limit is raised first: a collection that the slice itself
		// set off would read all its pages before the parsers write
		// them (see indexSelectors on pages read first).
		n := estimateLines(d.size, c.text)
		d.budget.lines(n)
		d.ops = make([]Op, n)
	}
	lines := bytes.Count(c.text, []byte{'\n'})
	if start := c.first - 1; start+lines <= len(d.ops) {
		c.ops, c.placed = d.ops[start:start:start+lines], true
		return
	}
	if c.own == nil {
		c.own = make([]Op, 0, chunkLines)
	}
	c.ops, c.placed = c.own[:0], false
}

// chunkPool holds the chunks of a file: a fixed number, made as the
// reader first needs them and filled again once their ops were taken, so
// that a large file makes no garbage of text and ops (--sync runs without
// the collector). When all are in use the reader waits for one: a parser
// held up (descheduled, or on a slow line) while the other goes on used
// to leave the reader a new chunk for each one the other finished, and
// the pool too small to keep them when they came back (131 chunks made,
// 25 MB, for 300,000 lines).
type chunkPool struct {
	free chan *batchChunk
	made int // only the reader gets chunks
}

func newChunkPool(parsers int) *chunkPool {
	return &chunkPool{free: make(chan *batchChunk, chunksPerParser*parsers+2)}
}

// chunksPerParser is how many chunks a parser may be ahead by, all told,
// of the one the ops wait for.
const chunksPerParser = 4

// get gives a free chunk, a new one while fewer than the pool holds were
// made, or else the next one given back.
func (p *chunkPool) get() *batchChunk {
	select {
	case c := <-p.free:
		return c
	default:
	}
	if p.made < cap(p.free) {
		p.made++
		return &batchChunk{text: make([]byte, 0, chunkBytes)}
	}
	return <-p.free
}

// put empties a chunk and gives it back (never more than were made: it
// never waits).
func (p *chunkPool) put(c *batchChunk) {
	*c = batchChunk{text: c.text[:0], ops: c.own[:0], own: c.own}
	p.free <- c
}

// fileSize is the size of a regular file, or 0.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if path == "-" || err != nil || !fi.Mode().IsRegular() {
		return 0
	}
	return fi.Size()
}

// estimateLines guesses how many lines a file of size bytes holds from its
// first chunk, so that the ops of a large batch are made once, neither
// copied again and again as the slice grows nor twice as large as needed.
func estimateLines(size int64, first []byte) int {
	lines := int64(bytes.Count(first, []byte{'\n'}))
	if size <= int64(len(first)) || lines == 0 {
		return int(lines)
	}
	return int(min(size*lines/int64(len(first))*21/20+16, 1<<22))
}

// keyed is an op's selector key and its place in the ops.
type keyed struct {
	key eroute.Key
	i   int32
}

// keyedOrder sorts keys by selector (their bytes, compared as five
// big-endian words), then by place. sort.Sort with it takes half the time
// of slices.SortFunc with bytes.Compare, which copies each 48-byte keyed
// into the comparison (100,000 keys: 24 ms of CPU against 47).
type keyedOrder []keyed

func (s keyedOrder) Len() int      { return len(s) }
func (s keyedOrder) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s keyedOrder) Less(i, j int) bool {
	a, b := &s[i].key, &s[j].key
	for w := 0; w < len(a); w += 8 {
		if x, y := binary.BigEndian.Uint64(a[w:]), binary.BigEndian.Uint64(b[w:]); x != y {
			return x < y
		}
	}
	return s[i].i < s[j].i
}

// bySelector sorts the ops that name a selector (all but Clear) by
// selector, then by place, and reports the first line that repeats the
// selector of an earlier one. It sorts packed keys rather than filling a
// map: 100,000 selectors in a map would double the memory a batch needs,
// and cost three times as long.
func bySelector(ops []Op) ([]keyed, error) {
	ks := make([]keyed, 0, len(ops))
	for i := range ops {
		if ops[i].Kind != eroute.OpClear {
			ks = append(ks, keyed{ops[i].Eroute.Selector.Key(), int32(i)})
		}
	}
	sort.Sort(keyedOrder(ks))
	// In each run of one selector the first is its earliest line and the
	// second its first repeat; the earliest repeat of all is reported.
	first, later := -1, -1
	for k := 1; k < len(ks); k++ {
		if ks[k].key == ks[k-1].key && (k < 2 || ks[k-2].key != ks[k].key) &&
			(later < 0 || ops[ks[k].i].Line < ops[later].Line) {
			first, later = int(ks[k-1].i), int(ks[k].i)
		}
	}
	if later >= 0 {
		return nil, lineError(ops[later].Line, fmt.Errorf("selector %s already given on line %d", ops[later].Eroute.Selector, ops[first].Line))
	}
	return ks, nil
}

// findDuplicate reports the first line that repeats the selector of an
// earlier one (bySelector's error). Most batches repeat none, and showing
// that takes only the selectors' hashes in a slotindex.Index: 12-14 ms
// for 100,000 lines, keys and hashes included, where sorting bySelector's
// keys took 28-32 in the same runs. The lines go in by groups of
// probeGroup, whose slots are read ahead (see slotindex).
func findDuplicate(ops []Op) error {
	x := slotindex.New(len(ops))
	seed := maphash.MakeSeed()
	var keys [probeGroup]eroute.Key
	var hashes [probeGroup]uint64
	for base := 0; base < len(ops); base += probeGroup {
		n := min(probeGroup, len(ops)-base)
		for t := 0; t < n; t++ {
			keys[t] = ops[base+t].Eroute.Selector.Key()
			hashes[t] = hashKey(seed, &keys[t])
		}
		x.ReadAhead(hashes[:n])
		for t := 0; t < n; t++ {
			if ops[base+t].Kind == eroute.OpClear {
				continue // names no selector
			}
			k := &keys[t]
			if x.Find(hashes[t], func(o int) bool { return ops[o].Eroute.Selector.Key() == *k }) >= 0 {
				if _, err := bySelector(ops); err != nil {
					return err // bySelector words it: the earliest repeat
				}
			}
			x.Insert(hashes[t], base+t)
		}
	}
	return nil
}

// hashKey hashes a selector's key. A variable: the tests put a hash in
// its place that collides, so that the probing and the comparison of
// keys behind equal hashes are seen to work.
var hashKey = func(seed maphash.Seed, k *eroute.Key) uint64 { return maphash.Bytes(seed, k[:]) }

// probeGroup is how many selectors go into the index together.
const probeGroup = 16

func checkBatchRequest(req Request, allowed map[Action]bool) error {
	switch {
	case req.Netns != "" || req.Label != "" || req.Debug || req.JSON:
		return errors.New("--netns, --label, --debug and --json go on the command line, not in a batch line")
	case !allowed[req.Action]:
		return errors.New(allowedText(allowed))
	}
	return nil
}

// allowedText names the commands a line may be, from the table: "a batch
// line must be an --add, --replace, --del or --clear command".
func allowedText(allowed map[Action]bool) string {
	lead := "a batch line"
	if !allowed[Replace] {
		lead = "a --sync line"
	}
	var names []string
	for _, c := range commands {
		if allowed[c.action] {
			names = append(names, "--"+c.name())
		}
	}
	return lead + " must be an " + joinList(names, "or") + " command"
}

// A --batch or --sync run has a soft memory limit of a base and so much
// for each line checked so far, raised as the lines come in: a run of a
// million lines gets what it needs, and the collector is never held under
// a limit the work has outgrown (a fixed 32 MiB made it run without pause
// from about 140,000 lines on). A --batch line holds about 165 bytes once
// checked (its op, 128 and the slice's 5% slack; its selector's hash in
// findDuplicate's set, 16 at most; its place in the order of sends, 12)
// and makes as much garbage while it is read: 384 bytes a line leave the
// collector room. --sync keeps the table's snapshot too (72 bytes a
// policy) and its index (16 at most): 512 bytes a line. Both run with the
// collector off until the limit: reading a line makes no garbage, and a
// collection while the lines are read would read every page of the ops'
// slice that the parsers had not written yet, each of which then costs
// a second fault, a copy and an interrupt to the other core when it is
// written (on this VM, 10,000 of 25,000 page faults of a --batch of
// 300,000, and a third of --sync's time). GOGC or GOMEMLIMIT, when set,
// win. See docs/PERFORMANCE.md for the figures.
const (
	memoryBase         = 24 << 20
	batchMemoryPerLine = 384
	syncMemoryPerLine  = 512
)

// memoryBudget is the soft memory limit of a run; nil is no budget.
type memoryBudget struct {
	perLine    int64
	oldLimit   int64
	oldPercent int
	collectOff bool
}

// startBudget sets the limit for the run (perLine 0: memoryBase alone, as
// the monitor has); collectOff also holds the collector off until the
// limit is reached (--batch and --sync: see above).
// The returned budget's stop puts back the settings before it (the
// command line runs in tests and fuzzing too).
func startBudget(perLine int64, collectOff bool) *memoryBudget {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	m := &memoryBudget{perLine: perLine, oldLimit: debug.SetMemoryLimit(memoryBase), oldPercent: -2, collectOff: collectOff}
	if collectOff {
		m.oldPercent = debug.SetGCPercent(-1)
	}
	return m
}

// lines raises the limit to what n checked lines may take.
func (m *memoryBudget) lines(n int) {
	if m != nil {
		debug.SetMemoryLimit(memoryBase + m.perLine*int64(n))
	}
}

func (m *memoryBudget) stop() {
	if m == nil {
		return
	}
	if m.collectOff {
		debug.SetGCPercent(m.oldPercent)
	}
	debug.SetMemoryLimit(m.oldLimit)
}

// runBatch carries out --batch FILE: all lines, or none.
func runBatch(req Request, env Env, t Table) error {
	budget := startBudget(batchMemoryPerLine, true)
	defer budget.stop()
	ops, err := env.Parser.parseBatch(req.File, env.Stdin, batchActions, budget)
	if err == nil {
		err = findDuplicate(ops)
	}
	if err != nil {
		return fileError("--batch", req.File, err)
	}
	unlock, err := lockWriters(req, env)
	if err != nil {
		return err
	}
	defer unlock()
	return applyAll(t, t, ops, "--batch", req.File)
}

// applier is what applyAll applies ops with: a Table or a Snapshot.
type applier interface{ Apply([]Op) error }

// untilApplier is an applier that can stop early and undo what it applied
// (the kernel's table can): ApplyUntil returns a *BatchError with Index -1
// when stop was closed before the end and the table is as it was.
type untilApplier interface {
	ApplyUntil(stop <-chan struct{}, ops []Op) error
}

// applyAll sends ops. SIGINT, SIGTERM or SIGHUP meanwhile stops the apply
// (within the few microseconds of work the driver does between two looks)
// and undoes what was applied, and says so: status 1, the table as it was.
// A signal that comes once everything was sent is reported too, as a
// table fully changed. Either way the table is never left between before
// and after (but for SIGKILL, which no process can catch: see DESIGN.md).
func applyAll(t applier, table Table, ops []Op, option, file string) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	stop, done := make(chan struct{}), make(chan struct{})
	caught := make(chan os.Signal, 1)
	go func() {
		select {
		case s := <-sigs:
			caught <- s
			close(stop)
		case <-done:
			close(caught)
		}
	}()
	var err error
	if u, ok := t.(untilApplier); ok {
		err = u.ApplyUntil(stop, ops)
	} else {
		err = t.Apply(ops)
	}
	close(done)
	sig := signalName(<-caught)
	var be *BatchError
	switch {
	case errors.As(err, &be) && be.Index >= 0 && be.Index < len(ops) && ops[be.Index].Line == 0:
		// A delete --sync planned: no line of the file asked for it.
		return fileError(option, file, fmt.Errorf("deleting %s, which the file lacks: %v (nothing was changed)",
			ops[be.Index].Eroute.Selector, lineRefusal(table, ops[be.Index], be.Err)))
	case errors.As(err, &be) && be.Index >= 0 && be.Index < len(ops):
		return fileError(option, file, fmt.Errorf("line %d: %v (nothing was changed)", ops[be.Index].Line, lineRefusal(table, ops[be.Index], be.Err)))
	case errors.As(err, &be) && sig != "":
		return fmt.Errorf("%s %s: %s received while applying: stopped, and what was applied was undone (nothing was changed)", option, file, sig)
	case err != nil && sig != "":
		return fmt.Errorf("%s %s: %s received while applying: %v", option, file, sig, err)
	case err != nil:
		return err
	case sig != "":
		return fmt.Errorf("%s %s: %s received while applying; the whole file was applied", option, file, sig)
	}
	return nil
}

// signalName names a signal as kill(1) does; "" for none.
func signalName(s os.Signal) string {
	switch s {
	case nil:
		return ""
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// opOptions are the options of the batch ops, for messages.
var opOptions = map[eroute.OpKind]string{eroute.OpAdd: "--add", eroute.OpReplace: "--replace",
	eroute.OpDelete: "--del", eroute.OpClear: "--clear"}

// lineRefusal completes the reason a batch line was refused: the option
// --force would let act on a foreign policy, or the foreign policy that
// holds the selector an --add found in use.
func lineRefusal(t Table, op Op, err error) error {
	var fe *ForeignError
	if errors.As(err, &fe) {
		fe.Option = opOptions[op.Kind]
		return fe
	}
	if op.Kind == eroute.OpAdd && t != nil && strings.HasPrefix(err.Error(), msgInUse) {
		if h, ok, lerr := t.Lookup(op.Eroute.Selector, false); lerr == nil && ok && !h.Own {
			return fmt.Errorf("%v (the selector belongs to a policy eroute did not make: %s)", err, h.ListingText())
		}
	}
	return err
}

func fileError(option, file string, err error) error {
	return fmt.Errorf("%s %s: %v", option, file, err)
}
