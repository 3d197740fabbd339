package store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/patchwire/patchwire/manifest"
)

// S3Config says where S3Blobs keeps blobs: `serve --objects
// s3://BUCKET/PREFIX?endpoint=URL&region=R[&credentials=FILE]` (ParseS3URL).
type S3Config struct {
	Bucket   string
	Prefix   string // "" or ending in "/"; a blob's key is Prefix + hex digest
	Endpoint string // scheme and host, e.g. "https://s3.eu-west-1.amazonaws.com"
	Region   string
	// AccessKey and SecretKey (and SessionToken) authenticate; with
	// CredentialsFile set they come from that AWS credentials file
	// (profile "default", or AWS_PROFILE) instead.
	AccessKey, SecretKey, SessionToken string
	CredentialsFile                    string
	// Redirect, when set, makes downloads of external objects redirects:
	// "presign" (a presigned GET URL, valid PresignTTL) or a base URL the
	// bucket is publicly readable at (BASE/<key>). Empty: the server
	// streams the bytes itself.
	Redirect string
	// PresignTTL is how long a presigned URL is valid. Default 1h.
	PresignTTL time.Duration
}

// ParseS3URL parses an --objects URL: s3://BUCKET/PREFIX with the query
// parameters endpoint (required: where the S3 API answers, http or https),
// region (default us-east-1) and credentials (an AWS credentials file).
// Credentials otherwise come from getenv: AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. A URL that is not one is
// ErrInvalid, naming what is wrong.
func ParseS3URL(raw string, getenv func(string) string) (S3Config, error) {
	bad := func(why string) (S3Config, error) {
		return S3Config{}, invalid("objects URL", raw, why)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return bad(err.Error())
	case u.Scheme != "s3":
		return bad(`must start with s3:// (s3://BUCKET/PREFIX?endpoint=URL&region=R)`)
	case u.Host == "" || u.User != nil || u.Port() != "":
		return bad("must name a bucket: s3://BUCKET/PREFIX")
	case u.Fragment != "":
		return bad("must not have a #fragment")
	}
	c := S3Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/"), Region: "us-east-1"}
	if c.Prefix != "" {
		c.Prefix += "/"
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad(err.Error())
	}
	for k, v := range q {
		if len(v) != 1 || v[0] == "" {
			return bad(fmt.Sprintf("query parameter %q must be given once, with a value", k))
		}
		switch k {
		case "endpoint":
			c.Endpoint = v[0]
		case "region":
			c.Region = v[0]
		case "credentials":
			c.CredentialsFile = v[0]
		default:
			return bad(fmt.Sprintf("unknown query parameter %q (known: endpoint, region, credentials)", k))
		}
	}
	if c.Endpoint == "" {
		return bad("needs ?endpoint=URL, where the S3 API answers (e.g. https://s3.eu-west-1.amazonaws.com)")
	}
	if e, err := url.Parse(c.Endpoint); err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || strings.Trim(e.Path, "/") != "" {
		return bad(fmt.Sprintf("endpoint %q must be http:// or https:// and a host, with no path", c.Endpoint))
	}
	if c.CredentialsFile == "" {
		c.AccessKey, c.SecretKey, c.SessionToken = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN")
		if c.AccessKey == "" || c.SecretKey == "" {
			return bad("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add &credentials=FILE")
		}
	}
	return c, nil
}

// S3Blobs keeps blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph,
// versitygw, ...), one object per blob at Prefix + hex digest, raw, so the
// S3 object hashes to its name. A prefix belongs to one patchwire store:
// the collector deletes blobs under it that the store's catalog does not
// name.
type S3Blobs struct {
	c   *minio.Client
	cfg S3Config
}

var _ interface {
	Blobs
	BlobLocator
} = (*S3Blobs)(nil)

// OpenS3 connects to the bucket of cfg and checks, before anything is
// served, that the endpoint answers, the credentials are accepted and the
// bucket exists; each failure is an error saying which.
func OpenS3(ctx context.Context, cfg S3Config) (*S3Blobs, error) {
	e, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("objects: endpoint %q: %w", cfg.Endpoint, err)
	}
	creds := credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)
	if cfg.CredentialsFile != "" {
		creds = credentials.NewFileAWSCredentials(cfg.CredentialsFile, "")
		if _, err := creds.GetWithContext(nil); err != nil {
			return nil, fmt.Errorf("objects: credentials file %s: %w", cfg.CredentialsFile, err)
		}
	}
	if cfg.PresignTTL <= 0 {
		cfg.PresignTTL = time.Hour
	}
	c, err := minio.New(e.Host, &minio.Options{Creds: creds, Secure: e.Scheme == "https", Region: cfg.Region,
		BucketLookup: minio.BucketLookupAuto, TrailingHeaders: true})
	if err != nil {
		return nil, fmt.Errorf("objects: %w", err)
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		switch code := minio.ToErrorResponse(err).Code; code {
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken":
			return nil, fmt.Errorf("objects: %s refused the credentials (%s): %w", cfg.Endpoint, code, err)
		}
		return nil, fmt.Errorf("objects: cannot reach bucket %q at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("objects: bucket %q does not exist at %s: create it first", cfg.Bucket, cfg.Endpoint)
	}
	return &S3Blobs{c: c, cfg: cfg}, nil
}

// Client is the underlying minio-go client (tests reach the bucket with it).
func (b *S3Blobs) Client() *minio.Client { return b.c }

// Key is the S3 key of blob d.
func (b *S3Blobs) Key(d manifest.Digest) string { return b.cfg.Prefix + d.String() }

// PutBlob uploads raw to its final key in one PUT, which S3 makes visible
// only once it is complete, with its SHA-256 (x-amz-checksum-sha256: d)
// and MD5 (Content-MD5) for the server to check the bytes it received:
// a body damaged on the way is refused, not stored. The MD5 is also
// compared with the ETag S3 answers, where that is the MD5. Bytes that
// do not hash to d are refused before anything is sent. An existing blob
// d is overwritten with the same bytes.
func (b *S3Blobs) PutBlob(ctx context.Context, d manifest.Digest, raw []byte) error {
	if err := checkBlob(d, raw); err != nil {
		return err
	}
	return b.upload(ctx, d, raw)
}

// upload is PutBlob after the local check: S3 itself refuses raw unless
// it hashes to d (tests send bytes that do not).
func (b *S3Blobs) upload(ctx context.Context, d manifest.Digest, raw []byte) error {
	sum := md5.Sum(raw)
	info, err := b.c.PutObject(ctx, b.cfg.Bucket, b.Key(d), bytes.NewReader(raw), int64(len(raw)), minio.PutObjectOptions{
		DisableMultipart: true,
		SendContentMd5:   true,
		// No streaming signature (aws-chunked) over http: some servers keep
		// "Content-Encoding: aws-chunked" on the object, and a redirected
		// client would refuse it. The body is covered by the SHA-256 and
		// MD5 headers instead.
		DisableContentSha256: true,
		ContentType:          "application/octet-stream",
		// A blob never changes under its key: a CDN in front of the bucket
		// (--objects-redirect BASEURL) may keep it forever.
		CacheControl: "public, max-age=31536000, immutable",
		UserMetadata: map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(d[:])},
	})
	if err != nil {
		return fmt.Errorf("put blob %s: %w", d, err)
	}
	if info.ChecksumSHA256 != "" && info.ChecksumSHA256 != base64.StdEncoding.EncodeToString(d[:]) {
		return fmt.Errorf("put blob %s: S3 stored bytes with SHA-256 %s: %w", d, info.ChecksumSHA256, ErrCorrupt)
	}
	if etag := strings.Trim(info.ETag, `"`); len(etag) == 32 && !strings.EqualFold(etag, fmt.Sprintf("%x", sum)) {
		return fmt.Errorf("put blob %s: S3 stored bytes with ETag %s, not their MD5: %w", d, etag, ErrCorrupt)
	}
	return nil
}

// notFound maps S3's "no such key" to ErrNotFound (a missing bucket is
// another error: every blob would be gone).
func (b *S3Blobs) notFound(err error, d manifest.Digest) error {
	if r := minio.ToErrorResponse(err); r.Code == "NoSuchKey" || r.StatusCode == http.StatusNotFound && r.Code != "NoSuchBucket" {
		return fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	return fmt.Errorf("blob %s: %w", d, err)
}

// ReadBlob reads a range of blob d with one ranged GET.
func (b *S3Blobs) ReadBlob(ctx context.Context, d manifest.Digest, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("read blob: negative offset")
	}
	if len(p) == 0 {
		return 0, nil
	}
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(off, off+int64(len(p))-1); err != nil {
		return 0, err
	}
	o, err := b.c.GetObject(ctx, b.cfg.Bucket, b.Key(d), opts)
	if err != nil {
		return 0, b.notFound(err, d)
	}
	defer o.Close()
	n, err := io.ReadFull(o, p)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return n, io.EOF
	case minio.ToErrorResponse(err).Code == "InvalidRange":
		return 0, io.EOF
	}
	return n, b.notFound(err, d)
}

// StatBlob reads blob d's length with a HEAD.
func (b *S3Blobs) StatBlob(ctx context.Context, d manifest.Digest) (int64, error) {
	info, err := b.c.StatObject(ctx, b.cfg.Bucket, b.Key(d), minio.StatObjectOptions{})
	if err != nil {
		return 0, b.notFound(err, d)
	}
	return info.Size, nil
}

// DeleteBlob deletes blob d.
func (b *S3Blobs) DeleteBlob(ctx context.Context, d manifest.Digest) error {
	if err := b.c.RemoveObject(ctx, b.cfg.Bucket, b.Key(d), minio.RemoveObjectOptions{}); err != nil {
		return b.notFound(err, d)
	}
	return nil
}

// ListBlobs lists the keys under Prefix; keys that are not a hex digest
// are skipped.
func (b *S3Blobs) ListBlobs(ctx context.Context, fn func(d manifest.Digest, size int64) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine when fn fails
	for o := range b.c.ListObjects(ctx, b.cfg.Bucket, minio.ListObjectsOptions{Prefix: b.cfg.Prefix, Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("list blobs: %w", o.Err)
		}
		d, err := manifest.ParseDigest(strings.TrimPrefix(o.Key, b.cfg.Prefix))
		if err != nil {
			continue
		}
		if err := fn(d, o.Size); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// BlobURL is where a client fetches blob d when Redirect is set: a
// presigned GET (cacheable a tenth of its validity) or the public base URL
// and the key (cacheable forever).
func (b *S3Blobs) BlobURL(ctx context.Context, d manifest.Digest) (string, int64, bool, error) {
	switch b.cfg.Redirect {
	case "":
		return "", 0, false, nil
	case "presign":
		u, err := b.c.PresignedGetObject(ctx, b.cfg.Bucket, b.Key(d), b.cfg.PresignTTL, nil)
		if err != nil {
			return "", 0, false, fmt.Errorf("presign blob %s: %w", d, err)
		}
		return u.String(), max(1, int64(b.cfg.PresignTTL/time.Second)/10), true, nil
	}
	return strings.TrimSuffix(b.cfg.Redirect, "/") + "/" + b.Key(d), 0, true, nil
}

// SetRedirect sets Redirect from --objects-redirect: "presign", or the
// http(s) base URL the bucket is publicly readable at.
func (c *S3Config) SetRedirect(v string) error {
	if v != "presign" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return invalid("objects redirect", v, `must be "presign" or an http(s) base URL with no query (the bucket's public address)`)
		}
	}
	c.Redirect = v
	return nil
}
