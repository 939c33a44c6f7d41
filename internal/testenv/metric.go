package testenv

import (
	"bufio"
	"strconv"
	"strings"
	"testing"
)

// MetricValue returns the value of the sample named series (a metric name with its
// labels, as the text format writes them) in text, the body of a /metrics response, or
// fails the test when there is none.
func MetricValue(t testing.TB, text, series string) float64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && name == series {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("metric %s has value %q", series, value)
			}
			return v
		}
	}
	t.Fatalf("no metric %s in /metrics", series)
	return 0
}
