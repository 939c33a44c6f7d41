package auth

import "github.com/iogate/iogate"

// OnChange registers fn to receive the changes of kind that the engine reads from the
// store's change feed, for state other than API keys and signing keys that a process keeps
// in memory, such as the HTTP server's copy of each account's vaults. The engine calls fn
// once for every change of that kind it applies, and once with a KeyChange that carries
// only the kind after every full reload, because changes may have been missed before one.
// A change may be delivered more than once, so fn must be idempotent.
//
// fn runs while the engine holds its sync lock: it must not block and must not call the
// engine. It receives only the changes applied after it was registered, which suits
// state that is loaded on demand. Registering for iogate.ChangeAPIKey or
// iogate.ChangeSigningKeys has no effect, because the engine applies those itself.
func (s *Service) OnChange(kind string, fn func(iogate.KeyChange)) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.changeListeners == nil {
		s.changeListeners = make(map[string][]func(iogate.KeyChange))
	}
	s.changeListeners[kind] = append(s.changeListeners[kind], fn)
}

// deliverChange passes c to the listeners of its kind. The caller holds syncMu.
func (s *Service) deliverChange(c iogate.KeyChange) {
	for _, fn := range s.changeListeners[c.Kind] {
		fn(c)
	}
}

// deliverReload tells every listener that anything may have changed. The caller holds
// syncMu.
func (s *Service) deliverReload() {
	for kind, fns := range s.changeListeners {
		for _, fn := range fns {
			fn(iogate.KeyChange{Kind: kind})
		}
	}
}
