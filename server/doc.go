// Package server is patchwire's HTTP layer: the object endpoint devices and
// CDNs fetch from, the admin and upload API, authentication, limits and
// metrics, served over HTTPS (HTTP/1.1 and HTTP/2 on TCP) and HTTP/3 (QUIC on
// UDP) on one port, plus an optional cleartext listener for a proxy or CDN
// origin. It holds no business logic of its own: decisions live in resolver,
// bytes and records in store, input rules in manifest.
package server
