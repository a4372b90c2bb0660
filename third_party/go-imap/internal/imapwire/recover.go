// mailsrv patch: whole file. Recovery after a bad command.
//
// Upstream discards "the rest of the line" after a failed command, which
// is not the rest of the command: the data of a literal announced on that
// line, or a line cut at MaxSize, was then read as new commands, so
// `APPEND INBOX "bad date" {28+}` followed by a command in the literal ran
// that command (issue 12 #7). SkipCommand consumes exactly what is left of
// the command, literals included, and says when that is not possible (the
// connection must then be closed).
package imapwire

import (
	"bufio"
	"errors"
	"io"
	"strconv"
)

// ErrSkipLimit means what is left of a bad command is too large to read
// and drop; the connection should be closed.
var ErrSkipLimit = errors.New("imapwire: the rest of the command is too large to skip")

// IOErr returns the error of the underlying reader, if reading failed.
func (dec *Decoder) IOErr() error { return dec.ioErr }

// TooLong reports whether the command exceeded MaxSize.
func (dec *Decoder) TooLong() bool { return dec.tooLong }

// AcceptedLiteral records that a continuation request was sent for the
// literal whose header was read last: its data will come.
func (dec *Decoder) AcceptedLiteral() { dec.litAccepted = true }

// SkipCommand reads and drops what is left of the current command: the
// rest of an open literal (if its data is coming: non-synchronising, or a
// continuation was sent), the rest of the line, and the literals (and
// lines after them) that the line announces. A synchronising literal with
// no continuation ends the command: the client waits for one, and gets
// the tagged completion instead (RFC 9051 section 2.2.2). At most maxLine
// bytes of lines and maxLiteral bytes per literal are read.
func (dec *Decoder) SkipCommand(maxLine, maxLiteral int64) error {
	if dec.ioErr != nil {
		return dec.ioErr
	}
	if lit := dec.lastLit; lit != nil && lit.rem.N > 0 {
		dec.literal = false
		if !lit.nonSync && !dec.litAccepted {
			return nil
		}
		if err := dec.discard(lit.rem.N, maxLiteral); err != nil {
			return err
		}
		lit.rem.N = 0
	} else if dec.crlf {
		return nil // the command's final CRLF was read
	}
	dec.literal = false
	var (
		read int64
		tail []byte // the end of the current line
	)
	for {
		chunk, err := dec.r.ReadSlice('\n')
		read += int64(len(chunk))
		if read > maxLine {
			return ErrSkipLimit
		}
		tail = append(tail, chunk...)
		if len(tail) > 32 {
			tail = append(tail[:0], tail[len(tail)-32:]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		} else if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			dec.ioErr = err
			return err
		}
		size, nonSync, ok := trailingLiteral(tail)
		if !ok || !nonSync {
			dec.crlf = true
			return nil
		}
		if err := dec.discard(size, maxLiteral); err != nil {
			return err
		}
		tail = tail[:0]
	}
}

func (dec *Decoder) discard(n, max int64) error {
	if n > max {
		return ErrSkipLimit
	}
	if _, err := io.CopyN(io.Discard, dec.r, n); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		dec.ioErr = err
		return err
	}
	return nil
}

// trailingLiteral parses a literal header "{n}" or "{n+}" ending line
// (which ends with LF, optionally CRLF).
func trailingLiteral(line []byte) (size int64, nonSync, ok bool) {
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		n--
	}
	if n > 0 && line[n-1] == '\r' {
		n--
	}
	if n < 3 || line[n-1] != '}' {
		return 0, false, false
	}
	end := n - 1
	if line[end-1] == '+' {
		nonSync = true
		end--
	}
	start := end
	for start > 0 && line[start-1] >= '0' && line[start-1] <= '9' {
		start--
	}
	if start == end || start == 0 || line[start-1] != '{' {
		return 0, false, false
	}
	size, err := strconv.ParseInt(string(line[start:end]), 10, 64)
	if err != nil {
		return 0, false, false
	}
	return size, nonSync, true
}

// CheckMailboxName refuses names no mailbox can have: NUL and other
// control characters.
func CheckMailboxName(name string) error {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f {
			return &DecoderExpectError{Message: "mailbox name contains a control character"}
		}
	}
	return nil
}

// EnterNested counts one level of nesting that is not a parenthesised
// list (SEARCH NOT and OR) against the same limit as lists; false (and a
// syntax error) when it is too deep. Pair with LeaveNested.
func (dec *Decoder) EnterNested() bool {
	dec.listDepth++
	if dec.listDepth >= maxListDepth {
		dec.listDepth--
		return dec.returnErr(&DecoderExpectError{Message: "search keys nested too deep"})
	}
	return true
}

// LeaveNested ends a level started by EnterNested.
func (dec *Decoder) LeaveNested() { dec.listDepth-- }
