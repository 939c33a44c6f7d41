package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/pprof/profile"
)

func TestReadCPUSharesCountsEachStackOnce(t *testing.T) {
	fn := func(id uint64, name string) *profile.Function { return &profile.Function{ID: id, Name: name} }
	serve := fn(1, "net/http.serverHandler.ServeHTTP")
	sign := fn(2, "github.com/iogate/iogate/token.(*Keyring).Sign")
	read := fn(3, "net/http.(*conn).readRequest")
	other := fn(4, "main.elsewhere")
	loc := func(id uint64, f *profile.Function) *profile.Location {
		return &profile.Location{ID: id, Line: []profile.Line{{Function: f}}}
	}
	lServe, lSign, lRead, lOther := loc(1, serve), loc(2, sign), loc(3, read), loc(4, other)
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Sample: []*profile.Sample{
			// Signing inside the handler, with the handler twice on the stack.
			{Location: []*profile.Location{lSign, lServe, lServe}, Value: []int64{1, 3e9}},
			{Location: []*profile.Location{lServe}, Value: []int64{1, 1e9}},
			{Location: []*profile.Location{lRead}, Value: []int64{1, 2e9}},
			{Location: []*profile.Location{lOther}, Value: []int64{1, 4e9}},
		},
		Location: []*profile.Location{lServe, lSign, lRead, lOther},
		Function: []*profile.Function{serve, sign, read, other},
	}
	path := filepath.Join(t.TempDir(), "cpu.pb.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()

	got, err := readCPUShares(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.seconds != 10 {
		t.Errorf("CPU seconds = %g, want 10", got.seconds)
	}
	want := map[string]float64{
		"net/http.serverHandler.ServeHTTP":                      0.4,
		"github.com/iogate/iogate/token.(*Keyring).Sign":        0.3,
		"net/http.(*conn).readRequest":                          0.2,
		"github.com/iogate/iogate/auth.(*auditCommitter).write": 0,
	}
	for i, c := range cpuCategories {
		w, ok := want[c.functions[0]]
		if !ok {
			continue
		}
		if d := got.shares[i] - w; d > 1e-9 || d < -1e-9 {
			t.Errorf("share of %q = %g, want %g", c.name, got.shares[i], w)
		}
	}
}
