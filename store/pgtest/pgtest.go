// Package pgtest starts a real PostgreSQL server for tests, from Debian's
// postgresql binaries (initdb and pg_ctl, found in PATH, /usr/local/bin or
// /usr/lib/postgresql/*/bin): a temp data directory, a free 127.0.0.1 port,
// trust authentication for the postgres user. One server serves the whole
// test binary (started by the first test that asks for a database, stopped
// by Run, which the package's TestMain calls); every Database call makes a
// fresh database, dropped when its test ends. A test skips, with a message
// saying what to install, only when the binaries are missing.
//
// initdb refuses to run as root, so when the tests run as root (here and in
// CI) the server runs as the unprivileged user nobody, owning its data and
// socket directories.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/patchwire/patchwire/store/internal/testserver"
)

// Server is a running PostgreSQL.
type Server struct {
	Host string // 127.0.0.1
	Port int
	Dir  string // holds the data directory, the socket directory and the log

	pgCtl string
	cred  *syscall.Credential // nil unless run as root
}

var (
	once     sync.Once
	shared   *Server
	startErr error
	running  bool // inside Run, which stops the server
)

// Binaries finds initdb and pg_ctl; "" when either is absent.
func Binaries() (initdb, pgCtl string) {
	find := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		candidates := []string{filepath.Join("/usr/local/bin", name)}
		versions, _ := filepath.Glob(filepath.Join("/usr/lib/postgresql/*/bin", name))
		for i := len(versions) - 1; i >= 0; i-- { // the newest version first
			candidates = append(candidates, versions[i])
		}
		for _, p := range candidates {
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
		return ""
	}
	initdb, pgCtl = find("initdb"), find("pg_ctl")
	if initdb == "" || pgCtl == "" {
		return "", ""
	}
	return initdb, pgCtl
}

// Run runs the tests, then stops the server if one was started; TestMain
// calls it: func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }.
func Run(m *testing.M) int {
	running = true
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	return code
}

// Database makes a fresh database on the shared server (starting it on the
// first call) and returns its connection string; the database is dropped
// when the test ends.
func Database(t testing.TB) string {
	t.Helper()
	s := start(t)
	name := "patchwire_test_" + testserver.RandomHex(t, 6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.admin(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.admin(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return s.DSN(name)
}

// DSN is the connection string of database name.
func (s *Server) DSN(name string) string {
	return fmt.Sprintf("postgres://postgres@%s:%d/%s?sslmode=disable", s.Host, s.Port, name)
}

func (s *Server) admin(ctx context.Context, sql string) error {
	c, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql)
	return err
}

func start(t testing.TB) *Server {
	t.Helper()
	initdb, pgCtl := Binaries()
	if initdb == "" {
		t.Skip("PostgreSQL not installed (initdb and pg_ctl in PATH, /usr/local/bin or /usr/lib/postgresql/*/bin): apt-get install postgresql")
	}
	if !running {
		t.Fatal("pgtest: the package's TestMain must call pgtest.Run, which stops the server after the tests")
	}
	once.Do(func() { shared, startErr = launch(initdb, pgCtl) })
	if startErr != nil {
		t.Fatalf("start PostgreSQL: %v", startErr)
	}
	return shared
}

func launch(initdb, pgCtl string) (*Server, error) {
	parent := os.TempDir()
	if os.Geteuid() == 0 && !othersCanEnter(parent) {
		parent = "/tmp" // nobody must reach the data directory
	}
	sweep(parent, pgCtl)
	dir, err := os.MkdirTemp(parent, "patchwire-pgtest-")
	if err != nil {
		return nil, err
	}
	// The test binary's pid, for the sweep of a later run should this one
	// be killed (a -timeout panic does not get to stop the server).
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{Host: "127.0.0.1", Dir: dir, pgCtl: pgCtl}
	if os.Geteuid() == 0 {
		if s.cred, err = nobody(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := s.run(initdb, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "-D", data); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		s.Port, err = testserver.FreePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		opts := fmt.Sprintf("-c listen_addresses=%s -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
			s.Host, s.Port, dir)
		out, err := s.run(pgCtl, "start", "-w", "-t", "60", "-D", data, "-l", filepath.Join(dir, "postgres.log"), "-o", opts)
		if err == nil {
			return s, nil
		}
		if attempt == 2 {
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
		}
	}
}

// ownerFile, in a server's directory, holds the pid of the test binary that
// started it.
const ownerFile = "owner.pid"

// sweep stops the servers and removes the directories of test binaries
// that died without stopping theirs.
func sweep(parent, pgCtl string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, "patchwire-pgtest-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // starting, or not ours
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // its test binary runs
		}
		old := &Server{Dir: dir, pgCtl: pgCtl}
		if st, err := os.Stat(dir); err == nil && os.Geteuid() == 0 {
			if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 {
				old.cred = &syscall.Credential{Uid: sys.Uid, Gid: sys.Gid}
			}
		}
		old.stop()
	}
}

func (s *Server) stop() {
	s.run(s.pgCtl, "stop", "-m", "fast", "-w", "-D", filepath.Join(s.Dir, "data"))
	os.RemoveAll(s.Dir)
}

// run runs a PostgreSQL tool, as nobody when the tests run as root.
func (s *Server) run(bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
		cmd.Env = append(cmd.Env, "HOME="+s.Dir)
	}
	return cmd.CombinedOutput()
}

// othersCanEnter reports whether every directory from / to dir lets other
// users through.
func othersCanEnter(dir string) bool {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

func nobody() (*syscall.Credential, error) {
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("running as root, and no user nobody to run PostgreSQL as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user nobody: uid %q gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
