package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/patchwire/patchwire/bench"
)

// runBench is `patchwire bench bandwidth|load|suite`.
func runBench(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(env.stderr, "usage: patchwire bench bandwidth|load|suite [flags]\n\n"+
			"  bandwidth  bytes a device downloads per update: full zip, Capgo-style partial, patchwire, zstd/bsdiff references\n"+
			"  load       checks/s, latency and object throughput of a server in its own process, beside nginx, bare net/http and quic-go;\n"+
			"             --long: many devices checking with jitter for a long while (RSS, goroutines, FDs at start and end)\n"+
			"  suite      the default suite (three npm series and a short load run) into OUT/latest.{md,json,svg}")
		if len(args) == 0 {
			return usageError("bench needs a subcommand")
		}
		return nil
	}
	switch args[0] {
	case "bandwidth":
		return runBenchBandwidth(ctx, env, args[1:])
	case "load":
		return runBenchLoad(ctx, env, args[1:])
	case "suite":
		return runBenchSuite(ctx, env, args[1:])
	case "ceiling": // hidden: the bare handlers `bench load` starts as its ceilings
		return runBenchCeiling(ctx, env, args[1:])
	}
	return usageError(fmt.Sprintf("bench: unknown subcommand %q", args[0]))
}

// npmFlags collects repeated --npm specs; --subdir applies to the --npm
// before it.
type npmFlags struct {
	specs []string
	subs  []string
}

type npmValue struct{ f *npmFlags }

func (v npmValue) String() string { return "" }
func (v npmValue) Set(s string) error {
	v.f.specs = append(v.f.specs, s)
	v.f.subs = append(v.f.subs, "")
	return nil
}

type subdirValue struct{ f *npmFlags }

func (v subdirValue) String() string { return "" }
func (v subdirValue) Set(s string) error {
	if len(v.f.specs) == 0 {
		return fmt.Errorf("--subdir must follow an --npm")
	}
	v.f.subs[len(v.f.subs)-1] = s
	return nil
}

type listValue struct{ l *[]string }

func (v listValue) String() string     { return "" }
func (v listValue) Set(s string) error { *v.l = append(*v.l, s); return nil }

func benchLogf(env *cliEnv) func(string, ...any) {
	return func(format string, a ...any) { fmt.Fprintf(env.stderr, format+"\n", a...) }
}

func runBenchBandwidth(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags("bench bandwidth", env.stderr)
	var series []string
	var npm npmFlags
	fs.Var(listValue{&series}, "series", "a folder of version folders or zips, oldest first (repeatable)")
	fs.Var(npmValue{&npm}, "npm", "NAME@V1,V2,...: published npm releases (repeatable)")
	fs.Var(subdirValue{&npm}, "subdir", "the folder of the package before it to use as the bundle, e.g. dist/ionic")
	cache := fs.String("cache", "bench/cache", "where npm tarballs are kept")
	out := fs.String("out", "bench/results", "output folder")
	name := fs.String("name", "bandwidth", "output files: OUT/NAME.md, .json, .svg")
	patchTimeout := fs.Duration("patch-timeout", 10*time.Minute, "how long to wait for the server's patches of a pair")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(rest, 0, "no arguments"); err != nil {
		return err
	}
	if len(series) == 0 && len(npm.specs) == 0 {
		return usageError("bench bandwidth needs --series DIR or --npm NAME@V1,V2,...")
	}
	r := &bench.Report{Generated: time.Now(), Command: "patchwire bench " + strings.Join(append([]string{"bandwidth"}, args...), " "), Host: bench.ThisHost(bench.FindTools())}
	if err := benchBandwidth(ctx, env, r, series, npm, *cache, *patchTimeout); err != nil {
		return err
	}
	return writeReport(env, r, *out, *name)
}

func benchBandwidth(ctx context.Context, env *cliEnv, r *bench.Report, series []string, npm npmFlags, cache string, patchTimeout time.Duration) error {
	logf := benchLogf(env)
	var all []*bench.Series
	for _, dir := range series {
		s, err := bench.LoadSeries(ctx, dir)
		if err != nil {
			return err
		}
		all = append(all, s)
	}
	for i, spec := range npm.specs {
		sp, err := bench.ParseNPMSpec(spec, npm.subs[i])
		if err != nil {
			return usageError(err.Error())
		}
		s, err := bench.FetchNPM(ctx, cache, sp, logf)
		if err != nil {
			return err
		}
		all = append(all, s)
	}
	for _, s := range all {
		res, err := bench.RunBandwidth(ctx, s, bench.BandwidthOptions{Logf: logf, PatchTimeout: patchTimeout})
		if err != nil {
			return err
		}
		r.Series = append(r.Series, res)
	}
	return nil
}

func writeReport(env *cliEnv, r *bench.Report, out, name string) error {
	if err := r.Write(out, name); err != nil {
		return err
	}
	var md strings.Builder
	r.Markdown(&md, "")
	fmt.Fprint(env.stdout, md.String())
	fmt.Fprintf(env.stderr, "wrote %s/%s.md, .json, .svg\n", out, name)
	return nil
}

func runBenchLoad(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags("bench load", env.stderr)
	lf := addLoadFlags(fs)
	out := fs.String("out", "bench/results", "output folder")
	name := fs.String("name", "load", "output files: OUT/NAME.md, .json")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(rest, 0, "no arguments"); err != nil {
		return err
	}
	r := &bench.Report{Generated: time.Now(), Command: "patchwire bench " + strings.Join(append([]string{"load"}, args...), " "), Host: bench.ThisHost(bench.FindTools())}
	if r.Load, err = bench.RunLoad(ctx, lf.options(env)); err != nil {
		return err
	}
	return writeReport(env, r, *out, *name)
}

type loadFlags struct {
	server      *string
	allowRemote *bool
	ca          *string
	adminKey    *string
	noSeed      *bool
	app         *string
	devices     *int
	concurrency *int
	duration    *time.Duration
	download    *float64
	noNginx     *bool
	noCeilings  *bool
	noHTTP3     *bool
	noHTTP1     *bool
	noH2Load    *bool
	long        *bool
	interval    *time.Duration
	shareCPUs   *bool
}

func addLoadFlags(fs *flag.FlagSet) *loadFlags {
	return &loadFlags{
		server:      fs.String("server", "", "an external server's URL (default: start `patchwire serve` of this binary in a child process)"),
		allowRemote: fs.Bool("allow-remote", false, "let --server be other than a loopback address"),
		ca:          fs.String("ca", "", "CA certificate of --server (default: accept any certificate)"),
		adminKey:    fs.String("admin-key", "", "admin API key of --server, to seed it with an app, two bundles and a channel ($PATCHWIRE_API_KEY)"),
		noSeed:      fs.Bool("no-seed", false, "do not seed --server: load what --app's public channel serves"),
		app:         fs.String("app", "", "app id (default com.patchwire.bench)"),
		devices:     fs.Int("devices", 1000, "simulated devices"),
		concurrency: fs.Int("concurrency", 64, "requests in flight (workers, in a long run)"),
		duration:    fs.Duration("duration", 30*time.Second, "length of each phase, or of the long run"),
		download:    fs.Float64("download-share", 0, "share of update checks followed by their download (long run: share of devices that download the update; default 0.01)"),
		noNginx:     fs.Bool("no-nginx", false, "skip the nginx ceiling"),
		noCeilings:  fs.Bool("no-ceilings", false, "skip every ceiling (nginx, net/http, quic-go)"),
		noHTTP3:     fs.Bool("no-http3", false, "skip the HTTP/3 phases against the server (a server or load balancer without HTTP/3)"),
		noHTTP1:     fs.Bool("no-http1", false, "skip the HTTP/1.1 object phases (how a pull CDN fetches from the origin)"),
		noH2Load:    fs.Bool("no-h2load", false, "skip the object phases with nghttp2's h2load as the HTTP/2 client (skipped anyway where h2load is not installed)"),
		long:        fs.Bool("long", false, "long-run mode: --devices each checking once every --interval with jitter for --duration"),
		interval:    fs.Duration("interval", time.Minute, "long run: how often each device checks"),
		shareCPUs: fs.Bool("share-cpus", false, "run the load generator on the same CPUs as the server and the ceilings (default, on Linux with 2 CPUs or more: "+
			"they run on the first half of them, the generator on the rest; an external --server stays where it was started)"),
	}
}

func (f *loadFlags) options(env *cliEnv) bench.LoadOptions {
	key := *f.adminKey
	if key == "" {
		key = env.getenv("PATCHWIRE_API_KEY")
	}
	return bench.LoadOptions{Server: *f.server, AllowRemote: *f.allowRemote, CAFile: *f.ca, AdminKey: key, NoSeed: *f.noSeed, App: *f.app,
		Devices: *f.devices, Concurrency: *f.concurrency, Duration: *f.duration, DownloadShare: *f.download,
		NoNginx: *f.noNginx, NoCeilings: *f.noCeilings, NoHTTP3: *f.noHTTP3, NoHTTP1: *f.noHTTP1, NoH2Load: *f.noH2Load, Long: *f.long, Interval: *f.interval, ShareCPUs: *f.shareCPUs, Stderr: env.stderr, Logf: benchLogf(env)}
}

// runBenchCeiling is the hidden `patchwire bench ceiling`: a bare net/http
// (h2) or quic-go (h3) handler answering a folder's files from memory, in
// its own process, for `bench load` to measure beside the server.
func runBenchCeiling(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags("bench ceiling", env.stderr)
	proto := fs.String("proto", "h2", "h2 (net/http over TLS) or h3 (quic-go http3.Server)")
	dir := fs.String("dir", "", "folder with updates.json, check.bin and o/SHA256 files")
	cert := fs.String("cert", "", "PEM certificate")
	key := fs.String("key", "", "PEM private key")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(rest, 0, "no arguments"); err != nil {
		return err
	}
	if *dir == "" || *cert == "" || *key == "" {
		return usageError("bench ceiling needs --dir, --cert and --key")
	}
	return bench.RunCeiling(ctx, *proto, *dir, *cert, *key, env.stdout)
}

// defaultSuite is `make bench`'s series (see /work/shared/docs/delta-anchors.md §1).
var defaultSuite = []struct{ spec, subdir string }{
	{"swagger-ui-dist@5.32.14,5.32.15,5.33.0,5.33.1,5.33.2,5.33.3,5.34.0", ""},
	{"@ionic/core@8.7.15,8.7.16,8.7.17,8.7.18,8.8.0,8.8.1,8.8.2", "dist/ionic"},
	{"mermaid@11.12.0,11.12.1,11.12.2,11.12.3,11.13.0,11.14.0,11.15.0", "dist/chunks/mermaid.esm.min"},
}

func runBenchSuite(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags("bench suite", env.stderr)
	lf := addLoadFlags(fs)
	cache := fs.String("cache", "bench/cache", "where npm tarballs are kept")
	out := fs.String("out", "bench/results", "output folder")
	name := fs.String("name", "latest", "output files: OUT/NAME.md, .json, .svg")
	noLoad := fs.Bool("no-load", false, "bandwidth only")
	if err := fs.Set("duration", "10s"); err != nil {
		return err
	}
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(rest, 0, "no arguments"); err != nil {
		return err
	}
	r := &bench.Report{Generated: time.Now(), Command: "patchwire bench " + strings.Join(append([]string{"suite"}, args...), " "), Host: bench.ThisHost(bench.FindTools())}
	var npm npmFlags
	for _, s := range defaultSuite {
		npm.specs, npm.subs = append(npm.specs, s.spec), append(npm.subs, s.subdir)
	}
	if err := benchBandwidth(ctx, env, r, nil, npm, *cache, 10*time.Minute); err != nil {
		return err
	}
	if !*noLoad {
		if r.Load, err = bench.RunLoad(ctx, lf.options(env)); err != nil {
			return err
		}
	}
	return writeReport(env, r, *out, *name)
}
