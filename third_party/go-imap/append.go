package imap

import (
	"time"
)

// AppendOptions contains options for the APPEND command.
type AppendOptions struct {
	Flags []Flag
	Time  time.Time
	// mailsrv patch: Binary reports a message sent as literal8 (~{n},
	// RFC 3516 §4.2, or UTF8 (~{n}), RFC 6855), which may hold NUL.
	Binary bool
	// mailsrv patch end
}

// AppendData is the data returned by an APPEND command.
type AppendData struct {
	// requires UIDPLUS or IMAP4rev2
	UID         UID
	UIDValidity uint32
}
