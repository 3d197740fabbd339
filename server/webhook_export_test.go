package server

// PauseWebhooks stops s's webhook worker from starting deliveries (those
// in flight are recorded first) until resume.
func PauseWebhooks(s *Server) (resume func()) { return s.hooks.Pause() }
