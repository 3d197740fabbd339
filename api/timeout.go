package api

// CodeRequestTimeout is the error code of a 408: the request body arrived
// slower than the server's minimum body rate.
const CodeRequestTimeout = "request_timeout"
