package auth

import "time"

// FeedLag returns how long the change feed has gone without confirming that the key view
// is current: under a second while it is healthy, growing while it is down. It is zero
// until Run starts.
func (s *Service) FeedLag() time.Duration {
	age, _ := s.health.staleness(s.now())
	return age
}
