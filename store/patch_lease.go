package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/patchwire/patchwire/manifest"
)

// Patch job leases (issue 12): with several nodes over one catalog, a
// pair's patches are made by one node at a time. The lease is a catalog
// key, pl/<from><to> → expiry (8 bytes, unix ns, big-endian) and the
// holder's node id, taken in a transaction (two nodes racing for it
// conflict, one wins); the others skip the job, or wait for the lease to
// go, and serve the patches once their mappings appear. A node that dies
// holding one leaves it to expire.

// pfxPatchLease is the prefix of patch job leases.
const pfxPatchLease = "pl/"

// newNodeID names this opening of the store among the nodes: host and a
// random suffix.
func newNodeID() string {
	host, _ := os.Hostname()
	var b [6]byte
	rand.Read(b[:])
	return host + "/" + hex.EncodeToString(b[:])
}

func patchLeaseKey(from, to manifest.Digest) []byte {
	return append(digestKey(pfxPatchLease, from), to[:]...)
}

// LeasePatchJob takes the lease of the patch job from → to for ttl: ok
// false when another node holds an unexpired one. release gives it back
// (when still this node's).
func (s *Store) LeasePatchJob(ctx context.Context, from, to manifest.Digest, ttl time.Duration) (release func(), ok bool, err error) {
	key := patchLeaseKey(from, to)
	err = s.updateData(ctx, func(txn kvTxn) error {
		ok = false
		v, found, err := getValue(txn, key)
		if err != nil {
			return err
		}
		now := s.opts.Now()
		if found && len(v) >= 8 && string(v[8:]) != s.node && now.UnixNano() < int64(binary.BigEndian.Uint64(v)) {
			return nil
		}
		ok = true
		val := binary.BigEndian.AppendUint64(nil, uint64(now.Add(ttl).UnixNano()))
		return txn.Set(key, append(val, s.node...))
	})
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("patch job lease: %w", err)
		}
		return nil, false, err
	}
	return func() {
		err := s.updateData(context.WithoutCancel(ctx), func(txn kvTxn) error {
			v, found, err := getValue(txn, key)
			if err != nil || !found || len(v) < 8 || string(v[8:]) != s.node {
				return err
			}
			return txn.Delete(key)
		})
		if err != nil {
			s.log.Warn("patch job lease not released (it expires)", "err", err)
		}
	}, true, nil
}
