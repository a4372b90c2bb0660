package submit

import "mailsrv/store"

// *store.Store is the Store the server wires in.
var _ Store = (*store.Store)(nil)
