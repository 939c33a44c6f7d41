package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// printReport writes the summaries as a table for a terminal.
func printReport(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "%s, %d CPUs, %s; load average %.2f before, %.2f after\n", rep.Machine.Model, rep.Machine.CPUs,
		rep.Machine.GoVersion, rep.LoadAverageBefore, rep.LoadAverageAfter)
	runs := fmt.Sprintf("medians of %d runs", rep.Settings.Runs)
	if rep.Settings.Runs == 1 {
		runs = "one run"
	}
	fmt.Fprintf(w, "%d clients, %gs measured after %gs warm-up, %s\n\n", rep.Settings.Clients,
		rep.Settings.Seconds, rep.Settings.WarmupSeconds, runs)
	for _, s := range rep.Startups {
		fmt.Fprintf(w, "iogate with %d keys: seeded in %.2fs, started in %.2fs, RSS after start %s\n",
			s.Keys, s.SeedSeconds, s.StartupSeconds, megabytes(s.RSSAfterStartBytes))
	}
	if len(rep.Startups) > 0 {
		fmt.Fprintln(w)
	}

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SCENARIO\tTARGET\tKEYS\tRUNS\tREQ/S\tP50 MS\tP90 MS\tP99 MS\tP99.9 MS\tSERVER CPU S/1K\tCLIENT CPU S/1K\tPEAK RSS\tERRORS\t")
	for _, s := range rep.Summaries {
		if s.Runs == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%.3f\t%s\t%s\t\n",
			s.Scenario, s.Target, s.Keys, s.Runs, s.RequestsPerSecond, s.LatencyMs.P50, s.LatencyMs.P90, s.LatencyMs.P99,
			s.LatencyMs.P999, cpuCell(s.ServerCPUPer1000), s.ClientCPUPer1000, megabytes(s.ServerPeakRSSBytes), errorsCell(s.Errors))
	}
	tw.Flush()

	for _, s := range rep.Summaries {
		if s.Unavailable != "" {
			fmt.Fprintf(w, "\n%s on %s: not measured: %s\n", s.Scenario, s.Target, s.Unavailable)
		}
		if s.VsBaseline > 0 {
			fmt.Fprintf(w, "\n%s on %s with %d keys: %.2f of the baseline's throughput (median of per-run ratios)\n",
				s.Scenario, s.Target, s.Keys, s.VsBaseline)
		}
		if s.Scenario == scenarioMixed && s.Runs > 0 {
			fmt.Fprintf(w, "\nmixed: %d deletions, %d rotations; a deleted key's token was refused after %.1f ms (median), %.1f ms (max); %d not refused within %s\n",
				s.Deletions, s.Rotations, s.RevocationMedianMs, s.RevocationMaxMs, s.NotRevoked, revocationDeadline)
			for _, e := range s.ChurnErrors {
				fmt.Fprintf(w, "mixed: %s\n", e)
			}
		}
	}
}

func cpuCell(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f", *v)
}

// megabytes formats b in decimal megabytes, the unit of the targets.
func megabytes(b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MB", float64(b)/1e6)
}

func errorsCell(errs map[string]int64) string {
	if len(errs) == 0 {
		return "0"
	}
	var parts []string
	for _, k := range sortedKeys(errs) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, errs[k]))
	}
	return strings.Join(parts, " ")
}
