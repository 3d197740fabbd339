package server

// HoldSwitches makes the runners of pending switches wait before they
// make any patch until the returned function is called (tests: "the
// switch is still pending").
func HoldSwitches(s *Server) (release func()) {
	ch := make(chan struct{})
	s.switches.mu.Lock()
	s.switches.hold = ch
	s.switches.mu.Unlock()
	return func() {
		s.switches.mu.Lock()
		if s.switches.hold == ch {
			s.switches.hold = nil
		}
		s.switches.mu.Unlock()
		close(ch)
	}
}
