package store

import (
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
)

// TestCapgoEncryption: an upload's encryption travels in its session (at
// its own key, which GetUploadFiles does not read, deleted with the session
// or when it expires) and is written beside the bundle record by the commit
// (the record keeps only the key id), and deleted with the bundle; one that does not fit the
// files is ErrInvalid and stores nothing.
func TestCapgoEncryption(t *testing.T) {
	s, clk := newTestStore(t)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	fs := someFiles(2, "ct")
	putFiles(t, s, fs...)
	m := manifestOf(t, fs...)
	sig := strings.Repeat("ab", 256)
	b64 := base64.StdEncoding.EncodeToString
	enc := &api.CapgoEncryption{Format: 1, KeyID: "MIIBCgKCAQEAvD1tX3Jd", SessionKey: b64(make([]byte, 16)) + ":" + b64(make([]byte, 256)),
		Files: map[string]string{fs[0].path: sig, fs[1].path: sig}}

	for _, tc := range []struct {
		name  string
		meta  api.BundleMeta
		files []file
	}{
		{"key id differs", api.BundleMeta{CapgoKeyID: "AAAAAAAAAAAAAAAAAAAA", CapgoEncryption: enc}, fs},
		{"encryption file too", api.BundleMeta{CapgoEncryption: enc}, append(fs[:2:2], file{api.CapgoEncryptionPath, []byte("{}")})},
		{"file without hash", api.BundleMeta{CapgoEncryption: enc}, append(fs[:2:2], file{"more.js", []byte("x")})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := allKeys(t, s)
			bm := manifestOf(t, tc.files...)
			if _, err := s.CreateUpload(ctx, "app", "9.0.0", bm, tc.meta); !errors.Is(err, ErrInvalid) {
				t.Errorf("CreateUpload = %v; want ErrInvalid", err)
			}
			if _, err := s.CommitBundle(ctx, "app", "9.0.0", bm, tc.meta); !errors.Is(err, ErrInvalid) {
				t.Errorf("CommitBundle = %v; want ErrInvalid", err)
			}
			if after := allKeys(t, s); !reflect.DeepEqual(after, before) {
				t.Errorf("refused upload changed the store")
			}
		})
	}

	meta := api.BundleMeta{Comment: "secret", CapgoEncryption: enc}
	up, err := s.CreateUpload(ctx, "app", "1.0.0", m, meta)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetUpload(ctx, up.ID)
	if err != nil || !reflect.DeepEqual(got.Meta, meta) {
		t.Fatalf("GetUpload meta = %+v, %v; want %+v", got.Meta, err, meta)
	}
	files, err := s.GetUploadFiles(ctx, up.ID)
	if err != nil || files.Meta.CapgoEncryption != nil || files.Meta.Comment != meta.Comment {
		t.Errorf("GetUploadFiles meta = %+v, %v; want it without the encryption", files.Meta, err)
	}
	b, err := s.CommitBundle(ctx, "app", "1.0.0", m, got.Meta)
	if err := s.DeleteUpload(ctx, up.ID); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if b.CapgoKeyID != enc.KeyID || b.CapgoEncryption != nil {
		t.Errorf("committed bundle key id %q, encryption %v; want %q and none in the record", b.CapgoKeyID, b.CapgoEncryption, enc.KeyID)
	}
	if e, err := s.CapgoEncryption(ctx, "app", "1.0.0"); err != nil || !reflect.DeepEqual(&e, enc) {
		t.Errorf("CapgoEncryption = %+v, %v; want %+v", e, err, enc)
	}
	if _, err := s.CommitBundle(ctx, "app", "2.0.0", m, api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CapgoEncryption(ctx, "app", "2.0.0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("CapgoEncryption of a plaintext bundle = %v; want ErrNotFound", err)
	}
	if err := s.DeleteBundle(ctx, "app", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CapgoEncryption(ctx, "app", "1.0.0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("CapgoEncryption after DeleteBundle = %v; want ErrNotFound", err)
	}
	for _, k := range allKeys(t, s) {
		if strings.HasPrefix(k, pfxCapgoEncryption) || strings.HasPrefix(k, pfxUploadEncryption) {
			t.Errorf("key %q left after DeleteUpload and DeleteBundle", k)
		}
	}

	// An expired session's encryption goes with it.
	up, err = s.CreateUpload(ctx, "app", "3.0.0", m, meta)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(s.opts.UploadTTL + time.Minute)
	if _, err := s.CollectGarbage(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range allKeys(t, s) {
		if strings.HasPrefix(k, pfxUploadEncryption) || strings.HasPrefix(k, pfxUpload) {
			t.Errorf("key %q left after the session expired", k)
		}
	}
}
