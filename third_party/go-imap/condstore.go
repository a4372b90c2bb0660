// mailsrv patch: whole file. Types of the server side of CONDSTORE and
// QRESYNC (RFC 7162) that upstream lacks.
package imap

// SelectQResync is the QRESYNC parameter of SELECT/EXAMINE (RFC 7162
// §3.2.5): what the client knew when it last saw the mailbox.
type SelectQResync struct {
	UIDValidity uint32
	ModSeq      uint64
	// KnownUIDs is nil when the client did not send it.
	KnownUIDs UIDSet
	// SeqMatchSeqs and SeqMatchUIDs are the optional sequence match data
	// (nil when absent).
	SeqMatchSeqs SeqSet
	SeqMatchUIDs UIDSet
}
