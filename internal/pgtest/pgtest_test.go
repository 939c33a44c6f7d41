package pgtest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// cleanupRecorder is a testing.TB that keeps the cleanups and log lines of the code under
// test, so that the test runs the cleanups when it chooses and reads what they logged.
type cleanupRecorder struct {
	testing.TB
	cleanups []func()
	logs     []string
}

func (r *cleanupRecorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func (r *cleanupRecorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

// runCleanups runs the recorded cleanups, the last one first, as testing does.
func (r *cleanupRecorder) runCleanups() {
	for _, f := range slices.Backward(r.cleanups) {
		f()
	}
	r.cleanups = nil
}

// TestCleanupWithClusterStopped ends a test while its private cluster is stopped, as after
// a failure between Cluster.Stop and Cluster.Start. The cleanup of Cluster.NewDatabase must
// log nothing, and the log line of a failed drop must name the failed connection.
func TestCleanupWithClusterStopped(t *testing.T) {
	cluster := StartCluster(t)
	onCluster := &cleanupRecorder{TB: t}
	cluster.NewDatabase(onCluster)
	cluster.Stop(t)

	onCluster.runCleanups()
	if len(onCluster.logs) > 0 {
		t.Errorf("the cleanup of Cluster.NewDatabase logged %q, want nothing: the cluster is removed with its databases", onCluster.logs)
	}

	dropped := &cleanupRecorder{TB: t}
	dropDatabase(dropped, cluster.URL, "iogate_test_absent")
	want := "test database iogate_test_absent was not dropped: connecting to the test cluster failed: "
	if len(dropped.logs) != 1 || !strings.HasPrefix(dropped.logs[0], want) {
		t.Errorf("dropDatabase on a stopped cluster logged %q, want one line that starts with %q", dropped.logs, want)
	}
}
