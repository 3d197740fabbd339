package server

// QUICConns is how many HTTP/3 connections the server counts as open.
func QUICConns(s *Server) int { return s.quicGate.open() }
