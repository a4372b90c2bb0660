package acl

import "fmt"

// Op is an operation a member attempts on a shared mailbox.
type Op int

// Operations checked by Allows. Each maps to the least right that SPEC §5
// grants it with.
const (
	OpList         Op = iota + 1 // see the mailbox and its folders (LIST, NAMESPACE, SELECT, STATUS)
	OpRead                       // fetch messages (FETCH, SEARCH, copy out to one's own mailbox)
	OpSetSeen                    // set or clear \Seen
	OpWrite                      // set or clear flags other than \Seen
	OpExpunge                    // mark \Deleted and EXPUNGE
	OpAppend                     // APPEND a message
	OpCreateFolder               // CREATE a folder
	OpDeleteFolder               // DELETE a folder
	OpRenameFolder               // RENAME a folder
	OpMoveOut                    // MOVE messages out of a folder (removes them from it)
	OpCopyInto                   // COPY or MOVE messages into a folder
	OpSendAs                     // submit with From: the shared address
	OpSendOnBehalf               // submit with From: the shared address and Sender: the member
)

// OpSee is another name for OpList.
const OpSee = OpList

var opNames = [...]string{
	OpList: "list", OpRead: "read", OpSetSeen: "set-seen", OpWrite: "write",
	OpExpunge: "expunge", OpAppend: "append", OpCreateFolder: "create-folder",
	OpDeleteFolder: "delete-folder", OpRenameFolder: "rename-folder",
	OpMoveOut: "move-out", OpCopyInto: "copy-into", OpSendAs: "send-as",
	OpSendOnBehalf: "send-on-behalf",
}

// String names the operation for logs and the audit log.
func (o Op) String() string {
	if o >= OpList && int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Allows reports whether rights r permit op. Unknown operations are never
// allowed (fail closed).
//
// Send implies send-on-behalf: adding Sender: only discloses more about who
// sent, so refusing it to a member who may send as the address would protect
// nothing and break clients that add Sender: on their own.
func Allows(r Rights, op Op) bool {
	r = Effective(r)
	switch op {
	case OpList, OpRead, OpSetSeen:
		return r&Read != 0
	case OpWrite, OpExpunge, OpAppend, OpCreateFolder, OpDeleteFolder,
		OpRenameFolder, OpMoveOut, OpCopyInto:
		return r&Manage != 0
	case OpSendAs:
		return r&Send != 0
	case OpSendOnBehalf:
		return r&(Send|SendOnBehalf) != 0
	}
	return false
}

// Required returns the least right that allows op (0 for an unknown op),
// for error messages such as "NO [NOPERM] needs manage".
func Required(op Op) Rights {
	for _, r := range []Rights{Read, Manage, SendOnBehalf, Send} {
		if Allows(r, op) {
			return r
		}
	}
	return 0
}
