// Package pgtest gives tests real PostgreSQL databases: a fresh database per test on the
// cluster that IOGATE_TEST_DATABASE_URL names (started by .ci/start-postgres), and private
// clusters that a test may stop and start.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// URLVariable names the environment variable that holds the URL of the test cluster's
// database. Its role must be allowed to create databases.
const URLVariable = "IOGATE_TEST_DATABASE_URL"

// URL returns the test cluster's URL. Without it the test is skipped on a developer's
// machine and fails when CI=true, where .ci/run starts the cluster.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(URLVariable)
	if u != "" {
		return u
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set; .ci/run must start PostgreSQL with .ci/start-postgres", URLVariable)
	}
	t.Skipf("%s is not set; run eval \"$(.ci/start-postgres /tmp/iogate-pg)\" to run the PostgreSQL tests, and .ci/stop-postgres /tmp/iogate-pg afterwards", URLVariable)
	return ""
}

// NewDatabase creates an empty database for this test on the test cluster and returns its
// URL. The database is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	base := URL(t)
	name := createDatabase(t, base)
	t.Cleanup(func() { dropDatabase(t, base, name) })
	return withDatabase(t, base, name)
}

// createDatabase creates an empty database with a random name on the cluster of base and
// returns its name.
func createDatabase(t testing.TB, base string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to the test cluster: %v", err)
	}
	defer conn.Close(context.Background())
	var b [6]byte
	rand.Read(b[:])
	name := "iogate_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	return name
}

// dropDatabase drops the database name on the cluster of base, and logs what it could not
// do. A database it leaves behind costs only disk space, so the test still passes.
func dropDatabase(t testing.TB, base, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Logf("test database %s was not dropped: connecting to the test cluster failed: %v", name, err)
		return
	}
	defer conn.Close(context.Background())
	for {
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		// FORCE may not end the sessions of another role, such as the node role's, but a
		// server process exits soon after its client closed the connection.
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "42501" || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Logf("test database %s was not dropped: %v", name, err)
	}
}

// withDatabase returns base with its database name replaced.
func withDatabase(t testing.TB, base, name string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s does not parse as a URL", URLVariable)
	}
	u.Path = "/" + name
	return u.String()
}

// NodeRoleVariable names the environment variable that holds a role of the test cluster
// that owns nothing and has the password of the URLVariable's role.
const NodeRoleVariable = "IOGATE_TEST_NODE_ROLE"

// AsNodeRole returns dbURL with the user replaced by the test cluster's node role. Without
// the role the test is skipped on a developer's machine and fails when CI=true.
func AsNodeRole(t testing.TB, dbURL string) string {
	t.Helper()
	role := clusterVariable(t, NodeRoleVariable, "create the role")
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("%s does not parse as a URL", URLVariable)
	}
	password, _ := u.User.Password()
	u.User = url.UserPassword(role, password)
	return u.String()
}

// clusterVariable returns the value of a variable that .ci/start-postgres sets. Without it
// the test is skipped on a developer's machine, with a hint that ends in what the script
// would do, and fails when CI=true.
func clusterVariable(t testing.TB, name, does string) string {
	t.Helper()
	value := os.Getenv(name)
	if value == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set; .ci/run must start PostgreSQL with .ci/start-postgres", name)
		}
		t.Skipf("%s is not set; run eval \"$(.ci/start-postgres DIR)\" again on your cluster to %s", name, does)
	}
	return value
}

// Exec runs SQL on the database at dbURL, failing the test on error.
func Exec(t testing.TB, dbURL, sql string, args ...any) {
	t.Helper()
	if err := ExecError(t, dbURL, sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// Connect opens one connection to the database at dbURL, failing the test when it cannot,
// and closes it when the test ends unless the caller closed it first.
func Connect(t testing.TB, dbURL string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// ExecError runs SQL on the database at dbURL and returns its error. A failure to connect
// fails the test.
func ExecError(t testing.TB, dbURL, sql string, args ...any) error {
	t.Helper()
	conn := Connect(t, dbURL)
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := conn.Exec(ctx, sql, args...)
	return err
}

// QueryInt runs a query that returns one integer, failing the test on error.
func QueryInt(t testing.TB, dbURL, sql string, args ...any) int64 {
	t.Helper()
	conn := Connect(t, dbURL)
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	return n
}

// Cluster is a private PostgreSQL cluster that one test may stop and start.
type Cluster struct {
	// URL is the URL of the cluster's "iogate" database, with its password.
	URL    string
	dir    string
	pgdata string
	pgbin  string
	// frozen holds the PIDs that Freeze stopped and Thaw has not resumed yet.
	frozen []int
}

// StartCluster starts a private cluster with .ci/start-postgres on a free loopback port
// and stops and removes it when the test ends. It needs the PostgreSQL server programs and,
// as root, the postgres OS user; without them it skips, or fails when CI=true.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	URL(t) // Skip where PostgreSQL tests are not set up.
	script := filepath.Join(moduleRoot(t), ".ci", "start-postgres")
	dir, err := os.MkdirTemp("", "iogate-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	port := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, dir, strconv.Itoa(port))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("start a private PostgreSQL cluster: %v\n%s", err, stderr.String())
	}
	c := &Cluster{dir: dir}
	for _, line := range strings.Split(string(out), "\n") {
		name, value, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			continue
		}
		value = strings.Trim(value, "'")
		switch name {
		case "IOGATE_TEST_DATABASE_URL":
			c.URL = value
		case "IOGATE_TEST_PGDATA":
			c.pgdata = value
		case "IOGATE_TEST_PGBIN":
			c.pgbin = value
		}
	}
	if c.URL == "" || c.pgdata == "" || c.pgbin == "" {
		t.Fatalf("start-postgres printed no URL, data directory or bin directory; its log:\n%s", stderr.String())
	}
	t.Cleanup(func() { c.pgCtl(t, "stop", "-m", "immediate") })
	return c
}

// NewDatabase creates an empty database for this test on the private cluster. It is not
// dropped: the cluster is removed with it when the test ends. A drop would fail, and log
// a connection error that hides the real one, when the test failed with the cluster
// stopped.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	return withDatabase(t, c.URL, createDatabase(t, c.URL))
}

// Stop shuts the cluster down fast: open connections are closed and open transactions
// rolled back, as in a database restart.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	if err := c.pgCtl(t, "stop", "-m", "fast"); err != nil {
		t.Fatal(err)
	}
}

// Start starts the stopped cluster again and waits until it accepts connections.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	if err := c.pgCtl(t, "start", "-l", filepath.Join(c.dir, "postgres.log")); err != nil {
		t.Fatal(err)
	}
}

// Freeze stops every process of the cluster with SIGSTOP, so that the database hangs
// instead of failing, as on a host that stopped responding: open connections stay open and
// the kernel still accepts new ones, but nothing responds. Thaw resumes the processes, and
// so does the end of the test, before the cluster is stopped. Only the processes of this
// cluster are signalled: its postmaster, named by the postmaster.pid file of its data
// directory, and that postmaster's children.
func (c *Cluster) Freeze(t testing.TB) {
	t.Helper()
	postmaster := c.postmasterPID(t)
	// The postmaster stops first, so that it forks no process after its children are
	// listed.
	if err := syscall.Kill(postmaster, syscall.SIGSTOP); err != nil {
		t.Fatalf("stop the postmaster %d: %v", postmaster, err)
	}
	c.frozen = append(c.frozen, postmaster)
	t.Cleanup(func() { c.Thaw(t) })
	children, err := childPIDs(postmaster)
	if err != nil {
		t.Fatalf("list the processes of the postmaster %d: %v", postmaster, err)
	}
	for _, pid := range children {
		// A child that exited meanwhile has nothing to stop.
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Fatalf("stop the PostgreSQL process %d: %v", pid, err)
		}
		c.frozen = append(c.frozen, pid)
	}
}

// Thaw resumes the processes that Freeze stopped. It does nothing when none are stopped.
func (c *Cluster) Thaw(t testing.TB) {
	t.Helper()
	for _, pid := range c.frozen {
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Errorf("resume the PostgreSQL process %d: %v", pid, err)
		}
	}
	c.frozen = nil
}

// postmasterPID returns the PID that the first line of the cluster's postmaster.pid holds.
func (c *Cluster) postmasterPID(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.pgdata, "postmaster.pid"))
	if err != nil {
		t.Fatalf("read the postmaster's PID: %v", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 1 {
		t.Fatalf("postmaster.pid of %s starts with %q, want a PID", c.pgdata, line)
	}
	return pid
}

// childPIDs returns the PIDs of the processes whose parent is ppid, from /proc.
func childPIDs(ppid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			// The process exited after the directory was read.
			continue
		}
		// The fields after the command name, which is in brackets and may hold spaces and
		// brackets itself, are the state and then the parent's PID.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			return nil, fmt.Errorf("unexpected format of /proc/%d/stat", pid)
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 2 {
			return nil, fmt.Errorf("unexpected format of /proc/%d/stat", pid)
		}
		if parent, err := strconv.Atoi(fields[1]); err == nil && parent == ppid {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// pgCtl runs pg_ctl on the cluster as the OS user that owns it, waiting for it to finish.
func (c *Cluster) pgCtl(t testing.TB, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	argv := append([]string{filepath.Join(c.pgbin, "pg_ctl"), "-D", c.pgdata, "-w", "-t", "60"}, args...)
	if os.Geteuid() == 0 {
		argv = append([]string{"runuser", "-u", "postgres", "--"}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl %s: %v\n%s", args[0], err, out)
	}
	return nil
}

func moduleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
