package admin

import "mailsrv/store"

var _ Store = (*store.Store)(nil)

// storeOf is the tests' concrete store behind h (the handlers they build
// all get a *store.Store), for the setup and checks outside Store.
func storeOf(h *Handler) *store.Store { return h.Store.(*store.Store) }
