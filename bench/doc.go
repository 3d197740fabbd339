// Package bench measures what engineers choose an update system by: the
// bytes a device downloads per update, and what one server sustains.
//
// # Bandwidth
//
// [RunBandwidth] takes a series of real releases of a web bundle (a folder
// of version folders or zips, or published npm tarballs fetched by
// [FetchNPM]) and, for every consecutive pair and for oldest→newest,
// counts the bytes a device downloads with:
//
//   - the full bundle as a zip (deflate, best compression);
//   - a file-level partial update as Capgo does it: every file whose bytes
//     the old version lacks, each Brotli-compressed (quality 11);
//   - patchwire: the plan the real resolver makes against a real store
//     and server started in this process, applied by the reference device
//     updater (client/device), which checks every byte; the figure is what
//     the device received, check answer included;
//   - the reference tools, when installed: `zstd -19 --long=27
//     --patch-from` and `bsdiff` on the whole bundles (deterministic tars),
//     and the best of zstd, bsdiff and whole-file compression per file.
//     Every reference patch is applied back and compared.
//
// It also records how long patches took to encode and the encoders' peak
// memory. [Report] writes the result as Markdown, JSON and a hand-written
// SVG chart (bytes per update, log scale).
//
// # Load
//
// [RunLoad] starts `patchwire serve` of the same binary as a child
// process (a temporary data dir, free 127.0.0.1 ports, no device rate
// limits), seeds it through the admin API with an app, two bundles and a
// public channel, or targets an existing server (--server, seeded with
// --admin-key, or --no-seed). Simulated devices check with the Capgo
// protocol (/updates) and the native one (/v1/check), up to date and
// getting an update, over HTTPS (HTTP/2) and HTTP/3, then GET objects
// (also over HTTP/1.1, and over HTTP/2 with nghttp2's h2load as the client:
// [ProtoH2Load]).
// Every phase reports req/s, p50/p95/p99, errors, bytes/s, the server
// process's CPU seconds and peak RSS (from /proc, or its /metrics when it
// is remote) apart from the load generator's own (getrusage), and is
// compared with a ceiling in the same run, each in a process of its own:
// nginx serving the same objects as static files and the Capgo answer
// inlined (HTTP/2), and the hidden `patchwire bench ceiling` — a bare
// net/http handler (HTTP/2) and a bare quic-go http3.Server (HTTP/3)
// answering the server's own answers and objects from memory ([RunCeiling]).
// The generator is kept from being the bound where it can be: on Linux it
// runs on CPUs of its own, each device's check bodies are encoded once,
// and its garbage collector runs at GOGC 400 while it loads.
// The long run ([LongRun]) has many devices each checking once an interval
// at its own offset, a share of them downloading the update, and reports
// p99, errors and the server's RSS, goroutines and FDs from start to end.
//
// # Why its own package
//
// It imports everything (server, store, client, client/device, resolver),
// drives external tools (zstd, bsdiff, npm, nginx) and is slow; nothing
// else may depend on it, and keeping it out of the packages it measures
// keeps those free of benchmark-only code. `patchwire bench` is its
// command line; `make bench` runs the default suite. Its unit tests use
// a series built from the fixture bundles of testdata/bundles and need no network.
package bench
