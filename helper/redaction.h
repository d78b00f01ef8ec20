/* What a request carried that no message may quote, and where an untrusted text spells it.
 * A server may echo what it was sent in any encoding it likes: as it came, form- or
 * percent-decoded or -encoded, JSON-escaped, HTML-escaped. So a target is blanked wherever a
 * reading of the text decodes to it, not only where its bytes stand as they are. */
#ifndef KEYBEARER_REDACTION_H
#define KEYBEARER_REDACTION_H

#include <stddef.h>

/* the secret's 14 spellings (or a private key), an assertion's three (as it is,
 * form-encoded, its signature alone) and a subject token's two */
#define REDACTION_TARGETS 24

/* Byte strings that must not be shown; redaction_free wipes them. Zeroed: nothing to blank. */
struct redaction {
	char *target[REDACTION_TARGETS];
	size_t target_len[REDACTION_TARGETS];
	int closes_tag[REDACTION_TARGETS]; /* has a '>': spelled in a tag, it may end it */
	int any_closes_tag;
	size_t count;
	size_t max_span; /* no spelling of a target covers more text than this */
};

/* The matching work one text may take: some thousand times what a real reply needs. A
 * text that takes more (one written to make matching slow) is blanked from there on. */
#define REDACTION_WORK (1u << 21)

/* One pass over one untrusted text, front to back. */
struct redaction_scan {
	const struct redaction *r; /* NULL: nothing to blank */
	const char *text;
	size_t len;
	size_t work; /* left of REDACTION_WORK */
};

/* Adds a copy of bytes (skipped when empty or already there). 0, or -1 when out of memory
 * or full. */
int redaction_add(struct redaction *r, const char *bytes, size_t len);
void redaction_free(struct redaction *r);

void redaction_scan_start(struct redaction_scan *scan, const struct redaction *r, const char *text,
			  size_t len);

/* The end of the span of text to blank from i: at least end, past every spelling of a target
 * that starts before it, so a blank never stops inside one. i when nothing is to be blanked
 * there. in_tag: i is inside an HTML tag, which hides what a spelling without a '>' could
 * not end. A reading of the text decodes, unit by unit and mixed as they come:
 *  - bytes as they are;
 *  - %XX in either case, and + for a space (form and RFC 3986 percent-encoding);
 *  - JSON string escapes: \" \\ \/ \b \f \n \r \t and \uXXXX, surrogate pairs included;
 *  - HTML character references: &amp; &lt; &gt; &quot; &apos; &#NN; &#xHH;
 * with U+0080..U+00FF also read as the one byte of a server that took ours for ISO-8859-1,
 * and U+FFFD or '?' as a character beyond ASCII that a decoder on the way replaced.
 * A spelling cut off by the end of the text (a reply cut mid-secret) counts from 4 bytes. */
size_t redaction_span_end(struct redaction_scan *scan, size_t i, size_t end, int in_tag);

#endif
