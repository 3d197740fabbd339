// Package api holds the wire types the server and its clients both speak:
// the admin and upload API under /api/v1/ and (in later files) the native
// device protocol. It holds no logic beyond naming routes and error codes.
package api
