package main

import (
	"maps"
	"slices"
)

// Measurement is one run of one scenario against one target.
type Measurement struct {
	Scenario string `json:"scenario"`
	// Target is "iogate", "baseline", or "server" for a --url target.
	Target  string `json:"target"`
	Run     int    `json:"run"`
	Keys    int    `json:"keys"`
	Clients int    `json:"clients"`
	// Unavailable says why the scenario was skipped, such as a token endpoint that
	// answered 404; the other fields are then empty.
	Unavailable string `json:"unavailable,omitempty"`

	Seconds   float64 `json:"seconds"`
	Responses int64   `json:"responses"`
	OK        int64   `json:"ok"`
	// RequestsPerSecond counts 2xx responses only.
	RequestsPerSecond float64          `json:"requestsPerSecond"`
	LatencyMs         Latency          `json:"latencyMs"`
	Errors            map[string]int64 `json:"errors,omitempty"`
	LastError         string           `json:"lastError,omitempty"`

	// CPU seconds (user plus system) of the server and of the harness per 1,000
	// responses. The server's is absent when its process ID is unknown.
	ServerCPUPer1000 *float64 `json:"serverCpuSecondsPer1000,omitempty"`
	ClientCPUPer1000 float64  `json:"clientCpuSecondsPer1000"`
	// ServerPeakRSSBytes is the server's VmHWM at the end of the run: its peak resident
	// memory since it started.
	ServerPeakRSSBytes int64 `json:"serverPeakRssBytes,omitempty"`

	// AuditRecordsPerCommit is the mean number of audit records per group commit during
	// the window, from iogate_audit_commit_records of an iogate that the harness started.
	// It is absent for other targets and when nothing was committed.
	AuditRecordsPerCommit float64 `json:"auditRecordsPerCommit,omitempty"`
	// AuditCommitMs is the mean duration of those group commits, from
	// iogate_audit_commit_seconds: the SQLite transaction, its WAL writes and its fsync.
	AuditCommitMs float64 `json:"auditCommitMs,omitempty"`

	Churn *ChurnStats `json:"churn,omitempty"`
	// Profile is the file name, in the --profile-dir directory, of a CPU profile of the
	// server taken during the measured window.
	Profile string `json:"profile,omitempty"`
}

// Latency holds response-time percentiles in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

func newMeasurement(scenario string, t *target, run, keys, clients int, r *loadResult) *Measurement {
	m := &Measurement{
		Scenario:  scenario,
		Target:    t.name,
		Run:       run,
		Keys:      keys,
		Clients:   clients,
		Seconds:   r.window.Seconds(),
		Responses: int64(len(r.latencies)),
		OK:        r.ok(),
		Errors:    r.errorCounts(),
	}
	if r.window > 0 {
		m.RequestsPerSecond = float64(m.OK) / r.window.Seconds()
	}
	if n := len(r.latencies); n > 0 {
		m.LatencyMs = Latency{
			P50:  ms(percentile(r.latencies, 0.50)),
			P90:  ms(percentile(r.latencies, 0.90)),
			P99:  ms(percentile(r.latencies, 0.99)),
			P999: ms(percentile(r.latencies, 0.999)),
			Max:  ms(r.latencies[n-1]),
		}
	}
	if r.lastErr != nil {
		m.LastError = r.lastErr.Error()
	}
	m.AuditRecordsPerCommit = r.auditPerCommit
	m.AuditCommitMs = r.auditCommitSeconds * 1000
	if thousands := float64(m.Responses) / 1000; thousands > 0 {
		if t.pid != 0 {
			v := r.serverCPU.Seconds() / thousands
			m.ServerCPUPer1000 = &v
		}
		m.ClientCPUPer1000 = r.clientCPU.Seconds() / thousands
	}
	m.ServerPeakRSSBytes = r.server.PeakRSS
	return m
}

// Summary is the median over the runs of one scenario, target and key count.
type Summary struct {
	Scenario    string `json:"scenario"`
	Target      string `json:"target"`
	Keys        int    `json:"keys"`
	Runs        int    `json:"runs"`
	Unavailable string `json:"unavailable,omitempty"`

	RequestsPerSecond float64  `json:"requestsPerSecond"`
	LatencyMs         Latency  `json:"latencyMs"`
	ServerCPUPer1000  *float64 `json:"serverCpuSecondsPer1000,omitempty"`
	ClientCPUPer1000  float64  `json:"clientCpuSecondsPer1000"`
	// ServerPeakRSSBytes is the highest of the runs.
	ServerPeakRSSBytes int64 `json:"serverPeakRssBytes,omitempty"`
	// Errors and Responses are totals over the runs.
	Responses int64            `json:"responses"`
	Errors    map[string]int64 `json:"errors,omitempty"`
	// VsBaseline is the median over the runs of this target's throughput divided by the
	// baseline server's in the same run; set for the vaults scenario with --baseline.
	VsBaseline float64 `json:"vsBaseline,omitempty"`
	// AuditRecordsPerCommit and AuditCommitMs are the medians over the runs of
	// Measurement's fields.
	AuditRecordsPerCommit float64 `json:"auditRecordsPerCommit,omitempty"`
	AuditCommitMs         float64 `json:"auditCommitMs,omitempty"`

	Deletions          int      `json:"deletions,omitempty"`
	Rotations          int      `json:"rotations,omitempty"`
	RevocationMaxMs    float64  `json:"revocationMaxMs,omitempty"`
	NotRevoked         int      `json:"notRevoked,omitempty"`
	ChurnErrors        []string `json:"churnErrors,omitempty"`
	RevocationMedianMs float64  `json:"revocationMedianMs,omitempty"`
}

// summarize groups measurements by key count, scenario and target, in the order they
// first appear, and takes the median of each figure.
func summarize(ms []*Measurement) []*Summary {
	type group struct {
		keys             int
		scenario, target string
	}
	var order []group
	groups := make(map[group][]*Measurement)
	for _, m := range ms {
		g := group{m.Keys, m.Scenario, m.Target}
		if _, seen := groups[g]; !seen {
			order = append(order, g)
		}
		groups[g] = append(groups[g], m)
	}
	var out []*Summary
	for _, g := range order {
		s := summarizeGroup(groups[g])
		if g.scenario == scenarioVaults && g.target != "baseline" {
			s.VsBaseline = baselineRatio(groups[g], groups[group{g.keys, g.scenario, "baseline"}])
		}
		out = append(out, s)
	}
	return out
}

func summarizeGroup(runs []*Measurement) *Summary {
	first := runs[0]
	s := &Summary{Scenario: first.Scenario, Target: first.Target, Keys: first.Keys, Errors: make(map[string]int64)}
	var measured []*Measurement
	for _, m := range runs {
		if m.Unavailable != "" {
			s.Unavailable = m.Unavailable
			continue
		}
		measured = append(measured, m)
	}
	s.Runs = len(measured)
	if len(measured) == 0 {
		return s
	}
	pick := func(f func(*Measurement) float64) float64 {
		vs := make([]float64, len(measured))
		for i, m := range measured {
			vs[i] = f(m)
		}
		return median(vs)
	}
	s.RequestsPerSecond = pick(func(m *Measurement) float64 { return m.RequestsPerSecond })
	s.LatencyMs = Latency{
		P50:  pick(func(m *Measurement) float64 { return m.LatencyMs.P50 }),
		P90:  pick(func(m *Measurement) float64 { return m.LatencyMs.P90 }),
		P99:  pick(func(m *Measurement) float64 { return m.LatencyMs.P99 }),
		P999: pick(func(m *Measurement) float64 { return m.LatencyMs.P999 }),
		Max:  pick(func(m *Measurement) float64 { return m.LatencyMs.Max }),
	}
	if first.ServerCPUPer1000 != nil {
		v := pick(func(m *Measurement) float64 { return *m.ServerCPUPer1000 })
		s.ServerCPUPer1000 = &v
	}
	s.ClientCPUPer1000 = pick(func(m *Measurement) float64 { return m.ClientCPUPer1000 })
	s.AuditRecordsPerCommit = pick(func(m *Measurement) float64 { return m.AuditRecordsPerCommit })
	s.AuditCommitMs = pick(func(m *Measurement) float64 { return m.AuditCommitMs })
	var revocations []float64
	for _, m := range measured {
		s.ServerPeakRSSBytes = max(s.ServerPeakRSSBytes, m.ServerPeakRSSBytes)
		s.Responses += m.Responses
		for k, v := range m.Errors {
			s.Errors[k] += v
		}
		if c := m.Churn; c != nil {
			s.Deletions += c.Deletions
			s.Rotations += c.Rotations
			s.NotRevoked += c.NotRevoked
			s.RevocationMaxMs = max(s.RevocationMaxMs, c.RevocationMaxMs)
			if c.Deletions > c.NotRevoked {
				revocations = append(revocations, c.RevocationMedianMs)
			}
			for _, e := range c.Errors {
				if !slices.Contains(s.ChurnErrors, e) {
					s.ChurnErrors = append(s.ChurnErrors, e)
				}
			}
		}
	}
	if len(revocations) > 0 {
		s.RevocationMedianMs = median(revocations)
	}
	if len(s.Errors) == 0 {
		s.Errors = nil
	}
	return s
}

// baselineRatio pairs the runs of a target with the baseline's runs of the same number
// and returns the median of the throughput ratios.
func baselineRatio(runs, baseline []*Measurement) float64 {
	byRun := make(map[int]*Measurement)
	for _, m := range baseline {
		if m.Unavailable == "" && m.RequestsPerSecond > 0 {
			byRun[m.Run] = m
		}
	}
	var ratios []float64
	for _, m := range runs {
		if b, ok := byRun[m.Run]; ok && m.Unavailable == "" {
			ratios = append(ratios, m.RequestsPerSecond/b.RequestsPerSecond)
		}
	}
	if len(ratios) == 0 {
		return 0
	}
	return median(ratios)
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// sortedKeys returns m's keys in order, for stable output.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
