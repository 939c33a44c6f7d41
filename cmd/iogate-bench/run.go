package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Report is everything one invocation measured, as --json prints it and the report
// subcommand reads it.
type Report struct {
	Machine  Machine  `json:"machine"`
	Command  string   `json:"command"`
	Settings Settings `json:"settings"`
	Started  string   `json:"started"`
	Finished string   `json:"finished"`
	// LoadAverage is /proc/loadavg's 1-minute figure before and after the runs; other
	// work on the machine shows here.
	LoadAverageBefore float64 `json:"loadAverageBefore"`
	LoadAverageAfter  float64 `json:"loadAverageAfter"`

	// Startups describe each iogate the harness started: one, or one per key count in
	// scale mode.
	Startups     []*Startup     `json:"startups,omitempty"`
	Measurements []*Measurement `json:"measurements"`
	Summaries    []*Summary     `json:"summaries"`
}

// Settings are the flags that shape the figures.
type Settings struct {
	Clients        int      `json:"clients"`
	Seconds        float64  `json:"seconds"`
	WarmupSeconds  float64  `json:"warmupSeconds"`
	Runs           int      `json:"runs"`
	Scenarios      []string `json:"scenarios"`
	Target         string   `json:"target"`
	KeyCounts      []int    `json:"keyCounts"`
	LoadKeys       int      `json:"loadKeys"`
	Vaults         int      `json:"vaults,omitempty"`
	ServerLogLevel string   `json:"serverLogLevel,omitempty"`
	ServeFlags     []string `json:"serveFlags,omitempty"`
	ChurnInterval  string   `json:"churnInterval,omitempty"`
	TokenShare     float64  `json:"tokenShare,omitempty"`
	Baseline       bool     `json:"baseline"`
}

// runBenchmark measures every scenario --runs times, on one server, or in scale mode on a
// fresh server per key count. Progress goes to log.
func runBenchmark(ctx context.Context, cfg *config, args []string, log io.Writer) (*Report, error) {
	rep := &Report{
		Machine: readMachine(),
		Command: strings.TrimSpace("iogate-bench " + strings.Join(args, " ")),
		Started: time.Now().UTC().Format(time.RFC3339),
		Settings: Settings{
			Clients: cfg.clients, Seconds: cfg.duration.Seconds(), WarmupSeconds: cfg.warmup.Seconds(), Runs: cfg.runs,
			Scenarios: cfg.scenarios, LoadKeys: cfg.loadKeys, Baseline: cfg.baseline,
		},
		LoadAverageBefore: loadAverage(),
	}
	keyCounts := []int{cfg.keyCount}
	if cfg.scale > 0 {
		keyCounts = append(keyCounts, cfg.scale)
	}
	if cfg.start {
		rep.Settings.Target = "iogate started by the harness"
		rep.Settings.KeyCounts = keyCounts
		rep.Settings.Vaults = cfg.vaultCount
		rep.Settings.ServerLogLevel = cfg.serverLogLevel
		rep.Settings.ServeFlags = cfg.serveFlags
	} else {
		rep.Settings.Target = cfg.url
		keyCounts = []int{0}
	}
	if slices.Contains(cfg.scenarios, scenarioMixed) {
		rep.Settings.ChurnInterval = cfg.churnInterval.String()
		rep.Settings.TokenShare = cfg.tokenShare
	}

	// Every server stays up until the end, so that the runs at each key count can take
	// turns and a busy phase of the machine does not fall on one key count only.
	var benches []*bench
	defer func() {
		for _, b := range benches {
			b.close()
		}
	}()
	for _, keys := range keyCounts {
		b, err := openBench(ctx, cfg, keys, log)
		if err != nil {
			return nil, err
		}
		benches = append(benches, b)
		if b.startup != nil {
			rep.Startups = append(rep.Startups, b.startup)
		}
	}
	ms, err := runAll(ctx, cfg, benches, log)
	if err != nil {
		return nil, err
	}
	rep.Measurements = ms
	rep.Summaries = summarize(rep.Measurements)
	rep.Finished = time.Now().UTC().Format(time.RFC3339)
	rep.LoadAverageAfter = loadAverage()
	return rep, nil
}

// runAll runs every scenario cfg.runs times on every bench, interleaved so that a slow
// phase of the machine spreads over all scenarios and key counts: run by run, scenario by
// scenario, the benches take turns, alternating which goes first. In each run the vaults
// scenario is measured on the server and on the baseline one after the other, alternating
// which goes first as well.
func runAll(ctx context.Context, cfg *config, benches []*bench, log io.Writer) ([]*Measurement, error) {
	var out []*Measurement
	unavailable := make(map[string]bool)
	for run := 1; run <= cfg.runs; run++ {
		for _, scenario := range cfg.scenarios {
			order := slices.Clone(benches)
			if run%2 == 0 {
				slices.Reverse(order)
			}
			for _, b := range order {
				if unavailable[scenario] {
					continue
				}
				ms, err := b.runScenario(ctx, scenario, run, unavailable, log)
				if err != nil {
					return nil, err
				}
				out = append(out, ms...)
			}
		}
	}
	return out, nil
}

// runScenario measures scenario once on b's server, and on the baseline for the vaults
// scenario. It marks the scenario in unavailable when the server does not serve it.
func (b *bench) runScenario(ctx context.Context, scenario string, run int, unavailable map[string]bool, log io.Writer) ([]*Measurement, error) {
	var out []*Measurement
	targets := []*target{b.target}
	if scenario == scenarioVaults && b.baseline != nil {
		targets = append(targets, b.baseline)
		if run%2 == 0 {
			slices.Reverse(targets)
		}
	}
	for _, t := range targets {
		m, err := b.measure(ctx, scenario, t, run)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
		if m.Unavailable != "" {
			unavailable[scenario] = true
			fmt.Fprintf(log, "%s: skipped: %s\n", scenario, m.Unavailable)
			continue
		}
		commit := ""
		if m.AuditCommitMs > 0 {
			commit = fmt.Sprintf(", %.1f audit records per commit of %.2f ms", m.AuditRecordsPerCommit, m.AuditCommitMs)
		}
		fmt.Fprintf(log, "run %d/%d %s on %s (%d keys): %.0f requests/s, p99 %.2f ms, errors %d%s\n",
			run, b.cfg.runs, scenario, t.name, b.keys, m.RequestsPerSecond, m.LatencyMs.P99, m.Responses-m.OK, commit)
	}
	return out, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
