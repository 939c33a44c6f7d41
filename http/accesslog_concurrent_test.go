package http

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAccessLogConcurrentLinesWhole sends requests from several goroutines, half of which
// take the slog fallback, with a short flush interval, and checks that every request has
// one whole JSON line.
func TestAccessLogConcurrentLinesWhole(t *testing.T) {
	// The writer writes one batch at a time, and out is read only after Close.
	var out bytes.Buffer
	api, w := newAccessLogAPI(t, &out, time.Millisecond, false)
	h := api.srv.Handler()

	const workers, perWorker = 8, 150
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				target := fmt.Sprintf("/v1/w%d-%d", g, i)
				if i%2 == 1 {
					target += "%22q"
				}
				req := httptest.NewRequest(http.MethodGet, "https://iogate.test"+target, nil)
				req.RemoteAddr = "192.0.2.7:40000"
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		}()
	}
	wg.Wait()

	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var got struct{ Path string }
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line is not valid JSON: %v: %q", err, line)
		}
		seen[got.Path]++
	}
	if len(seen) != workers*perWorker {
		t.Errorf("got %d distinct paths, want %d", len(seen), workers*perWorker)
	}
	for p, n := range seen {
		if n != 1 {
			t.Errorf("path %q logged %d times", p, n)
		}
	}
}
