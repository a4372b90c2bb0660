package imapd

import "mailsrv/store"

var _ Store = (*store.Store)(nil)
