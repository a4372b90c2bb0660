package web

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Outlook autodiscover ("POX", [MS-OXDSCLI]) namespaces.
const (
	nsAutodiscoverResponse = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
	nsOutlookResponse      = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
)

// autodiscoverRequest is the POST body Outlook sends. Tags carry no
// namespace so any (or none) matches, as clients differ.
type autodiscoverRequest struct {
	XMLName xml.Name `xml:"Autodiscover"`
	Request struct {
		EMailAddress             string `xml:"EMailAddress"`
		AcceptableResponseSchema string `xml:"AcceptableResponseSchema"`
	} `xml:"Request"`
}

type autodiscoverResponse struct {
	XMLName  xml.Name        `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
	Response outlookResponse `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Response"`
}

type outlookResponse struct {
	Account outlookAccount `xml:"Account"`
}

type outlookAccount struct {
	AccountType string            `xml:"AccountType"`
	Action      string            `xml:"Action"`
	Protocols   []outlookProtocol `xml:"Protocol"`
}

type outlookProtocol struct {
	Type           string `xml:"Type"`
	Server         string `xml:"Server"`
	Port           int    `xml:"Port"`
	DomainRequired string `xml:"DomainRequired"`
	LoginName      string `xml:"LoginName"`
	SPA            string `xml:"SPA"`
	SSL            string `xml:"SSL"`
	AuthRequired   string `xml:"AuthRequired"`
}

// autodiscoverError is the error shape Exchange answers with, e.g. for an
// ActiveSync (mobilesync schema) request we cannot serve.
type autodiscoverError struct {
	XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
	Response struct {
		Error struct {
			ErrorCode int    `xml:"ErrorCode"`
			Message   string `xml:"Message"`
			DebugData string `xml:"DebugData"`
		} `xml:"Error"`
	} `xml:"Response"`
}

// autodiscoverXML answers Outlook's POX autodiscover: POST with the address
// in the XML body, or GET with ?Email= (some tools and our own `domain
// verify` probe that way).
func (s *Server) autodiscoverXML(w http.ResponseWriter, r *http.Request) {
	var addr, schema string
	if r.Method == http.MethodPost {
		var req autodiscoverRequest
		dec := xml.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		if err := dec.Decode(&req); err != nil {
			http.Error(w, "bad autodiscover request: "+err.Error(), http.StatusBadRequest)
			return
		}
		addr, schema = req.Request.EMailAddress, strings.TrimSpace(req.Request.AcceptableResponseSchema)
	} else {
		addr = queryAddress(r)
	}
	if addr == "" {
		http.Error(w, "bad autodiscover request: no EMailAddress", http.StatusBadRequest)
		return
	}
	addr, domain, err := addressDomain(addr)
	if err != nil {
		http.Error(w, "bad autodiscover request: EMailAddress: "+err.Error(), http.StatusBadRequest)
		return
	}
	if !s.isLocal(r.Context(), domain) {
		http.NotFound(w, r)
		return
	}
	if schema != "" && schema != nsOutlookResponse {
		// ActiveSync clients ask for the mobilesync schema; we speak IMAP.
		// Exchange answers such requests with error 600 in a 200 response.
		var e autodiscoverError
		e.Response.Error.ErrorCode = 600
		e.Response.Error.Message = "Invalid Request"
		s.writeXML(w, "application/xml", e)
		return
	}
	proto := func(typ string, port int) outlookProtocol {
		return outlookProtocol{
			Type: typ, Server: s.opts.Hostname, Port: port,
			DomainRequired: "off", LoginName: addr, SPA: "off", SSL: "on", AuthRequired: "on",
		}
	}
	resp := autodiscoverResponse{Response: outlookResponse{Account: outlookAccount{
		AccountType: "email",
		Action:      "settings",
		// Outlook uses one SMTP entry; implicit TLS (465) is the one it
		// handles best with SSL=on. 587/STARTTLS is in Thunderbird's
		// autoconfig and the SRV records.
		Protocols: []outlookProtocol{proto("IMAP", s.opts.IMAPSPort), proto("SMTP", s.opts.SubmissionsPort)},
	}}}
	s.writeXML(w, "application/xml", resp)
}

// queryAddress reads the address from ?Email= (Microsoft's spelling) or
// ?emailaddress=.
func queryAddress(r *http.Request) string {
	q := r.URL.Query()
	for _, k := range []string{"Email", "email", "emailaddress", "EMailAddress"} {
		if v := q.Get(k); v != "" {
			return v
		}
	}
	return ""
}

// autodiscoverJSON answers Autodiscover v2, which modern Outlook asks
// first: GET /autodiscover/autodiscover.json?Email=A&Protocol=P or
// /autodiscover/autodiscover.json/v1.0/A?Protocol=P. For AutodiscoverV1 the
// answer is the URL of the POX endpoint; other protocols (EWS, ActiveSync,
// REST) are Exchange services we do not have.
func (s *Server) autodiscoverJSON(w http.ResponseWriter, r *http.Request) {
	addr := queryAddress(r)
	if addr == "" {
		// Path form: .../autodiscover.json/v1.0/{address}
		if i := strings.Index(r.URL.Path, "/v1.0/"); i >= 0 {
			addr = r.URL.Path[i+len("/v1.0/"):]
		}
	}
	protocol := r.URL.Query().Get("Protocol")
	if protocol == "" {
		protocol = r.URL.Query().Get("protocol")
	}
	if addr == "" {
		writeJSONError(w, http.StatusBadRequest, "MissingEmail", "The Email parameter is required.")
		return
	}
	_, domain, err := addressDomain(addr)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "InvalidEmail", fmt.Sprintf("The given email address %q is invalid.", addr))
		return
	}
	if protocol != "" && !strings.EqualFold(protocol, "AutodiscoverV1") {
		writeJSONError(w, http.StatusBadRequest, "InvalidProtocol",
			fmt.Sprintf("The given protocol value '%s' is invalid. Supported values are 'AutodiscoverV1'", protocol))
		return
	}
	if !s.isLocal(r.Context(), domain) {
		writeJSONError(w, http.StatusNotFound, "NotFound", "The domain is not served here.")
		return
	}
	// Point at the hostname: its certificate is the one we are sure to
	// have (acme mode issues for the hostname, not for autodiscover.<domain>).
	host := s.opts.Hostname
	writeJSON(w, http.StatusOK, map[string]string{
		"Protocol": "AutodiscoverV1",
		"Url":      "https://" + host + "/autodiscover/autodiscover.xml",
	})
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"ErrorCode": code, "ErrorMessage": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only maps of strings are passed; cannot happen, but never panic.
		b = []byte(`{"ErrorCode":"InternalError"}`)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
