package store

import (
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

func message(h textproto.Header) gomessage.Header { return gomessage.Header{Header: h} }
