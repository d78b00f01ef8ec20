#include "redaction.h"

#include <stdlib.h>
#include <string.h>

#include "safefile.h"

/* The longest escape read as one unit: a JSON surrogate pair, \uD83D\uDE00. */
#define UNIT_MAX 12
/* The longest unit: a JSON escape whose backslash came escaped too, &#x0005c;&#x0002f; */
#define UNIT_SPAN (2 * UNIT_MAX)
/* The byte itself, an escape, the ISO-8859-1 reading of that escape, and the JSON escapes
 * it may start when it stands for a backslash. */
#define UNIT_READINGS 6
/* A spelling cut off by the end of the text is blanked from this many bytes of text on;
 * shorter ones would blank the ends of ordinary words. */
#define CUT_MIN 4
/* UTF-8 of U+FFFD REPLACEMENT CHARACTER */
#define REPLACEMENT "\xEF\xBF\xBD"
/* Readings that branch (a '%' that may be itself or the start of %25) are followed on a
 * stack; a text that branches more than this is blanked rather than searched further. */
#define PENDING_MAX 64

/* One way to read the text at a position: len bytes of text standing for n bytes. */
struct unit {
	size_t len;
	size_t n;
	unsigned char byte[4];
};

struct reading {
	struct unit unit[UNIT_READINGS];
	size_t count;
};

int
redaction_add(struct redaction *r, const char *bytes, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < r->count; i++) {
		if (r->target_len[i] == len && memcmp(r->target[i], bytes, len) == 0)
			return 0;
	}
	if (r->count == REDACTION_TARGETS)
		return -1;
	r->target[r->count] = malloc(len);
	if (r->target[r->count] == NULL)
		return -1;
	memcpy(r->target[r->count], bytes, len);
	r->target_len[r->count] = len;
	r->closes_tag[r->count] = memchr(bytes, '>', len) != NULL;
	r->any_closes_tag |= r->closes_tag[r->count];
	r->count++;
	/* every unit stands for at least one byte and spans at most UNIT_SPAN; a cut spelling
	 * may end in one unfinished unit more */
	if ((len + 1) * UNIT_SPAN > r->max_span)
		r->max_span = (len + 1) * UNIT_SPAN;
	return 0;
}

void
redaction_free(struct redaction *r)
{
	size_t i;

	for (i = 0; i < r->count; i++)
		safefile_free_secret(r->target[i], r->target_len[i]);
	memset(r, 0, sizeof(*r));
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The value of the four hex digits at s, or -1. */
static long
hex4(const char *s, size_t avail)
{
	long value = 0;
	size_t i;

	if (avail < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		int digit = hex_digit(s[i]);
		if (digit < 0)
			return -1;
		value = value * 16 + digit;
	}
	return value;
}

static void
add_unit(struct reading *rd, size_t len, const unsigned char *bytes, size_t n)
{
	struct unit *u;

	if (rd->count == UNIT_READINGS)
		return; /* cannot happen: no position reads more ways */
	u = &rd->unit[rd->count++];
	u->len = len;
	u->n = n;
	memcpy(u->byte, bytes, n);
}

static void
add_byte(struct reading *rd, size_t len, unsigned char byte)
{
	add_unit(rd, len, &byte, 1);
}

/* A code point written as an escape of len bytes: its UTF-8, and for U+0080..U+00FF also
 * the one byte a server that read our bytes as ISO-8859-1 would have escaped. */
static void
add_code_point(struct reading *rd, size_t len, unsigned long cp)
{
	unsigned char utf8[4];
	size_t n;

	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return;
	if (cp < 0x80) {
		utf8[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		utf8[0] = (unsigned char)(0xC0 | (cp >> 6));
		utf8[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		utf8[0] = (unsigned char)(0xE0 | (cp >> 12));
		utf8[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		utf8[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		utf8[0] = (unsigned char)(0xF0 | (cp >> 18));
		utf8[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		utf8[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		utf8[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	add_unit(rd, len, utf8, n);
	if (cp >= 0x80 && cp <= 0xFF)
		add_byte(rd, len, (unsigned char)cp);
}

/* \" \\ \/ \b \f \n \r \t \uXXXX, and \uD800-\uDBFF followed by \uDC00-\uDFFF */
static void
read_json_escape(const char *s, size_t avail, struct reading *rd)
{
	static const char name[] = "\"\\/bfnrt", meaning[] = "\"\\/\b\f\n\r\t";
	const char *found;
	long cp, low;

	if (avail < 2 || s[1] == '\0')
		return;
	if (s[1] != 'u') {
		found = strchr(name, s[1]);
		if (found != NULL)
			add_byte(rd, 2, (unsigned char)meaning[found - name]);
		return;
	}
	cp = hex4(s + 2, avail - 2);
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (avail >= 12 && s[6] == '\\' && s[7] == 'u') {
			low = hex4(s + 8, avail - 8);
			if (low >= 0xDC00 && low <= 0xDFFF)
				add_code_point(rd, 12,
					       0x10000 + (((unsigned long)cp - 0xD800) << 10) +
						       ((unsigned long)low - 0xDC00));
		}
		return;
	}
	if (cp > 0)
		add_code_point(rd, 6, (unsigned long)cp);
}

/* &amp; &lt; &gt; &quot; &apos; (and the upper-case names HTML also knows), &#NN; &#xHH; */
static void
read_html_reference(const char *s, size_t avail, struct reading *rd)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {
		{ "&amp;", '&' },  { "&lt;", '<' },    { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' }, { "&AMP;", '&' },
		{ "&LT;", '<' },   { "&GT;", '>' },    { "&QUOT;", '"' },
	};
	unsigned long cp = 0;
	size_t i, k, digits = 0;
	int base = 10, digit;

	if (avail >= 2 && s[1] != '#') {
		for (k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
			size_t n = strlen(named[k].name);
			if (avail >= n && memcmp(s, named[k].name, n) == 0) {
				add_byte(rd, n, (unsigned char)named[k].c);
				return;
			}
		}
		return;
	}
	i = 2;
	if (i < avail && (s[i] == 'x' || s[i] == 'X')) {
		base = 16;
		i++;
	}
	/* leading zeros are allowed, but no reference is read past UNIT_MAX bytes */
	for (; i < avail && i + 1 < UNIT_MAX; i++, digits++) {
		digit = hex_digit(s[i]);
		if (digit < 0 || digit >= base)
			break;
		cp = cp * (unsigned long)base + (unsigned long)digit;
		if (cp > 0x10FFFF)
			return;
	}
	if (digits > 0 && i < avail && s[i] == ';')
		add_code_point(rd, i + 1, cp);
}

/* Every way to read the text at s as one unit of one escaping. */
static void
read_one_layer(const char *s, size_t avail, struct reading *rd)
{
	unsigned char c = (unsigned char)s[0];

	rd->count = 0;
	add_byte(rd, 1, c);
	if (c == '+') {
		add_byte(rd, 1, ' ');
	} else if (c == '%') {
		if (avail >= 3 && hex_digit(s[1]) >= 0 && hex_digit(s[2]) >= 0)
			add_byte(rd, 3, (unsigned char)(hex_digit(s[1]) * 16 + hex_digit(s[2])));
	} else if (c == '\\') {
		read_json_escape(s, avail, rd);
	} else if (c == '&') {
		read_html_reference(s, avail, rd);
	} else if ((c == 0xC2 || c == 0xC3) && avail >= 2 && ((unsigned char)s[1] & 0xC0) == 0x80) {
		/* our byte 0x80..0xFF, read as ISO-8859-1 and written back as UTF-8 */
		add_byte(rd, 2, (unsigned char)(((c & 3) << 6) | ((unsigned char)s[1] & 0x3F)));
	} else if (c == 0xEF && avail >= 3 && memcmp(s, REPLACEMENT, 3) == 0) {
		add_unit(rd, 3, (const unsigned char *)REPLACEMENT, 3);
	}
}

/* A JSON escape whose backslash came escaped once more (&#x5c;n, %5C%2F, \u005c"), as an
 * HTML page or a URL that shows JSON writes it: the escape the two stand for. */
static void
read_escaped_escape(const char *s, size_t avail, const struct unit *backslash, struct reading *rd)
{
	static const char name[] = "\"\\/bfnrt", meaning[] = "\"\\/\b\f\n\r\t";
	struct reading next;
	size_t a, at = backslash->len;
	const char *found;
	long cp;

	if (at >= avail)
		return;
	read_one_layer(s + at, avail - at, &next);
	for (a = 0; a < next.count && rd->count < UNIT_READINGS; a++) {
		const struct unit *u = &next.unit[a];
		if (u->n != 1)
			continue;
		if (u->byte[0] == 'u' && u->len == 1) {
			cp = hex4(s + at + 1, avail - at - 1);
			if (cp > 0 && (cp < 0xD800 || cp > 0xDFFF) &&
			    rd->count + 2 <= UNIT_READINGS)
				add_code_point(rd, at + 5, (unsigned long)cp);
		} else if (u->byte[0] != '\0' && (found = strchr(name, u->byte[0])) != NULL) {
			add_byte(rd, at + u->len, (unsigned char)meaning[found - name]);
		}
	}
}

/* Every way to read the text at s as one unit. */
static void
read_units(const char *s, size_t avail, struct reading *rd)
{
	size_t a, count;

	read_one_layer(s, avail, rd);
	count = rd->count;
	for (a = 1; a < count; a++) {
		if (rd->unit[a].n == 1 && rd->unit[a].byte[0] == '\\' && rd->unit[a].len > 1) {
			struct unit backslash = rd->unit[a];
			read_escaped_escape(s, avail, &backslash, rd);
		}
	}
}

/* Whether a unit is what a decoder writes for a character it could not carry: U+FFFD, or
 * '?' (json-c itself reads some surrogate pairs as U+FFFD). */
static int
is_replacement(const struct unit *u)
{
	return (u->n == 3 && memcmp(u->byte, REPLACEMENT, 3) == 0) ||
	       (u->n == 1 && u->byte[0] == '?');
}

/* The length of the UTF-8 sequence at t (1 for a byte that starts none). */
static size_t
sequence_length(const unsigned char *t, size_t avail)
{
	size_t n = t[0] >= 0xF0 && t[0] <= 0xF4 ? 4 : t[0] >= 0xE0 ? 3 : t[0] >= 0xC2 ? 2 : 1, i;

	if (n > avail)
		return 1;
	for (i = 1; i < n; i++) {
		if ((t[i] & 0xC0) != 0x80)
			return 1;
	}
	return n;
}

/* Whether text byte c can start a spelling of a target that starts with t: itself, an
 * escape, '+' for a space, or a re-encoding or replacement of a byte beyond ASCII. */
static int
may_start(unsigned char c, unsigned char t)
{
	return c == t || c == '%' || c == '\\' || c == '&' || (c == '+' && t == ' ') ||
	       (t >= 0x80 && (c == 0xC2 || c == 0xC3 || c == 0xEF || c == '?'));
}

/* Whether all avail bytes at s are hex digits. */
static int
all_hex(const char *s, size_t avail)
{
	size_t i;

	for (i = 0; i < avail; i++) {
		if (hex_digit(s[i]) < 0)
			return 0;
	}
	return 1;
}

/* The text ends inside what would have been an escape: "%2", "\u00", "\uD83D\uDE",
 * "&#x1F", "&quo". */
static int
ends_inside_escape(const char *s, size_t avail)
{
	static const char *const names[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&apos;",
					     "&AMP;", "&LT;", "&GT;", "&QUOT;" };
	size_t i, digits;
	long cp;

	if (avail >= UNIT_MAX)
		return 0;
	switch (s[0]) {
	case '%':
		return avail < 3 && all_hex(s + 1, avail - 1);
	case '\\':
		if (avail == 1)
			return 1;
		if (s[1] != 'u')
			return 0;
		if (avail < 6)
			return all_hex(s + 2, avail - 2);
		/* a high surrogate, waiting for its low half */
		cp = hex4(s + 2, avail - 2);
		if (cp < 0xD800 || cp > 0xDBFF)
			return 0;
		return avail == 6 ||
		       (s[6] == '\\' && (avail == 7 || (s[7] == 'u' && all_hex(s + 8, avail - 8))));
	case '&':
		if (avail >= 2 && s[1] == '#') {
			i = avail >= 3 && (s[2] == 'x' || s[2] == 'X') ? 3 : 2;
			for (digits = i; digits < avail; digits++) {
				int d = hex_digit(s[digits]);
				if (d < 0 || (i == 2 && d > 9))
					return 0;
			}
			return 1;
		}
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (avail < strlen(names[i]) && memcmp(s, names[i], avail) == 0)
				return 1;
		}
		return 0;
	default:
		return 0;
	}
}

/* ends_inside_escape, also after a backslash that came escaped (&#x5c;&#x2). */
static int
cut_inside_escape(const char *s, size_t avail, const struct reading *rd)
{
	size_t a, at;

	if (ends_inside_escape(s, avail))
		return 1;
	for (a = 1; a < rd->count; a++) {
		at = rd->unit[a].len;
		if (rd->unit[a].n == 1 && rd->unit[a].byte[0] == '\\' && at > 1 &&
		    (at == avail || ends_inside_escape(s + at, avail - at)))
			return 1;
	}
	return 0;
}

struct pending {
	size_t at; /* in the text */
	size_t k;  /* bytes of the target spelled so far */
};

/* Where a reading of the text from i that spells the target ends: the longest full
 * spelling, or the end of the text for a spelling cut off by it. i when there is none. */
static size_t
spelling_end(struct redaction_scan *scan, size_t i, const char *target, size_t tlen)
{
	struct pending stack[PENDING_MAX];
	struct reading rd;
	const char *text = scan->text;
	size_t len = scan->len, depth = 0, best = i, furthest = i, steps = 0;
	size_t budget = 4 * tlen + 64, a, n;

	if (!may_start((unsigned char)text[i], (unsigned char)target[0]))
		return i;
	stack[depth].at = i;
	stack[depth++].k = 0;
	while (depth > 0) {
		struct pending p = stack[--depth];
		if (p.k == tlen) {
			if (p.at > best)
				best = p.at;
			continue;
		}
		if (p.at == len) {
			if (p.k > 0 && len - i >= CUT_MIN)
				best = len;
			continue;
		}
		/* a text that reads this many ways is blanked as far as it was read; one that
		 * took all the work a text may take, to its end */
		if (scan->work == 0)
			return len;
		scan->work--;
		if (++steps > budget)
			return furthest > best ? furthest : best;
		read_units(text + p.at, len - p.at, &rd);
		/* the text was cut inside the escape of the next byte */
		if (len - i >= CUT_MIN && cut_inside_escape(text + p.at, len - p.at, &rd))
			best = len;
		for (a = 0; a < rd.count; a++) {
			const struct unit *u = &rd.unit[a];
			const unsigned char *t = (const unsigned char *)target + p.k;
			size_t spelled[2], ways = 0, w;
			if (u->n <= tlen - p.k && u->byte[0] == t[0] &&
			    (u->n == 1 || memcmp(u->byte, t, u->n) == 0))
				spelled[ways++] = u->n;
			/* a character beyond ASCII the server could not carry: the whole of it, or
			 * one byte of it (a decoder that replaced byte by byte) */
			if (ways == 0 && t[0] >= 0x80 && is_replacement(u)) {
				n = sequence_length(t, tlen - p.k);
				spelled[ways++] = n;
				if (n > 1)
					spelled[ways++] = 1;
			}
			for (w = 0; w < ways; w++) {
				if (depth == PENDING_MAX)
					return len;
				stack[depth].at = p.at + u->len;
				stack[depth++].k = p.k + spelled[w];
				if (p.at + u->len > furthest)
					furthest = p.at + u->len;
			}
		}
	}
	return best;
}

/* Whether some reading of the text at i starts target t. */
static int
may_begin(const struct reading *rd, int cut, unsigned char t)
{
	size_t a;

	if (cut)
		return 1;
	for (a = 0; a < rd->count; a++) {
		if (rd->unit[a].byte[0] == t || (t >= 0x80 && is_replacement(&rd->unit[a])))
			return 1;
	}
	return 0;
}

/* in_tag: only a spelling with a '>' in it could close the tag and show. */
static size_t
spellings_end(struct redaction_scan *scan, size_t i, int in_tag)
{
	const struct redaction *r = scan->r;
	struct reading rd;
	size_t t, end = i, e;
	int cut;

	/* one reading of the position for all targets: most start none */
	read_units(scan->text + i, scan->len - i, &rd);
	cut = scan->len - i < UNIT_MAX && cut_inside_escape(scan->text + i, scan->len - i, &rd);
	for (t = 0; t < r->count; t++) {
		if ((in_tag && !r->closes_tag[t]) ||
		    !may_begin(&rd, cut, (unsigned char)r->target[t][0]))
			continue;
		e = spelling_end(scan, i, r->target[t], r->target_len[t]);
		if (e > end)
			end = e;
	}
	return end;
}

void
redaction_scan_start(struct redaction_scan *scan, const struct redaction *r, const char *text,
		     size_t len)
{
	scan->r = r;
	scan->text = text;
	scan->len = len;
	scan->work = REDACTION_WORK;
}

size_t
redaction_span_end(struct redaction_scan *scan, size_t i, size_t end, int in_tag)
{
	const struct redaction *r = scan->r;
	size_t j, e;

	if (end < i)
		end = i;
	if (r == NULL || r->count == 0 || i >= scan->len || (in_tag && !r->any_closes_tag))
		return end;
	e = spellings_end(scan, i, in_tag);
	if (e > end)
		end = e;
	/* a spelling that starts inside the blank and ends after it must not show its tail;
	 * one that starts more than max_span before the end cannot reach past it */
	for (j = i + 1; j < end; j++) {
		if (end - j > r->max_span)
			j = end - r->max_span;
		e = spellings_end(scan, j, 0);
		if (e > end)
			end = e;
	}
	return end;
}
