package faulttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// bins are the executables the harness runs, built once per test binary.
var bins struct {
	once  sync.Once
	dir   string
	smsgw string
	nats  string
	err   error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bins.dir != "" {
		_ = os.RemoveAll(bins.dir)
	}
	os.Exit(code)
}

// buildBinaries builds smsgw from this repository and nats-server from the
// module the repository already depends on (the same version the embedded
// server runs), without -race: the children are the system under test,
// the race detector watches the test process.
func buildBinaries(t testing.TB) {
	t.Helper()
	bins.once.Do(func() {
		dir, err := os.MkdirTemp("", "smsgw-faulttest-")
		if err != nil {
			bins.err = err
			return
		}
		bins.dir = dir
		bins.smsgw = filepath.Join(dir, "smsgw")
		bins.nats = filepath.Join(dir, "nats-server")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Dir(filepath.Dir(file))
		for _, b := range []struct{ out, pkg string }{
			{bins.smsgw, "./cmd/smsgw"},
			{bins.nats, "github.com/nats-io/nats-server/v2"},
		} {
			cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				bins.err = fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if bins.err != nil {
		t.Fatal(bins.err)
	}
}

// freePorts reserves n loopback ports by listening on port 0 and closing.
// Processes restarted on the same port (a NATS node, a gateway) need ports
// known in advance; the window in which another program could take one is
// tiny on a test machine.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("reserve port: %v", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return ports
}

// process is one child process (a nats-server node, a gateway, a bridge)
// that can be killed and started again with the same arguments.
type process struct {
	t       testing.TB
	name    string
	bin     string
	args    []string
	logPath string
	ready   func(ctx context.Context) error

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	runs int
}

func newProcess(t testing.TB, name, bin string, args []string, ready func(context.Context) error) *process {
	dir := t.TempDir()
	if keep := os.Getenv("FAULTTEST_LOGS"); keep != "" {
		// Keep the children's logs after the test (they are removed with
		// the temp dir otherwise).
		dir = filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(dir, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	p := &process{t: t, name: name, bin: bin, args: args, ready: ready,
		logPath: filepath.Join(dir, name+".log")}
	t.Cleanup(func() {
		p.stop(10 * time.Second)
		if t.Failed() && !strings.HasPrefix(name, "nats") {
			p.dumpLog(25)
		}
	})
	return p
}

// start runs the process and waits until ready answers nil.
func (p *process) start() {
	p.t.Helper()
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		p.t.Fatalf("%s: already running", p.name)
	}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.mu.Unlock()
		p.t.Fatalf("%s: log: %v", p.name, err)
	}
	p.runs++
	fmt.Fprintf(f, "==== run %d at %s\n", p.runs, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		_ = f.Close()
		p.t.Fatalf("%s: start: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = f.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	if p.ready == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		err := p.ready(ctx)
		if err == nil {
			return
		}
		select {
		case <-done:
			p.dumpLog(40)
			p.t.Fatalf("%s exited while starting", p.name)
		case <-ctx.Done():
			p.dumpLog(40)
			p.t.Fatalf("%s not ready within 60s: %v", p.name, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// kill is kill -9: no shutdown code runs.
func (p *process) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// stop asks for a graceful stop (SIGTERM) and kills after grace.
func (p *process) stop(grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// logContains reports how many lines of the process's log contain s.
func (p *process) logCount(s string) int {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte(s))
}

func (p *process) dumpLog(lines int) {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	p.t.Logf("---- last %d lines of %s ----\n%s", len(all), p.name, strings.Join(all, "\n"))
}

// cluster is a three-node NATS JetStream cluster of real nats-server
// processes on loopback.
type cluster struct {
	nodes []*process
	urls  []string
}

// natsConf is one node's configuration file; docs/cluster/ holds the same
// shape for operators.
const natsConf = `server_name: %s
listen: 127.0.0.1:%d
max_payload: 8MB
jetstream {
  store_dir: %q
  max_memory_store: 256MB
  max_file_store: 4GB
}
cluster {
  name: smsgw
  listen: 127.0.0.1:%d
  routes: [%s]
}
`

func startCluster(t testing.TB) *cluster {
	t.Helper()
	ports := freePorts(t, 6)
	c := &cluster{}
	var routes []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3+i]))
		c.urls = append(c.urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	dir := t.TempDir()
	for i := range 3 {
		name := fmt.Sprintf("nats-%d", i+1)
		conf := filepath.Join(dir, name+".conf")
		body := fmt.Sprintf(natsConf, name, ports[i], filepath.Join(dir, name), ports[3+i], strings.Join(routes, ", "))
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		url := c.urls[i]
		c.nodes = append(c.nodes, newProcess(t, name, bins.nats, []string{"-c", conf}, func(ctx context.Context) error {
			return natsReady(ctx, url)
		}))
	}
	// Start all three before waiting: JetStream needs a quorum to answer.
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Go(n.start)
	}
	wg.Wait()
	return c
}

// URL is the comma-separated client URL list (contract: nats.url).
func (c *cluster) URL() string { return strings.Join(c.urls, ",") }

// natsReady: the node accepts clients and JetStream answers through it
// (a meta leader exists).
func natsReady(ctx context.Context, url string) error {
	nc, err := nats.Connect(url, nats.Timeout(time.Second), nats.NoReconnect())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(actx)
	return err
}

// httpReady answers nil once url answers 200.
func httpReady(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(url + ": " + strconv.Itoa(resp.StatusCode))
		}
		return nil
	}
}
