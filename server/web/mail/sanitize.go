package mail

import (
	"html"
	"regexp"
	"strings"
	"sync"

	"github.com/microcosm-cc/bluemonday"
)

// policy is the HTML mail sanitizer: bluemonday's user-generated-content
// policy (no script, no event handlers, no style attributes or elements,
// no forms, frames, objects or SVG; links only to http, https and
// mailto), plus data: images and links that open outside the reader.
// Remote images survive as markup and are blocked by the reading frame's
// Content-Security-Policy until the reader asks for them.
var policy = sync.OnceValue(func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowDataURIImages()
	p.AllowAttrs("align", "valign", "width", "height", "bgcolor", "border", "cellpadding", "cellspacing").Globally()
	p.AllowAttrs("color", "face", "size").OnElements("font")
	p.AllowElements("font", "center")
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return p
})

// sanitize returns html safe to show in the reading frame.
func sanitize(s string) string { return policy().Sanitize(s) }

var remoteImg = regexp.MustCompile(`(?i)<img[^>]+src="https?:`)

// hasRemoteImages reports whether sanitized html loads images from the
// network (the reader then offers to show them).
func hasRemoteImages(s string) bool { return remoteImg.MatchString(s) }

var textOnly = sync.OnceValue(bluemonday.StrictPolicy)

var (
	blankLines = regexp.MustCompile(`\n{3,}`)
	blockEnds  = regexp.MustCompile(`(?i)<(br|/p|/div|/tr|/li|/h[1-6])[^>]*>`)
)

// htmlToText is the text of (sanitized) HTML, for quoting in replies.
func htmlToText(s string) string {
	s = blockEnds.ReplaceAllString(s, "$0\n")
	return strings.TrimSpace(blankLines.ReplaceAllString(html.UnescapeString(textOnly().Sanitize(s)), "\n\n"))
}

func htmlEscape(s string) string { return html.EscapeString(s) }
