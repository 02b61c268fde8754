package xfrm

import (
	"os"
	"strconv"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
)

// The kernel benchmarks work on a fresh namespace of EROUTE_BENCH_N
// eroutes (10,000 unless set; scripts/bench.sh compares whole commands
// with iproute2 at 100,000):
//
//	go test ./xfrm -run '^$' -bench Kernel -benchtime 5x
//	EROUTE_BENCH_N=100000 go test ./xfrm -run '^$' -bench Kernel -benchtime 3x -cpuprofile cpu.out

func benchN(b *testing.B) int {
	if s := os.Getenv("EROUTE_BENCH_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("EROUTE_BENCH_N=%q", s)
		}
		return n
	}
	return 10000
}

func benchOps(n int) []Op {
	ops := make([]Op, n)
	for i := range ops {
		ops[i] = Op{Kind: eroute.OpAdd, Eroute: genEroute(i)}
	}
	return ops
}

// loadedTable is a fresh namespace's table with benchN eroutes.
func loadedTable(b *testing.B) (*Table, int) {
	tb, _ := openTable(b)
	n := benchN(b)
	if err := tb.Apply(benchOps(n)); err != nil {
		b.Fatal(err)
	}
	return tb, n
}

// BenchmarkKernelApplyAdds: N adds in one Apply, into an empty table.
func BenchmarkKernelApplyAdds(b *testing.B) {
	tb, _ := openTable(b)
	ops := benchOps(benchN(b))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := tb.Apply(ops); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := tb.Clear(true); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ops)), "ns/eroute")
}

// BenchmarkKernelApplySync: what --sync sends for a 1% change of a table
// of N: replaces of host eroutes, deletes of subnet eroutes (by index, the
// kernel's slow case by selector) and adds; applied after the dump
// Table.Apply takes, or from a snapshot taken before the timer (what
// --sync does: it has read the table already).
func BenchmarkKernelApplySync(b *testing.B) {
	for _, via := range []string{"table", "snapshot"} {
		b.Run(via, func(b *testing.B) {
			tb, n := loadedTable(b)
			var ops, back []Op
			for i := 0; i < n; i += 200 {
				e := genEroute(i)
				e.SAID = genSAID(i+1, e.Src.Addr().Is6())
				ops = append(ops, Op{Kind: eroute.OpReplace, Eroute: e})
				ops = append(ops, Op{Kind: eroute.OpDelete, Eroute: genEroute(i + 1)})
				ops = append(ops, Op{Kind: eroute.OpAdd, Eroute: genEroute(n + i)})
				back = append(back, Op{Kind: eroute.OpAdd, Eroute: genEroute(i + 1)}, Op{Kind: eroute.OpDelete, Eroute: genEroute(n + i)})
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				apply := tb.Apply
				if via == "snapshot" {
					s, err := tb.Snapshot()
					if err != nil {
						b.Fatal(err)
					}
					apply = s.Apply
				}
				b.StartTimer()
				if err := apply(ops); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := tb.Apply(back); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkKernelWalk: the listing of N eroutes, without printing.
func BenchmarkKernelWalk(b *testing.B) {
	tb, n := loadedTable(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got := 0
		if err := tb.Walk(func(eroute.Eroute) error { got++; return nil }); err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("walked %d eroutes, want %d", got, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/eroute")
}

// BenchmarkKernelList: List, the slice form.
func BenchmarkKernelList(b *testing.B) {
	tb, n := loadedTable(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if l, err := tb.List(); err != nil || len(l) != n {
			b.Fatalf("List: %d eroutes, %v", len(l), err)
		}
	}
}
