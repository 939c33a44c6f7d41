package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net/netip"
	"testing"
	"time"
)

// fuzzAddr builds an address from raw bytes. No bytes give the zero Addr, four give an IPv4
// address, and any other number gives an IPv6 address from the first 16 bytes, with zone.
func fuzzAddr(raw []byte, zone string) netip.Addr {
	switch {
	case len(raw) == 0:
		return netip.Addr{}
	case len(raw) == 4:
		return netip.AddrFrom4([4]byte(raw))
	}
	var b [16]byte
	copy(b[:], raw)
	return netip.AddrFrom16(b).WithZone(zone)
}

// FuzzLineMatchesHandler builds each record both as a Line and through NewJSON. Where Bytes
// reports ok, the line must be valid JSON and byte for byte the handler's line.
func FuzzLineMatchesHandler(f *testing.F) {
	f.Add(int64(1764916201120000000), 0, false, "request", "path", "/v1/vaults", int64(200), 0.042, []byte{127, 0, 0, 1}, "", []byte{10, 0, 0, 1})
	// For the zero Addr, netip.Addr.String returns "invalid IP" and AppendTo appends nothing.
	f.Add(int64(1764916201120000000), 0, false, "request", "path", "/v1/x", int64(404), 0.5, []byte{}, "", []byte{192, 0, 2, 1})
	// For the zero time, slog leaves the "time" key out.
	f.Add(int64(0), 3600, true, "request", "path", "/v1/x", int64(-1), 1e-6, []byte{192, 0, 2, 1}, "", []byte{192, 0, 2, 1})
	f.Add(int64(-62135596800000000), -1800, false, "msg", "", "", int64(0), math.Copysign(0, -1), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}, "eth0", []byte{1})
	f.Add(int64(1), 59, false, "a<b>&", "k", "Basic abc", int64(1), 123456.789, []byte{32, 1, 13, 184}, "", []byte{32, 1, 13, 184, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, nanos int64, offset int, zeroTime bool, msg, key, value string, n int64, fl float64, remote []byte, zone string, peer []byte) {
		at := time.Unix(0, nanos).In(time.FixedZone("", offset))
		if zeroTime {
			at = time.Time{}
		}
		ra, pa := fuzzAddr(remote, zone), fuzzAddr(peer, "")

		var buf [64]byte
		got, ok := StartLine(buf[:0], at, slog.LevelInfo, msg).
			String(key, value).
			Int("status", n).
			Float("duration_ms", fl).
			Addr("remote_addr", ra).
			Addr("peer_addr", pa).
			Bytes()

		var out bytes.Buffer
		w := NewBufferedWriter(&out, time.Hour)
		r := slog.NewRecord(at, slog.LevelInfo, msg, 0)
		r.AddAttrs(slog.String(key, value), slog.Int64("status", n), slog.Float64("duration_ms", fl),
			slog.String("remote_addr", ra.String()), slog.String("peer_addr", pa.String()))
		if err := NewJSON(w, slog.LevelInfo).Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if !json.Valid(bytes.TrimSuffix(got, []byte("\n"))) {
			t.Fatalf("line reported ok is not valid JSON: %q", got)
		}
		if want := out.String(); string(got) != want {
			t.Fatalf("line reported ok differs from the handler's:\n got %q\nwant %q", got, want)
		}
	})
}
