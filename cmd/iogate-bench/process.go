package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicksPerSecond is USER_HZ, the unit of the CPU times in /proc/PID/stat. Linux fixes
// it at 100 for user space on every architecture Go supports (see proc(5)).
const clockTicksPerSecond = 100

// procStats are a process's CPU time and memory, read from /proc.
type procStats struct {
	// CPU is user plus system time.
	CPU time.Duration
	// RSS is the resident set size now, and PeakRSS its maximum so far (VmHWM), in bytes.
	RSS     int64
	PeakRSS int64
}

// readProcStats reads /proc/PID/stat and /proc/PID/status.
func readProcStats(pid int) (procStats, error) {
	var s procStats
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name in field 2 may contain spaces and parentheses, so the fields are
	// counted from the last ')'. Fields 14 and 15 are utime and stime, in clock ticks.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields after the command name, want at least 13", pid, len(fields))
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	s.CPU = time.Duration(utime+stime) * time.Second / clockTicksPerSecond

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for line := range strings.Lines(string(status)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmHWM" && name != "VmRSS") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return s, fmt.Errorf("/proc/%d/status: %s: %w", pid, name, err)
		}
		if name == "VmHWM" {
			s.PeakRSS = kb << 10
		} else {
			s.RSS = kb << 10
		}
	}
	return s, nil
}

// process is a server the harness started: iogate or the baseline server.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error

	mu   sync.Mutex
	tail []string
}

// maxTailLines bounds the log lines kept for error messages. The rest of the server's
// output is read and dropped: an access log at full load would fill the disk.
const maxTailLines = 40

// startProcess runs bin with args and, added to the harness's environment, env. When
// readyMsg is not empty it waits until the process writes a JSON log line whose "msg" is
// readyMsg, and returns that line's fields. The process's stdout and stderr are both read
// as logs.
func startProcess(ctx context.Context, name, bin string, args, env []string, readyMsg string, timeout time.Duration) (*process, map[string]any, error) {
	cmd := exec.Command(bin, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	out, err := cmd.StderrPipe()
	if err != nil {
		return nil, nil, err
	}
	cmd.Stdout = cmd.Stderr
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	ready := make(chan map[string]any, 1)
	go func() {
		notify := ready
		if readyMsg == "" {
			notify = nil
		}
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			p.keep(string(line))
			if notify == nil {
				continue
			}
			var rec map[string]any
			if json.Unmarshal(line, &rec) == nil && rec["msg"] == readyMsg {
				notify <- rec
				notify = nil
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()

	if readyMsg == "" {
		return p, nil, nil
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case rec := <-ready:
		return p, rec, nil
	case <-p.done:
		return nil, nil, fmt.Errorf("%s exited before it was ready (%v); its last output:\n%s", name, p.err, p.logTail())
	case <-timer.C:
		p.stop()
		return nil, nil, fmt.Errorf("%s was not ready within %s; its last output:\n%s", name, timeout, p.logTail())
	case <-ctx.Done():
		p.stop()
		return nil, nil, ctx.Err()
	}
}

func (p *process) keep(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tail) == maxTailLines {
		p.tail = p.tail[1:]
	}
	p.tail = append(p.tail, line)
}

func (p *process) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits for the process to exit, killing it after 15 seconds.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// waitTLS returns once a TLS handshake with addr succeeds: the process then accepts and
// serves connections. It fails when the process exits or timeout passes first.
func (p *process) waitTLS(ctx context.Context, addr string, conf *tls.Config, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if err := p.exited(); err != nil {
			return err
		}
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Second}, Config: conf}
		attemptCtx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(attemptCtx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not accept TLS connections on %s within %s (%v); its last output:\n%s", p.name, addr, timeout, err, p.logTail())
		}
		sleep(ctx, 10*time.Millisecond)
	}
}

// freeLoopbackAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// exited returns an error when the process has exited, with its last output.
func (p *process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited during the benchmark (%v); its last output:\n%s", p.name, p.err, p.logTail())
	default:
		return nil
	}
}
