package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// profileFetch is a CPU profile of the server being taken during a measured run.
type profileFetch struct {
	file string
	done chan error
}

// startProfile requests from the server a CPU profile of the measured window of the run that is
// about to start: it waits out the warm-up and then profiles for the run's duration, less a
// little, so that the profile ends before the load stops.
func (b *bench) startProfile(ctx context.Context, scenario string) *profileFetch {
	prefix := ""
	if b.cfg.scale > 0 {
		prefix = "scale-"
	}
	f := &profileFetch{file: fmt.Sprintf("%s%s-%dkeys.pb.gz", prefix, scenario, b.keys), done: make(chan error, 1)}
	seconds := max(1, int(b.cfg.duration.Seconds())-1)
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", b.pprofAddr, seconds)
	path := filepath.Join(b.cfg.profileDir, f.file)
	go func() {
		if err := sleep(ctx, b.cfg.warmup); err != nil {
			f.done <- err
			return
		}
		f.done <- fetchProfile(ctx, url, path, time.Duration(seconds+30)*time.Second)
	}()
	return f
}

// wait returns the profile's file name once it is saved, or "" after writing why it is
// missing to log.
func (f *profileFetch) wait(log io.Writer) string {
	if err := <-f.done; err != nil {
		fmt.Fprintf(log, "CPU profile %s not saved: %v (is iogate built with -tags pprof?)\n", f.file, err)
		return ""
	}
	return f.file
}

func fetchProfile(ctx context.Context, url, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
