package logging

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is an io.Writer that the test reads while the writer's goroutine writes.
type lockedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	err    error
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	if b.err != nil {
		return 0, b.err
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) Writes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.writes
}

func TestBufferedWriterBatchesLinesInOrder(t *testing.T) {
	out := &lockedBuffer{}
	w := NewBufferedWriter(out, time.Hour)
	for i := range 100 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	if got := out.String(); got != "" {
		t.Fatalf("lines were written before a flush: %q", got)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 100 {
		t.Fatalf("got %d lines after Flush, want 100", len(lines))
	}
	for i, l := range lines {
		if l != fmt.Sprintf("line %d", i) {
			t.Fatalf("line %d is %q", i, l)
		}
	}
	if out.Writes() != 1 {
		t.Errorf("100 lines took %d writes, want 1", out.Writes())
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestBufferedWriterWritesEachInterval(t *testing.T) {
	out := &lockedBuffer{}
	w := NewBufferedWriter(out, 10*time.Millisecond)
	defer w.Close()
	fmt.Fprintln(w, "waiting line")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "waiting line") {
		if time.Now().After(deadline) {
			t.Fatal("the line was not written within 5s of a 10ms interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBufferedWriterWritesAFullBatchAtOnce(t *testing.T) {
	out := &lockedBuffer{}
	w := NewBufferedWriter(out, time.Hour)
	defer w.Close()
	line := strings.Repeat("x", 1023) + "\n"
	for range bufferLimit / len(line) {
		w.Write([]byte(line))
	}
	if got := len(out.String()); got != bufferLimit {
		t.Fatalf("%d bytes written once the batch reached %d, want all of them", got, bufferLimit)
	}
}

func TestBufferedWriterCloseWritesTheRest(t *testing.T) {
	out := &lockedBuffer{}
	w := NewBufferedWriter(out, time.Hour)
	fmt.Fprintln(w, "last words")
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if out.String() != "last words\n" {
		t.Fatalf("after Close the output is %q", out.String())
	}
	// A second Close is harmless.
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestBufferedWriterReportsWriteErrors(t *testing.T) {
	out := &lockedBuffer{err: errors.New("disk full")}
	w := NewBufferedWriter(out, time.Hour)
	defer w.Close()
	fmt.Fprintln(w, "lost line")
	if err := w.Flush(); err == nil || err.Error() != "disk full" {
		t.Fatalf("Flush returned %v, want the writer's error", err)
	}
	// The next batch starts empty and is written once the writer works again.
	out.mu.Lock()
	out.err = nil
	out.mu.Unlock()
	fmt.Fprintln(w, "next line")
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if out.String() != "next line\n" {
		t.Fatalf("output %q, want only the line after the failure", out.String())
	}
}

func TestBufferedWriterConcurrentWritersKeepLinesWhole(t *testing.T) {
	out := &lockedBuffer{}
	w := NewBufferedWriter(out, time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				fmt.Fprintf(w, "writer %d line %d %s\n", g, i, strings.Repeat("y", 200))
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("got %d lines, want %d", len(lines), 8*500)
	}
	next := map[int]int{}
	for _, l := range lines {
		var g, i int
		var tail string
		if _, err := fmt.Sscanf(l, "writer %d line %d %s", &g, &i, &tail); err != nil || len(tail) != 200 {
			t.Fatalf("line %q is not whole", l)
		}
		if i != next[g] {
			t.Fatalf("writer %d: line %d came after line %d", g, i, next[g]-1)
		}
		next[g]++
	}
}

func TestFlushFromWritesWarningsAtOnce(t *testing.T) {
	out := &lockedBuffer{}
	w := NewBufferedWriter(out, time.Hour)
	defer w.Close()
	log := slog.New(FlushFrom(slog.NewJSONHandler(w, nil), w, slog.LevelWarn))
	log.Info("request", "status", 200)
	if out.String() != "" {
		t.Fatalf("an info line was written at once: %q", out.String())
	}
	log.With("component", "store").Warn("store unreachable")
	got := out.String()
	// The warning is written at once, after the info line that came before it.
	if !strings.Contains(got, `"msg":"request"`) || !strings.Contains(got, `"msg":"store unreachable"`) ||
		strings.Index(got, `"msg":"request"`) > strings.Index(got, `"msg":"store unreachable"`) {
		t.Fatalf("after a warning the output is %q", got)
	}
	if !strings.Contains(got, `"component":"store"`) {
		t.Errorf("the logger's attributes were lost: %q", got)
	}
}
