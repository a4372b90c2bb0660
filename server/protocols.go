package server

import (
	"context"

	"mailsrv/auth/msgauth"
	"mailsrv/server/autoreply"
	"mailsrv/server/imapd"
	"mailsrv/server/queue"
	"mailsrv/server/smtpd"
	"mailsrv/server/spam"
	"mailsrv/server/submit"
)

// addProtocols wires the mail services: MX intake, submission on both
// ports, IMAP on both ports, and the outbound queue runner.
func (s *Server) addProtocols() error {
	tlsConf := s.tls.TLSConfig()
	runner := queue.New(queue.Options{
		Store: s.store, Hostname: s.cfg.Hostname, Config: s.cfg.Outbound,
		Resolver: s.cfg.DNS.Resolver, Metrics: s.metrics, Log: s.log,
	})
	s.jobs = append(s.jobs, runner.Run)
	s.admin.WakeQueue = runner.Wake

	filter := spam.New(spam.Options{
		Store: s.store, Config: s.cfg.Spam, Resolver: s.resolver, Hostname: s.cfg.Hostname,
		Metrics: s.metrics, Log: s.log,
	})
	if s.cfg.Spam.JunkFilter {
		trainer := spam.NewTrainer(s.store, s.metrics, s.log)
		s.jobs = append(s.jobs, trainer.Run)
		s.onStop = append(s.onStop, trainer.Close)
	}
	// Automatic replies and the teams' reminder digests (server/autoreply).
	responder := &autoreply.Responder{Store: s.store, Hostname: s.cfg.Hostname, Wake: runner.Wake, Log: s.log}
	s.jobs = append(s.jobs, func(ctx context.Context) {
		responder.RunDigests(ctx, autoreply.DigestCheckInterval, s.store.Now)
	})
	s.jobs = append(s.jobs, responder.RunAssignNotices)
	s.onStop = append(s.onStop, responder.Close)
	mx := smtpd.NewMX(smtpd.MXOptions{
		Store: s.store, Hostname: s.cfg.Hostname, Limits: s.cfg.Limits, TLS: tlsConf,
		Verifier: msgauth.NewVerifier(s.resolver, s.cfg.Hostname), Spam: filter, Metrics: s.metrics, Log: s.log,
		AutoReply: responder,
	})
	if err := s.addService("smtp", s.cfg.Listen.SMTP, mx.Serve, mx.Shutdown); err != nil {
		return err
	}
	// One sending pipeline for both submission ports and the webmail.
	s.submit = submit.New(submit.Options{Store: s.store, Hostname: s.cfg.Hostname, SaveSent: s.cfg.Submission.SaveSent,
		Wake: runner.Wake, Log: s.log, AutoReply: responder})
	for _, sub := range []struct {
		name, addr string
		implicit   bool
	}{{"submission", s.cfg.Listen.Submission, false}, {"submissions", s.cfg.Listen.Submissions, true}} {
		srv := smtpd.NewSubmission(smtpd.SubmissionOptions{
			Store: s.store, Hostname: s.cfg.Hostname, Limits: s.cfg.Limits, TLS: tlsConf,
			ImplicitTLS: sub.implicit, Login: s.login, Metrics: s.metrics, Log: s.log, Wake: runner.Wake,
			SaveSent: s.cfg.Submission.SaveSent, AutoReply: responder, Submit: s.submit,
		})
		if err := s.addService(sub.name, sub.addr, srv.Serve, srv.Shutdown); err != nil {
			return err
		}
	}
	im := imapd.New(imapd.Options{
		Store: s.store, Hostname: s.cfg.Hostname, Limits: s.cfg.Limits, TLS: tlsConf,
		Login: s.login, Metrics: s.metrics, Log: s.log,
	})
	s.onStop = append(s.onStop, func() { im.Close() })
	if err := s.addService("imap", s.cfg.Listen.IMAP, im.Serve, im.Shutdown); err != nil {
		return err
	}
	return s.addService("imaps", s.cfg.Listen.IMAPS, im.ServeTLS, func(context.Context) error { return nil })
}
