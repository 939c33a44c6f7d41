package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// auditCommits is the state of iogate's iogate_audit_commit_records and
// iogate_audit_commit_seconds histograms at one moment: records written by group commits so
// far, commits, and the seconds those commits took.
type auditCommits struct {
	records, commits, seconds float64
}

// readAuditCommits reads the histograms from the Prometheus text served at metricsURL, an
// admin listener on loopback that the harness started.
func readAuditCommits(ctx context.Context, metricsURL string) (auditCommits, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return auditCommits{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return auditCommits{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return auditCommits{}, fmt.Errorf("GET %s: status %d", metricsURL, resp.StatusCode)
	}

	var a auditCommits
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		var dst *float64
		switch name {
		case "iogate_audit_commit_records_sum":
			dst = &a.records
		case "iogate_audit_commit_records_count":
			dst = &a.commits
		case "iogate_audit_commit_seconds_sum":
			dst = &a.seconds
		default:
			continue
		}
		if *dst, err = strconv.ParseFloat(value, 64); err != nil {
			return auditCommits{}, fmt.Errorf("%s: %w", name, err)
		}
		found++
	}

	if err := sc.Err(); err != nil {
		return auditCommits{}, err
	}
	if found != 3 {
		return auditCommits{}, fmt.Errorf("%s is missing the iogate_audit_commit_records or iogate_audit_commit_seconds histogram", metricsURL)
	}
	return a, nil
}

// perCommit returns the records per commit between a and later state b, or 0 when no
// commit happened in between.
func (a auditCommits) perCommit(b auditCommits) float64 {
	if b.commits <= a.commits {
		return 0
	}
	return (b.records - a.records) / (b.commits - a.commits)
}

// meanSeconds returns the mean duration of the commits between a and later state b, or 0
// when no commit happened in between.
func (a auditCommits) meanSeconds(b auditCommits) float64 {
	if b.commits <= a.commits {
		return 0
	}
	return (b.seconds - a.seconds) / (b.commits - a.commits)
}
