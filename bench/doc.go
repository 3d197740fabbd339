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
// [RunLoad] starts the server itself (or targets --server), runs simulated
// devices checking with the Capgo and native protocols over HTTPS and
// HTTP/3, some of them downloading, and reports checks/s, latency
// percentiles, errors, bytes/s, server CPU and peak RSS, against nginx
// serving the same objects and a static JSON answer as the ceiling.
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
