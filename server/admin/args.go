package admin

// The argument structs of the operations, exported so that every client —
// the CLI, the web console (POST /api/admin/{op}) and tests — builds the
// same typed request the handler decodes (strictly: an unknown field is an
// error). Each is defined beside its operations in ops_*.go.
type (
	UserArgs    = userArgs    // user.add, user.remove, user.passwd
	AliasArgs   = aliasArgs   // alias.add, alias.remove
	DomainArgs  = domainArgs  // domain.add, domain.remove
	DNSArgs     = dnsArgs     // domain.records, domain.verify
	SharedArgs  = sharedArgs  // shared.*
	MailboxArgs = mailboxArgs // mailbox.backup, mailbox.reassign
	TrashArgs   = trashArgs   // trash.restore, trash.purge
	QueueArgs   = queueArgs   // queue.retry, queue.drop
	BackupArgs  = backupArgs  // backup
	SpamArgs    = spamArgs    // spam.show, spam.reset
	TeamArgs    = teamArgs    // shared.assign, shared.done, shared.queue, shared.set, vacation.*
)
