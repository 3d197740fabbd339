// Package store keeps patchwire's data: content-addressed objects, shared
// by every app and version, and the catalog (apps, bundles, manifests, API
// keys, upload sessions, channels and device overrides), plus device
// records and stats.
//
// The store's rules are written once, over two seams. The kv seam
// (kv.go: kvStore, kvTxn) runs the catalog's transactions, every record
// of the key layout below; Badger v4 is its implementation
// (kv_badger.go), held to the seam's contract by kvConformance, so the
// same catalog code can run on another engine (PostgreSQL, issue 12). The
// blob seam ([Blobs]) is where objects' bytes live: Badger's own chunks
// ([Store.BadgerBlobs], the default) or an S3-compatible bucket
// ([S3Blobs]). With Badger behind both, an object's chunks and its om/
// record are written in one Badger transaction. Backup and restore,
// value-log GC and the upgrade of format-1 objects are Badger's own.
//
// # Objects
//
// An object is a file's bytes, named by their SHA-256 ([manifest.Digest]).
// It is stored once however many bundles use it, in chunks of 1 MiB raw
// bytes (the last one shorter), each chunk raw or its own zstd frame: all
// chunks of an object are zstd when that saves at least 1/32 of its size,
// else all raw. zstd frames use at most an 8 MiB window (RFC 9659), and
// concatenated frames are one zstd stream, so the stored bytes can be sent
// as is with Content-Encoding: zstd.
//
// Reading: [Store.OpenObject] reads only the om/ record (HEAD, 304, size,
// Range arithmetic); its [ObjectReader] then reads one chunk at a time, in
// a short transaction each, so a response holds one chunk in memory however
// large the object and however slow the client. [Store.GetObject] reads an
// object whole, for code that needs all of it.
//
// Integrity: the SHA-256 is verified when an object is written
// ([Store.PutObject]), when it is read whole ([Store.GetObject]) and by the
// scrub ([Store.Verify], which hashes a chunk at a time). Each chunk read
// is checked against the CRC-32C its om/ record lists, and Badger checks
// the CRC of every value-log entry it reads (VerifyValueChecksum; on a
// mismatch Badger logs and yields an empty value, which the length check
// catches), so a damaged chunk is reported as [ErrCorrupt] (and logged)
// before any of its bytes are returned, without a SHA-256 per request. Bytes that no longer
// match their name are never returned.
//
// Objects written by versions before chunking (om/ format 1: the whole
// object, raw or one zstd frame, in one value at o/) are still read:
// GetObject as before, an ObjectReader by reading and verifying the whole
// object on its first Read. Verify handles both formats, and every
// [Store.CollectGarbage] rewrites the live ones as chunks (upgrade.go),
// keeping their encoding and creation time, so an old store soon serves
// every object a chunk at a time.
//
// # Objects in S3-compatible storage
//
// [Blobs] is the seam between the catalog and where objects' bytes live:
// put verified by digest, ranged read, stat, delete, list. Without
// Options.Blobs the bytes are Badger keys ([Store.BadgerBlobs] shows them
// through the seam); with it ([S3Blobs]: an S3-compatible bucket) a new
// object's bytes are one raw blob, uploaded whole and verified (the SHA-256
// before, and S3 checking x-amz-checksum-sha256 and Content-MD5 as it
// receives) before its om/ record of format 3 is written, which keeps the
// chunk table and its CRC-32Cs in Badger. Every read of a chunk is a ranged
// read of the blob checked against its CRC-32C, as for Badger chunks, and
// [Store.Verify] re-hashes the blobs, checks their lengths and lists the
// bucket for blobs without records. The collector deletes a record and
// then its blob, one object at a time under a per-digest lock shared with
// the writers (blob.go), and deletes blobs no record names (an upload cut
// off before its record): a bucket prefix belongs to one store. Objects of
// formats 1 and 2 stay in Badger and are read from there.
//
// # Key layout
//
// Digests in keys are the 32 raw bytes, never hex; nothing is ever looked up
// by a prefix of user input.
//
//	om/<digest>             object meta (objectlayout.go): format (1, 2 or 3), encoding (0 raw,
//	                        1 zstd), raw size, stored size (uint64 BE), created (Unix ns,
//	                        int64 BE); format 2 then: chunk raw size, chunk count n (uint32
//	                        BE), and n × (stored size, CRC-32C of the stored bytes) (uint32
//	                        BE). 26 bytes + 8 per MiB. HEAD, 304 and missing-object checks
//	                        read only this key.
//	                        Format 3: as format 2, with the bytes not in Badger but one raw
//	                        blob in Options.Blobs (S3: PREFIX/<hex digest>); encoding always
//	                        raw; chunk i is the blob's bytes [i MiB, (i+1) MiB)
//	oc/<digest><index>      chunk index (uint32 BE) of a format-2 object, as stored (raw,
//	                        or a zstd frame)
//	o/<digest>              the bytes of a format-1 object as stored (raw, or one zstd
//	                        frame); written only by versions before chunking
//	a/<app id>              app record, JSON {created_at}
//	b/<app id>\x00<version> bundle record, JSON {manifest, files, size, created_at,
//	                        min_update_version, link, comment, capgo_key_id, release {payload,
//	                        signature, key_id, public_key}, builtin, native_version}
//	                        (builtin: shipped in the app-store builds of native_version,
//	                        MarkBuiltin; the only field that changes after the commit); app ids cannot hold
//	                        \x00, so b/<app id>\x00 lists exactly one app's bundles
//	rk/<app id>\x00<seq>    release key rotation seq (uint64 BE, 1, 2, ...), JSON {payload,
//	                        signature, key_id, public_key} (api.SignedStatement; release.go)
//	ce/<app id>\x00<version>
//	                        a Capgo-encrypted bundle's api.CapgoEncryption, JSON {format,
//	                        key_id, session_key, checksum, files} (capgo.go), written with
//	                        the b/ record by CommitBundle and deleted with it; kept apart
//	                        because it holds a 512-character signed hash per file
//	m/<manifest digest>     zstd of the canonical manifest encoding (manifest.Encode),
//	                        whose SHA-256 is the digest; kept while a bundle uses it
//	k/<key id>              API key record, JSON {secret_sha256, scope, apps, channels,
//	                        name, created_at}; the secret itself is never stored
//	u/<upload id>           upload session: uvarint length, JSON header {app, version,
//	                        manifest, meta, capgo_encrypted, created_at, expires_at}, zstd
//	                        manifest encoding
//	ue/<upload id>          the session's api.CapgoEncryption, JSON (capgo.go), when
//	                        capgo_encrypted: apart, so that the u/ value each object PUT
//	                        and GC pass decodes stays small; deleted with the session
//	dp/<codec>\x00<kind><from><to>
//	                        patch mapping (patch.go): kind 'b' (bundle patch: from and to
//	                        are manifest digests) or 'f' (per-file patch: file digests),
//	                        49 bytes: format 1, patch object digest (zero: made, found
//	                        useless, nothing stored), size (uint64 BE), created (Unix ns).
//	                        The patch bytes are an ordinary object (o/, om/). The
//	                        server's step objects (native protocol 2) are kind 'b'
//	                        mappings of codecs step-1 (final) and step-1-draft
//	gc/<digest>             time (Unix ns, int64 BE) the object was first found
//	                        unreferenced by the garbage collector
//	s/ref-epoch             16 random bytes, rewritten by every transaction that adds
//	                        references (CommitBundle, CreateUpload, PutDerived, TouchDerived);
//	                        see Garbage collection
//	c/<app>\x00<channel>    channel record, JSON {id, bundle, public, ios, android, electron,
//	                        allow_self_assign, allow_emulator, allow_device, allow_dev,
//	                        allow_prod, policy, allow_under_native, rollout {id, bundle,
//	                        basis_points, paused, started_at}, sequence, pending {action,
//	                        bundle, rollout, since, deadline, bases_total, bases_done},
//	                        paused, disabled, guard {failure_rate_bp, min_installs, action},
//	                        guard_trips [{at, bundle, action, failures, attempts,
//	                        lower_bound, failure_rate_bp, detail}] (the last 20),
//	                        created_at, updated_at} (channel.go; pending: channel_switch.go;
//	                        guard: channel_guard.go; records without the new members decode
//	                        with them off);
//	                        c/<app>\x00 lists one app's channels in name order
//	ch/<app>\x00<channel>   the channel's history, JSON array of {at, action, bundle,
//	                        previous, detail}, the last 100 events
//	cd/<app>\x00<device id> device override: the channel name the device is pinned to
//	                        (device ids lower-cased)
//	cs/<app>\x00<device id> channel an old plugin assigned itself (channel_self)
//	s/objects-external      1: the store was opened with Options.Blobs (object_external.go);
//	                        `serve` refuses to start it without --objects
//	s/catalog-postgres      (local Badger) the directory ran with Options.Catalog (cluster.go);
//	                        a start without a PostgreSQL catalog is refused
//	s/catalog-local-blobs   (shared catalog) the node whose own Badger holds the objects'
//	                        bytes when no Options.Blobs is given: any other node is refused
//	pl/<from><to>           patch job lease (patch_lease.go): expiry (unix ns, uint64 BE) and
//	                        the holding node's id; one node makes a pair's patches at a time
//	s/migrated              JSON {from, at, keys, objects}: the catalog was written by Migrate
//	                        (migrate.go), in its last transaction with s/objects-external
//	s/channel-id            last channel id given (uint64 BE); DeleteBundle reads it so a
//	                        CreateChannel that starts serving the bundle conflicts with it
//	dz/<manifest digest>    32 bytes: digest of the object holding the bundle's deterministic
//	                        zip (derived.go)
//	br/<file digest>        32 bytes: digest of the object holding the file's Brotli form, or
//	                        the single byte 0: Brotli is not smaller (derived.go)
//	dv/<app>\x00<device id> device record, JSON {first_seen, last_seen, platform, version_os,
//	                        version_build, plugin_version, custom_id, default_channel,
//	                        is_emulator, is_prod, bundle, channel, events, next_seq}
//	ev/<app>\x00<device id>\x00<seq>
//	                        one stats event (seq uint64 BE, per device), JSON {at, device_at,
//	                        action, version_name, old_version_name, channel, metadata}
//	sb/<app>\x00<channel>\x00<bundle>
//	                        per-bundle counters, JSON {devices, checks, downloads, installs,
//	                        failures, rollbacks}; devices is kept in step with the dv/ records
//	sh/<app>\x00<hour><channel>\x00<bundle>
//	                        the same counters for one UTC hour (hour: Unix seconds, uint64 BE):
//	                        the counts added that hour, devices the gauge after its last
//	                        write (series.go)
//	wh/<app>\x00<hook id>   webhook, JSON {url, events, secret, previous, previous_expires,
//	                        created_at} (webhook.go); the secrets are kept as they are:
//	                        deliveries are signed with secret, and with previous (the
//	                        one a rotation replaced) until previous_expires, then it is
//	                        ignored (and dropped by the next rotation)
//	wq/<app>\x00<hook id>\x00<seq>
//	                        the hook's durable delivery queue and log (seq uint64 BE, the
//	                        app's event sequence), JSON {id, event, type, body, status,
//	                        attempts, last_error, next_attempt, created_at, done_at}
//	                        (webhook_queue.go):
//	                        written in the transaction of the change it reports; the
//	                        newest WebhookLogKeep finished ones are kept per hook
//	wn/<app>                the app's last webhook event sequence (uint64 BE)
//
// # Derived objects
//
// The bundle zip the Capgo protocol downloads and the Brotli form of a file
// are computed once and stored as ordinary objects; dz/ and br/ remember
// which object a manifest or file was derived into ([Store.PutDerived],
// [Store.GetDerived]). No bundle references them, so they stay alive only
// while someone serves them: the server passes the ones it hands out to
// [Store.TouchDerived] at least every [Store.DerivedRefresh] (GCGrace/4),
// which clears their GC marks like CommitBundle does. One nobody asked for
// during GCGrace is collected; its mapping then reads as absent and the
// object is derived again on the next request.
//
// # Devices and stats
//
// [Store.RecordActivity] writes, per device, the latest report (dv/), the
// stats events it sent (ev/) and the per-bundle counters (sb/) in one
// transaction per chunk of devices. Retention is bounded: each device keeps
// its newest [EventsPerDevice] events (older ones are deleted as new ones
// arrive), and [Store.ExpireDevices] forgets devices not seen for a given
// time with all their events. Stats writes are batched by the server (one
// transaction for many requests), not one per request. Every counter write
// also lands in its hour bucket (sh/), which [Store.StatsSeries] sums into
// hours or days for charts, carrying each device gauge forward through
// hours nothing changed in; buckets older than [SeriesRetention] are pruned
// by ExpireDevices, but for the newest of each channel and bundle.
//
// # Channels
//
// Channel changes ([Store.CreateChannel], [Store.UpdateChannel] and the
// helpers built on it: SetChannelBundle, RollbackChannel, Rollout) are one
// read-modify-write transaction each: the record, its history event and the
// checks (bundle exists, one public channel per platform) commit together
// or not at all, and a racing change conflicts and retries. A release-guard
// trip ([Store.TripGuard]) is one too: it checks that the guard still
// watches the bundle and never tripped on it, records the trip and applies
// its action (pause, rollback) with its history event. DeleteBundle
// refuses a bundle a channel serves or rolls out, reading every channel in
// its transaction, so a channel never serves a deleted bundle.
//
// A change that must wait for its patches is staged ([Store.StageChannel]):
// the record keeps serving what it served, with the change as its pending
// switch (Pending: action, bundle, rollout, since, deadline, progress);
// [Store.CompleteSwitch] makes it in one transaction (Sequence and history
// move then, not before). Any later change of what the channel serves
// (saveChannel) drops a pending switch; DeleteBundle also refuses a bundle
// a switch is pending for; [Store.PendingSwitches] lists them all so the
// server resumes them at start.
// [Store.Snapshot] reads the app, its channels, its bundles and the device's
// override and self-assignment in one read transaction, with no cache: a
// device decision sees every change committed before it.
//
// # Webhooks
//
// A change that hooks may hear of (a bundle committed, a channel serving
// something else) queues its deliveries in its own transaction
// (publishTxn, webhook_queue.go; webhookTypes in webhook.go is the one
// table from publish events to webhook event types): one wq/ row per subscribed hook, all with the
// same event id and body, numbered by the app's wn/ sequence. So a change
// is committed with its deliveries or not at all, and a crash after commit
// loses none. [Store.WebhookQueue] hands the server's worker each hook's
// first pending delivery only (a hook hears an app's events in order);
// [Store.RecordWebhookAttempt] records each attempt, and prunes the
// hook's finished deliveries to its newest [WebhookLogKeep]. Delivery is
// at least once: a crash between the receiver's answer and the record of
// it sends that delivery again (same event id) after the restart.
//
// # Durability
//
// Badger runs with SyncWrites: a transaction's WAL and value-log writes are
// fsynced before Commit returns, and only then do other readers see it. So
// when a write method (PutObject, CommitBundle, CreateKey, ...) returns
// nil, its data survives a process kill and a power cut. The alternative,
// SyncWrites off plus DB.Sync() before returning, was measured and
// rejected: 1 MiB PutObject ran at 22 MB/s that way against 84 MB/s with
// SyncWrites (ext4 VM; without any sync 89 MB/s). DB.Sync() also syncs only
// the active memtable's WAL, so a write that landed in a memtable just
// rotated out would be acknowledged unsynced, and a concurrent PutObject of
// the same digest could see (and acknowledge) an object not yet synced.
//
// Objects are written before the bundle that references them, and
// CommitBundle checks them inside its transaction: a bundle is either
// committed whole, with every object present, or not at all.
//
// # Badger tuning
//
// For small machines (docs/security-bar.md §4): 32 MiB memtables × 3,
// 256 MiB value-log files (value-log GC never collects the newest file, so
// smaller files reclaim sooner), one version kept, no block compression
// (objects are compressed already, keys are hashes), a 16 MiB index cache.
// ValueThreshold is 64 KiB: the many small files of a web bundle stay in
// the LSM tree (one lookup to read, reclaimed by compaction), the few large
// ones that hold most bytes go to the value log (never rewritten by
// compaction, reclaimed by value-log GC). Open first opens every table the
// Badger MANIFEST lists on its own goroutine, because Badger panics on some
// corrupt tables in goroutines no recover can reach; such a panic, or one
// in badger.Open, is returned as [ErrCorrupt].
//
// # Garbage collection
//
// [Store.CollectGarbage] (every GCInterval in the background) finds live
// objects, those of every bundle's and every unexpired upload session's
// manifest and the patches mapped (dp/) between two live bundles' manifests
// or two live files, from one snapshot. It marks each unreferenced object (gc/) and
// deletes it only when it is still unreferenced at least GCGrace after
// being marked, so downloads of a just-deleted bundle can finish.
// Races with publishing are closed by Badger's conflict detection:
//
//   - CommitBundle reads the om/ key of every object inside its transaction,
//     so if a GC delete of one commits first, CommitBundle conflicts,
//     retries, and reports the object missing.
//   - CommitBundle, CreateUpload and PutPatch delete the marks of their
//     objects and rewrite s/ref-epoch; each GC delete transaction rereads the epoch (and
//     the mark), so if references were added since the GC snapshot it
//     conflicts or sees the new epoch, and the sweep starts over.
//
// Then value-log GC runs until it has nothing to rewrite. Ask
// [Store.MissingObjects] after [Store.CreateUpload]: from then on the
// session keeps the objects it did not list.
package store
