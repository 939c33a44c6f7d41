package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/pprof/profile"
)

// cpuCategory is a part of the server's work, found in a CPU profile by the functions that
// do it: a sample counts towards the category when one of them is on its stack.
type cpuCategory struct {
	name      string
	functions []string
}

// cpuCategories are the parts of a request's cost that the page breaks a profile into. A
// category's share includes everything its functions call, so shares overlap where one
// category calls another (the HTTP handler calls the signing, for example).
var cpuCategories = []cpuCategory{
	{"Reading requests: TLS decryption, HTTP parsing", []string{"net/http.(*conn).readRequest"}},
	{"HTTP handler, middleware and access log included", []string{"net/http.serverHandler.ServeHTTP"}},
	{"· access-log line (JSON, redaction check)", []string{"github.com/iogate/iogate/http.(*Server).logRequest"}},
	{"· bearer token verification", []string{"github.com/iogate/iogate/auth.(*Service).Authenticate"}},
	{"· client secret hash (HMAC-SHA-256)", []string{"github.com/iogate/iogate.(*SecretHasher).Hash"}},
	{"· token signing (Ed25519 by default)", []string{"github.com/iogate/iogate/token.(*Keyring).Sign"}},
	{"Writing responses: TLS encryption, write(2)", []string{"net/http.(*response).finishRequest"}},
	{"Audit group commit: SQLite inserts, WAL writes, fsync", []string{"github.com/iogate/iogate/auth.(*auditCommitter).write"}},
	{"WAL checkpoints in the background", []string{"github.com/iogate/iogate/sqlite.(*DB).runCheckpoints"}},
	{"Last-used times, written once a second", []string{"github.com/iogate/iogate/auth.(*useRecorder).flush"}},
	{"Token records indexed by key", []string{"github.com/iogate/iogate/sqlite.(*DB).runTokenIndex"}},
	{"Log lines written in batches (write(2))", []string{"github.com/iogate/iogate/internal/logging.(*BufferedWriter).Flush"}},
	{"Garbage collection", []string{"runtime.gcBgMarkWorker", "runtime.gcAssistAlloc", "runtime.bgsweep"}},
}

// cpuShares is the breakdown of one CPU profile.
type cpuShares struct {
	label   string
	file    string
	seconds float64
	// shares holds each category's share of the profile's CPU time, in cpuCategories
	// order.
	shares []float64
}

// readCPUShares reads a CPU profile and returns the share of its CPU time that each of
// cpuCategories takes.
func readCPUShares(path string) (*cpuShares, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	valueIndex := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			valueIndex = i
		}
	}
	if valueIndex < 0 {
		return nil, fmt.Errorf("%s is not a CPU profile", path)
	}
	categoryOf := make(map[string]int)
	for i, c := range cpuCategories {
		for _, fn := range c.functions {
			categoryOf[fn] = i
		}
	}
	var total int64
	sums := make([]int64, len(cpuCategories))
	for _, s := range p.Sample {
		v := s.Value[valueIndex]
		total += v
		seen := make(map[int]bool)
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				if line.Function == nil {
					continue
				}
				if i, ok := categoryOf[line.Function.Name]; ok && !seen[i] {
					seen[i] = true
					sums[i] += v
				}
			}
		}
	}
	out := &cpuShares{file: filepath.Base(path), seconds: float64(total) / 1e9, shares: make([]float64, len(sums))}
	if total > 0 {
		for i, v := range sums {
			out.shares[i] = float64(v) / float64(total)
		}
	}
	return out, nil
}

// profilesOf returns the breakdown of the profiles that the measurements of r name, read
// from dir, for the measurements that keep returns true for. A profile that cannot be
// read is reported on stderr and left out.
func profilesOf(r *Report, dir string, keep func(*Measurement) bool, stderr io.Writer) []*cpuShares {
	var out []*cpuShares
	for _, m := range r.Measurements {
		if m.Profile == "" || !keep(m) {
			continue
		}
		s, err := readCPUShares(filepath.Join(dir, m.Profile))
		if err != nil {
			fmt.Fprintf(stderr, "leaving out CPU profile %s: %v\n", m.Profile, err)
			continue
		}
		s.label = fmt.Sprintf("%s, %d keys, first run: %.0f req/s", m.Scenario, m.Keys, m.RequestsPerSecond)
		out = append(out, s)
	}
	return out
}

func (p *page) writeProfiles(w io.Writer) {
	if len(p.profiles) == 0 && p.analysis == "" {
		return
	}
	fmt.Fprintf(w, "## Where the server's CPU time goes\n\n")
	if len(p.profiles) > 0 {
		fmt.Fprintf(w, "CPU profiles of iogate during the first run of each scenario (built with `-tags pprof`; the\n")
		fmt.Fprintf(w, "profiles are in `%s`, readable with `go tool pprof -top FILE`). Each cell is the share\n", p.profileDir)
		fmt.Fprintf(w, "of the server's CPU time spent in the category and everything it calls, so shares overlap where\n")
		fmt.Fprintf(w, "one category calls another; the rows marked · are parts of the handler row.\n\n")
		fmt.Fprintf(w, "| |")
		for _, s := range p.profiles {
			fmt.Fprintf(w, " %s |", s.label)
		}
		fmt.Fprintf(w, "\n| --- |%s\n", strings.Repeat(" ---: |", len(p.profiles)))
		for i, c := range cpuCategories {
			fmt.Fprintf(w, "| %s |", c.name)
			for _, s := range p.profiles {
				fmt.Fprintf(w, " %.0f%% |", 100*s.shares[i])
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "| CPU seconds in the profile |")
		for _, s := range p.profiles {
			fmt.Fprintf(w, " %.1f |", s.seconds)
		}
		fmt.Fprintf(w, "\n\n")
	}
	if p.analysis != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(p.analysis))
	}
}
