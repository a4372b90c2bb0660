package mail

import "mailsrv/store"

var _ Store = (*store.Store)(nil)
