package auth

import (
	"github.com/emersion/go-sasl"
)

// The LOGIN challenges. Outlook and older Apple Mail expect exactly these
// strings (draft-murchison-sasl-login), and go-sasl's LOGIN client checks
// the second one byte for byte.
const (
	loginUsernameChallenge = "Username:"
	loginPasswordChallenge = "Password:"
)

type loginState int

const (
	loginStart loginState = iota
	loginWantUsername
	loginWantPassword
	loginDone
)

// loginServer is the server side of the obsolete but still needed SASL LOGIN
// mechanism: go-sasl ships only the client. One value serves one exchange.
type loginServer struct {
	state        loginState
	username     string
	authenticate func(username, password string) error
}

// NewLoginServer returns a sasl.Server for the LOGIN mechanism. It asks
// "Username:" then "Password:"; a client that sends the user name as initial
// response (as go-sasl's client and some phones do) skips the first
// challenge. An empty initial response is treated as none. authenticate's
// error is the result of the exchange. The user name may be of the form
// "user\mailbox" (see ResolveIdentity).
func NewLoginServer(authenticate func(username, password string) error) sasl.Server {
	return &loginServer{authenticate: authenticate}
}

func (s *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch s.state {
	case loginStart:
		if len(response) == 0 {
			s.state = loginWantUsername
			return []byte(loginUsernameChallenge), false, nil
		}
		s.username = string(response)
		s.state = loginWantPassword
		return []byte(loginPasswordChallenge), false, nil
	case loginWantUsername:
		s.username = string(response)
		s.state = loginWantPassword
		return []byte(loginPasswordChallenge), false, nil
	case loginWantPassword:
		s.state = loginDone
		return nil, true, s.authenticate(s.username, string(response))
	default:
		return nil, true, sasl.ErrUnexpectedClientResponse
	}
}

// NewPlainServer returns go-sasl's PLAIN server (RFC 4616). It is reused
// as is: it already hands the authorization identity to authenticate, which
// is how a member asks for a shared mailbox (SPEC §6.2); pass identity and
// username to ResolveIdentity. It lives here so listeners get both
// mechanisms from one place.
func NewPlainServer(authenticate func(identity, username, password string) error) sasl.Server {
	return sasl.NewPlainServer(sasl.PlainAuthenticator(authenticate))
}
