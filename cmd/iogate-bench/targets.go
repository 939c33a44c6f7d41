package main

import (
	"fmt"
	"io"
)

// Performance targets on a 2-core machine with the load generator on the same machine.
const (
	targetTokensPerSecond     = 15_000
	targetTokenP99Ms          = 5.0
	targetVaultsVsBaseline    = 0.8
	targetCachedVerifyNs      = 2_000
	targetCachedVerifyAllocs  = 5
	targetScaleStartupSeconds = 10.0
	targetScaleRSSBytes       = 600_000_000
	targetScaleMinRatio       = 0.9
)

// check is one row of the targets table.
type check struct {
	what, required, measured string
	// status is "met", "not met" or "not measured".
	status string
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

func (p *page) writeTargets(w io.Writer) {
	var checks []check
	token := findSummary(p.main.Summaries, scenarioToken, "iogate")
	if token != nil && token.Runs > 0 {
		checks = append(checks, check{
			"Token issuance, `/v1/auth/accessToken`, TLS, SQLite",
			fmt.Sprintf("≥ %d tokens/s, p99 < %g ms", targetTokensPerSecond, targetTokenP99Ms),
			fmt.Sprintf("%.0f tokens/s, p99 %.2f ms", token.RequestsPerSecond, token.LatencyMs.P99),
			verdict(token.RequestsPerSecond >= targetTokensPerSecond && token.LatencyMs.P99 < targetTokenP99Ms),
		})
	} else {
		checks = append(checks, check{"Token issuance", fmt.Sprintf("≥ %d tokens/s", targetTokensPerSecond), "-", "not measured"})
	}
	vaults := findSummary(p.main.Summaries, scenarioVaults, "iogate")
	if vaults != nil && vaults.VsBaseline > 0 {
		checks = append(checks, check{
			"Authenticated `GET /v1/vaults` vs the baseline",
			fmt.Sprintf("≥ %.1f", targetVaultsVsBaseline),
			fmt.Sprintf("%.2f", vaults.VsBaseline),
			verdict(vaults.VsBaseline >= targetVaultsVsBaseline),
		})
	} else {
		checks = append(checks, check{"`GET /v1/vaults` vs the baseline", fmt.Sprintf("≥ %.1f", targetVaultsVsBaseline), "-", "not measured"})
	}
	checks = append(checks, p.cachedVerifyCheck())
	checks = append(checks, p.scaleChecks()...)

	fmt.Fprintf(w, "## Against the targets\n\n| Target | Required | Measured | |\n| --- | --- | --- | --- |\n")
	for _, c := range checks {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", c.what, c.required, c.measured, c.status)
	}
	fmt.Fprintln(w)
}

func (p *page) cachedVerifyCheck() check {
	c := check{what: "Cached bearer verification (Go benchmark)", required: fmt.Sprintf("< %d ns, < %d allocs", targetCachedVerifyNs, targetCachedVerifyAllocs), measured: "-", status: "not measured"}
	for _, g := range p.goBench {
		if g.name == "BenchmarkAuthenticateCached" && g.runs > 0 {
			c.measured = fmt.Sprintf("%.0f ns, %.0f allocs", g.nsPerOp, g.allocsPerOp)
			c.status = verdict(g.nsPerOp < targetCachedVerifyNs && g.allocsPerOp < targetCachedVerifyAllocs)
		}
	}
	return c
}

func (p *page) scaleChecks() []check {
	if p.scale == nil || len(p.scale.Startups) < 2 {
		return []check{{"Scale", "1,000,000 keys", "-", "not measured"}}
	}
	base, big := p.scale.Startups[0], p.scale.Startups[len(p.scale.Startups)-1]
	var peak int64
	for _, s := range p.scale.Summaries {
		if s.Keys == big.Keys {
			peak = max(peak, s.ServerPeakRSSBytes)
		}
	}
	peak = max(peak, big.RSSAfterStartBytes)
	checks := []check{
		{fmt.Sprintf("Start-up with %d keys", big.Keys), fmt.Sprintf("< %g s", targetScaleStartupSeconds), fmt.Sprintf("%.2f s", big.StartupSeconds), verdict(big.StartupSeconds < targetScaleStartupSeconds)},
		{fmt.Sprintf("Peak RSS with %d keys", big.Keys), fmt.Sprintf("< %d MB", targetScaleRSSBytes/1_000_000), megabytes(peak), verdict(peak < targetScaleRSSBytes)},
	}
	for _, sc := range scaleScenarios(p.scale) {
		b, n := scaleRPS(p.scale, base.Keys, sc), scaleRPS(p.scale, big.Keys, sc)
		if b == 0 {
			continue
		}
		checks = append(checks, check{
			fmt.Sprintf("`%s` throughput, %d vs %d keys", sc, big.Keys, base.Keys),
			fmt.Sprintf("≥ %.2f", targetScaleMinRatio),
			fmt.Sprintf("%.2f", n/b),
			verdict(n/b >= targetScaleMinRatio),
		})
	}
	return checks
}

func findSummary(summaries []*Summary, scenario, target string) *Summary {
	for _, s := range summaries {
		if s.Scenario == scenario && s.Target == target {
			return s
		}
	}
	return nil
}
