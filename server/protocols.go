package server

// addProtocols wires the mail protocol services (SMTP, IMAP, queue).
func (s *Server) addProtocols() error {
	return nil
}
