#include "rp_store_target.h"

#include <apr_strings.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define EXPECTED                                                               \
    "expected dir:PATH or redis://[USER@]HOST[:PORT][/DB] (a password goes "   \
    "in ReqProfileStorePasswordFile, never in the URL)"

static const char *bad(apr_pool_t *pool, const char *value, const char *why)
{
    return apr_psprintf(pool, "'%s': %s; " EXPECTED, value, why);
}

/* A decimal number in [lo, hi] spanning [s, end); -1 if it is not one. */
static long number_in(const char *s, const char *end, long lo, long hi)
{
    if (s == end || end - s > 9) {
        return -1;
    }
    long n = 0;
    for (const char *p = s; p < end; p++) {
        if (!isdigit((unsigned char)*p)) {
            return -1;
        }
        n = n * 10 + (*p - '0');
    }
    return n >= lo && n <= hi ? n : -1;
}

static int host_char_ok(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

/* Hex digits, ':' and '.' spanning [s, end), with at least one ':' (the
 * name brackets a host with one, and only then, so that what it says
 * parses back the same). */
static int ipv6_like(const char *s, const char *end)
{
    int colons = 0;
    for (const char *p = s; p < end; p++) {
        if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.') {
            return 0;
        }
        colons += *p == ':';
    }
    return colons > 0;
}

/* value with the password of its USER:PASSWORD@ (the ':' at colon, the '@'
 * at at) masked: an error message must not put it in the log either. */
static const char *masked(apr_pool_t *pool, const char *value,
                          const char *colon, const char *at)
{
    return apr_pstrcat(
        pool, apr_pstrmemdup(pool, value, (apr_size_t)(colon + 1 - value)),
        "***", at, NULL);
}

/* The USER@ in front of *rest, if any, into out (*rest moves past it);
 * NULL, or the error message. */
static const char *parse_user(const char *value, const char **rest,
                              apr_pool_t *pool, rp_store_target_t *out)
{
    const char *at = strchr(*rest, '@');
    const char *slash = strchr(*rest, '/');
    if (at == NULL || (slash != NULL && slash < at)) {
        return NULL;
    }
    const char *colon = memchr(*rest, ':', (size_t)(at - *rest));
    if (colon != NULL) {
        return bad(pool, masked(pool, value, colon, at),
                   "a password in the URL");
    }
    if (at == *rest) {
        return bad(pool, value, "an empty user name");
    }
    /* It is shown in messages and sent in AUTH: no spaces or controls. */
    for (const char *p = *rest; p < at; p++) {
        if (!isgraph((unsigned char)*p)) {
            return bad(pool, value,
                       "a space or control character in the user name");
        }
    }
    out->user = apr_pstrmemdup(pool, *rest, (size_t)(at - *rest));
    *rest = at + 1;
    return NULL;
}

static const char *parse_redis(const char *value, const char *rest,
                               apr_pool_t *pool, rp_store_target_t *out)
{
    const char *user_error = parse_user(value, &rest, pool, out);
    if (user_error != NULL) {
        return user_error;
    }
    const char *host_end;
    const char *after;
    if (*rest == '[') {
        host_end = strchr(rest, ']');
        if (host_end == NULL || host_end == rest + 1) {
            return bad(pool, value, "an unclosed or empty [address]");
        }
        if (!ipv6_like(rest + 1, host_end)) {
            return bad(pool, value, "not an IPv6 address in brackets");
        }
        out->host =
            apr_pstrmemdup(pool, rest + 1, (size_t)(host_end - rest - 1));
        after = host_end + 1;
    } else {
        host_end = rest;
        while (*host_end != '\0' && *host_end != ':' && *host_end != '/') {
            if (!host_char_ok(*host_end)) {
                return bad(pool, value, "a character a host name cannot have");
            }
            host_end++;
        }
        if (host_end == rest) {
            return bad(pool, value, "no host");
        }
        out->host = apr_pstrmemdup(pool, rest, (size_t)(host_end - rest));
        after = host_end;
    }
    out->port = RP_REDIS_DEFAULT_PORT;
    if (*after == ':') {
        const char *port_end = after + 1 + strcspn(after + 1, "/");
        long port = number_in(after + 1, port_end, 1, 65535);
        if (port < 0) {
            return bad(pool, value, "the port is not a number in 1..65535");
        }
        out->port = (int)port;
        after = port_end;
    }
    if (*after == '/' && after[1] != '\0') {
        long db = number_in(after + 1, after + 1 + strlen(after + 1), 0, 65535);
        if (db < 0) {
            return bad(pool, value, "the database is not a number in 0..65535");
        }
        out->db = (int)db;
    } else if (*after != '\0' && strcmp(after, "/") != 0) {
        return bad(pool, value, "unexpected text after the host");
    }
    out->kind = RP_STORE_REDIS;
    return NULL;
}

const char *rp_store_target_parse(const char *value, apr_pool_t *pool,
                                  rp_store_target_t *out)
{
    memset(out, 0, sizeof(*out));
    if (strncmp(value, "dir:", 4) == 0) {
        if (value[4] == '\0') {
            return bad(pool, value, "no directory");
        }
        out->kind = RP_STORE_DIR;
        out->path = value + 4;
        return NULL;
    }
    if (strncasecmp(value, "redis://", 8) == 0) {
        return parse_redis(value, value + 8, pool, out);
    }
    if (strncasecmp(value, "rediss://", 9) == 0) {
        return bad(pool, value,
                   "TLS to Redis is not supported (use a "
                   "loopback stunnel or a private network)");
    }
    return bad(pool, value, "an unknown kind of store");
}

const char *rp_store_target_name(const rp_store_target_t *t, apr_pool_t *pool)
{
    if (t->kind == RP_STORE_DIR) {
        return apr_pstrcat(pool, "dir:", t->path, NULL);
    }
    if (t->kind != RP_STORE_REDIS) {
        return "none";
    }
    int v6 = strchr(t->host, ':') != NULL;
    return apr_psprintf(pool, "redis://%s%s%s%s%s:%d/%d",
                        t->user ? t->user : "", t->user ? "@" : "",
                        v6 ? "[" : "", t->host, v6 ? "]" : "", t->port, t->db);
}
