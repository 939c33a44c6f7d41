package auth

import (
	"context"

	"github.com/iogate/iogate"
)

// OnChange registers fn to receive the changes of kind that the engine reads from the
// store's change feed, for state other than API keys and signing keys that a process keeps
// in memory, such as the HTTP server's copy of each account's vaults. The engine calls fn
// once for every change of that kind it applies. After every full reload it calls fn once
// with a KeyChange that carries only the kind, because changes may have been missed
// before one. It then calls fn with each change of that kind that the reload skipped
// (recorded after the last change applied and before the reload), in order, so that a
// change recorded while the feed was down still arrives. Changes that the retention sweep
// deleted before the reload read them are lost. A change may be delivered more than once,
// so fn must be idempotent.
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

// skippedChanges returns the changes after from and up to through whose kinds have
// listeners, in order: those that a full reload to through skips. It reads nothing when
// no listener is registered or nothing was skipped. The caller holds syncMu.
func (s *Service) skippedChanges(ctx context.Context, from, through int64) ([]iogate.KeyChange, error) {
	if len(s.changeListeners) == 0 || from >= through {
		return nil, nil
	}
	var skipped []iogate.KeyChange
	for from < through {
		changes, err := s.store.KeyChangesSince(ctx, from)
		if err != nil {
			return nil, err
		}
		if len(changes) == 0 {
			break
		}
		for _, c := range changes {
			if c.Seq > through {
				return skipped, nil
			}
			if len(s.changeListeners[c.Kind]) > 0 {
				skipped = append(skipped, c)
			}
		}
		from = changes[len(changes)-1].Seq
	}
	return skipped, nil
}
