package logging

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// bufferLimit is the size at which a BufferedWriter writes its lines without waiting for
// the next interval.
const bufferLimit = 64 << 10

// BufferedWriter collects log lines in memory and writes them to an underlying writer in
// batches: at least once per interval, as soon as a batch reaches 64 KiB, and whenever
// Flush is called. A busy server logs a line per request; writing each with its own
// write(2) cost more CPU time than anything else the access log does.
//
// Lines are written whole and in the order they arrived. A crash loses at most one
// interval of lines, so records that must survive one (warnings and errors) go through
// FlushFrom, which flushes after each of them.
type BufferedWriter struct {
	mu  sync.Mutex
	buf []byte
	// spare is the buffer of the previous batch, reused for the next one.
	spare []byte

	// writeMu is held while a batch is written, so that batches reach w in order while
	// new lines keep arriving in buf.
	writeMu sync.Mutex
	w       io.Writer

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewBufferedWriter returns a writer that batches writes to w and writes them at least
// every interval, which must be positive. Close it to write the last batch and stop its
// goroutine.
func NewBufferedWriter(w io.Writer, interval time.Duration) *BufferedWriter {
	b := &BufferedWriter{w: w, stop: make(chan struct{}), done: make(chan struct{})}
	go b.run(interval)
	return b
}

func (b *BufferedWriter) run(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.Flush()
		}
	}
}

// Write adds p to the current batch. slog handlers call it once per record with a whole
// line, so a batch never holds part of a line. It returns no error: a failure to write a
// batch is reported by Flush, and the next batch is tried again.
func (b *BufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.buf = append(b.buf, p...)
	full := len(b.buf) >= bufferLimit
	b.mu.Unlock()
	if full {
		b.Flush()
	}
	return len(p), nil
}

// Flush writes the lines collected so far and returns the underlying writer's error.
func (b *BufferedWriter) Flush() error {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	b.mu.Lock()
	batch := b.buf
	b.buf = b.spare[:0]
	b.mu.Unlock()
	if len(batch) == 0 {
		b.mu.Lock()
		b.spare = batch
		b.mu.Unlock()
		return nil
	}
	_, err := b.w.Write(batch)
	// A batch that grew far beyond the limit is not kept, so one burst does not pin its
	// memory for the life of the process.
	if cap(batch) > 4*bufferLimit {
		batch = nil
	}
	b.mu.Lock()
	b.spare = batch[:0]
	b.mu.Unlock()
	return err
}

// Close stops the periodic writes and writes what is left. Lines written after Close are
// written by the next Flush, or lost.
func (b *BufferedWriter) Close() error {
	b.once.Do(func() { close(b.stop) })
	<-b.done
	return b.Flush()
}

// FlushFrom returns a handler that passes records to next and flushes w after each record
// at level or above, so that warnings and errors are written before the call that logged
// them returns.
func FlushFrom(next slog.Handler, w *BufferedWriter, level slog.Level) slog.Handler {
	return &flushHandler{next: next, w: w, level: level}
}

type flushHandler struct {
	next  slog.Handler
	w     *BufferedWriter
	level slog.Level
}

func (h *flushHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *flushHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.next.Handle(ctx, r)
	if r.Level >= h.level {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h *flushHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &flushHandler{next: h.next.WithAttrs(attrs), w: h.w, level: h.level}
}

func (h *flushHandler) WithGroup(name string) slog.Handler {
	return &flushHandler{next: h.next.WithGroup(name), w: h.w, level: h.level}
}
