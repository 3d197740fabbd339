package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/patchwire/patchwire/manifest"
)

// Problem kinds in a VerifyReport.
const (
	ProblemBadBundle       = "bad_bundle_record" // a b/ record that does not decode
	ProblemMissingManifest = "missing_manifest"  // a bundle whose manifest is absent
	ProblemCorruptManifest = "corrupt_manifest"  // a manifest that does not decode or hash to its key
	ProblemMissingObject   = "missing_object"    // a referenced object that is absent
	ProblemCorruptObject   = "corrupt_object"    // an object whose bytes do not verify
	ProblemOrphanRecord    = "orphan_record"     // an o/ key without its om/ key or the reverse
)

// Problem is one thing Verify found wrong.
type Problem struct {
	Kind    string          // one of the Problem constants
	Key     string          // the key concerned, printable: "b/<app>@<version>", "o/<hex digest>"; or "blob <hex digest>"
	App     string          // the app of the bundle concerned, when there is one
	Version string          // the version of that bundle
	Digest  manifest.Digest // the manifest or object concerned, when there is one
	Detail  string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s %s: %s", p.Kind, p.Key, p.Detail)
}

// VerifyReport is the result of a scrub.
type VerifyReport struct {
	Bundles   int   // bundle records checked
	Manifests int   // distinct manifests loaded
	Objects   int   // distinct referenced objects read and hash-verified
	Bytes     int64 // raw bytes hashed
	Problems  []Problem
}

// OK reports whether the scrub found nothing wrong.
func (r VerifyReport) OK() bool { return len(r.Problems) == 0 }

// Verify scrubs the store in one consistent snapshot: every bundle record
// decodes, its manifest loads and hashes to its digest, and every object a
// manifest references exists and its bytes hash to its digest (read a chunk
// at a time, so memory does not grow with object size); every om/ record
// has the keys holding its bytes (o/, or each oc/ chunk, or with
// Options.Blobs its blob) and the reverse.
// Problems go into the report (each corrupt key is also logged); the error
// is for a failed scrub (a cancelled context, a Badger error). Verify reads
// every referenced byte: run it off-peak.
func (s *Store) Verify(ctx context.Context) (VerifyReport, error) {
	var rep VerifyReport
	add := func(p Problem) {
		s.log.Error("verify: "+p.Kind, "key", p.Key, "detail", p.Detail)
		rep.Problems = append(rep.Problems, p)
	}
	hs, err := newHashStream()
	if err != nil {
		return rep, fmt.Errorf("verify: %w", err)
	}
	defer hs.close()
	err = s.view(ctx, func(txn kvTxn) error {
		// Bundles and their manifests.
		type ref struct{ app, version string }
		manifests := map[manifest.Digest]ref{}
		var order []manifest.Digest
		err := scan(txn, []byte(pfxBundle), true, func(key, v []byte) error {
			rep.Bundles++
			app, version := splitBundleKey(key)
			name := fmt.Sprintf("%s%s@%s", pfxBundle, app, version)
			var r bundleRecord
			if err := decodeRecord(key, v, &r); err != nil {
				if !errors.Is(err, ErrCorrupt) {
					return err
				}
				add(Problem{Kind: ProblemBadBundle, Key: name, App: app, Version: version, Detail: err.Error()})
				return nil
			}
			if _, ok := manifests[r.Manifest]; !ok {
				manifests[r.Manifest] = ref{app, version}
				order = append(order, r.Manifest)
			}
			return nil
		})
		if err != nil {
			return err
		}

		objects := map[manifest.Digest]ref{}
		var objOrder []manifest.Digest
		for _, md := range order {
			r := manifests[md]
			key := fmt.Sprintf("%s%s", pfxManifest, md)
			z, ok, err := getValue(txn, manifestKey(md))
			if err != nil {
				return err
			}
			if !ok {
				add(Problem{Kind: ProblemMissingManifest, Key: key, App: r.app, Version: r.version, Digest: md, Detail: "manifest absent"})
				continue
			}
			m, err := s.decodeManifest(md, z)
			if err != nil {
				add(Problem{Kind: ProblemCorruptManifest, Key: key, App: r.app, Version: r.version, Digest: md, Detail: err.Error()})
				continue
			}
			rep.Manifests++
			for _, d := range m.Digests() {
				if _, ok := objects[d]; !ok {
					objects[d] = r
					objOrder = append(objOrder, d)
				}
			}
		}

		// Referenced objects, each read and hashed once, a chunk at a time.
		for _, d := range objOrder {
			if err := ctx.Err(); err != nil {
				return err
			}
			r := objects[d]
			key := fmt.Sprintf("%s%s", pfxObject, d)
			info, err := s.verifyObjectTxn(ctx, txn, d, hs)
			switch {
			case errors.Is(err, ErrNotFound):
				add(Problem{Kind: ProblemMissingObject, Key: key, App: r.app, Version: r.version, Digest: d, Detail: "object absent"})
				continue
			case errors.Is(err, ErrCorrupt):
				add(Problem{Kind: ProblemCorruptObject, Key: key, App: r.app, Version: r.version, Digest: d, Detail: err.Error()})
				continue
			case err != nil:
				return err
			}
			rep.Objects++
			rep.Bytes += info.Size
		}
		if err := verifyObjectKeys(txn, add); err != nil {
			return err
		}
		if s.blobs == nil {
			return nil
		}
		return s.verifyBlobs(ctx, txn, add)
	})
	if err != nil {
		return rep, fmt.Errorf("verify: %w", err)
	}
	return rep, nil
}

// splitBundleKey returns the app id and version of a b/ key.
func splitBundleKey(k []byte) (app, version string) {
	rest := k[len(pfxBundle):]
	i := bytes.IndexByte(rest, bundleSep)
	if i < 0 {
		return string(rest), ""
	}
	return string(rest[:i]), string(rest[i+1:])
}
