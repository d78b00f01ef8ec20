/* A wait that lasts: said once on stderr, when it has lasted about a second, with what it
 * waits for and how long it may still take, so that nobody sits in front of 30 s of
 * silence. Once per kind of wait and process: a retry does not say it again. */
#ifndef KEYBEARER_NOTICE_H
#define KEYBEARER_NOTICE_H

#define NOTICE_AFTER_MS 1000

enum notice_subject {
	NOTICE_ENDPOINT, /* the token endpoint, the discovery document, the JWKS */
	NOTICE_LOCK,	 /* another process refreshing the same profile */
	NOTICE_KEYRING,	 /* the Secret Service, its unlock prompt */
	NOTICE_COMMAND,	 /* a command: secret source */
	NOTICE_SUBJECTS,
};

/* Whether a wait that began at started_ms (monotonic) has lasted long enough to say so,
 * and the subject has not been said yet. */
int notice_due(enum notice_subject subject, long long started_ms);

/* No notice from this process: a background refresh keeps no caller waiting, and the
 * stderr it inherited belongs to a command that has moved on. */
void notice_silence(void);

/* "keybearer: waiting for <fmt...>" on stderr, once per subject. */
void notice_say(enum notice_subject subject, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
