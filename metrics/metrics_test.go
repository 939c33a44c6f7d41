package metrics

import (
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// TestRequestCounts checks that Request counts every request under its listener and
// status, whether its counter is cached (known listener, status 100 to 599) or not, and
// that concurrent first uses of one counter lose no increment.
func TestRequestCounts(t *testing.T) {
	m := New()
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				m.Request("https", 200)
			}
		})
	}
	wg.Wait()
	m.Request("https", 404)
	m.Request("admin", 200)
	m.Request("http", 599)
	m.Request("http", 99)
	m.Request("http", 1000)
	m.Request("other", 200)

	for _, c := range []struct {
		listener, code string
		want           float64
	}{
		{"https", "200", workers * each},
		{"https", "404", 1},
		{"admin", "200", 1},
		{"http", "599", 1},
		{"http", "other", 2},
		{"other", "200", 1},
		{"http", "200", 0},
	} {
		var got dto.Metric
		if err := m.requestsByStatus.WithLabelValues(c.listener, c.code).Write(&got); err != nil {
			t.Fatal(err)
		}
		if got.GetCounter().GetValue() != c.want {
			t.Errorf("requests on %s with %s = %v, want %v", c.listener, c.code, got.GetCounter().GetValue(), c.want)
		}
	}
}

// BenchmarkRequest measures the count that the server makes for every request.
func BenchmarkRequest(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.Request("https", 200)
	}
}
