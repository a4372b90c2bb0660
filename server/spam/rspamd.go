package spam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// rspamdTimeout bounds one /checkv2 request. rspamd answers in well under
// a second; a slow or dead one must not hold the SMTP client for long.
const rspamdTimeout = 10 * time.Second

// rspamd actions (https://rspamd.com/doc/architecture/protocol.html).
const (
	rspamdReject     = "reject"
	rspamdSoftReject = "soft reject"
	rspamdGreylist   = "greylist"
	rspamdAddHeader  = "add header"
	rspamdRewrite    = "rewrite subject"
	rspamdNoAction   = "no action"
)

// rspamdClient asks a running rspamd about a message over its HTTP
// protocol (POST /checkv2, the message as body, envelope in headers).
type rspamdClient struct {
	url     string // base, without trailing slash
	http    *http.Client
	timeout time.Duration
}

// rspamdQuery is the envelope rspamd is told about.
type rspamdQuery struct {
	IP       net.IP
	Helo     string
	MailFrom string
	Rcpts    []string
	QueueID  string
	Hostname string // our own
}

// rspamdResult is the part of rspamd's answer we use.
type rspamdResult struct {
	Action        string  `json:"action"`
	Score         float64 `json:"score"`
	RequiredScore float64 `json:"required_score"`
	Symbols       map[string]struct {
		Score float64 `json:"score"`
	} `json:"symbols"`
}

func (c *rspamdClient) check(ctx context.Context, q rspamdQuery, msg io.Reader) (*rspamdResult, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/checkv2", msg)
	if err != nil {
		return nil, err
	}
	if q.IP != nil {
		req.Header.Set("IP", q.IP.String())
	}
	if q.Helo != "" {
		req.Header.Set("Helo", q.Helo)
	}
	req.Header.Set("From", q.MailFrom)
	for _, r := range q.Rcpts {
		req.Header.Add("Rcpt", r)
	}
	if q.QueueID != "" {
		req.Header.Set("Queue-Id", q.QueueID)
	}
	if q.Hostname != "" {
		req.Header.Set("MTA-Name", q.Hostname)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("rspamd answered %s: %s", resp.Status, strings.TrimSpace(string(body[:min(len(body), 200)])))
	}
	var res rspamdResult
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, fmt.Errorf("rspamd answer: %w", err)
	}
	if res.Action == "" {
		return nil, errors.New("rspamd answer has no action")
	}
	return &res, nil
}
