/* rp_phase: the stages of httpd's request cycle a profile is split into.
 * Only names and numbers: the glue marks the edges, renderers show them. */
#ifndef RP_PHASE_H
#define RP_PHASE_H

typedef enum {
    RP_PHASE_NONE = 0, /* before the first marked stage */
    RP_PHASE_POST_READ_REQUEST,
    RP_PHASE_TRANSLATE_NAME,
    RP_PHASE_MAP_TO_STORAGE,
    RP_PHASE_HEADER_PARSER,
    RP_PHASE_ACCESS_CHECKER,
    RP_PHASE_CHECK_USER_ID,
    RP_PHASE_AUTH_CHECKER,
    RP_PHASE_TYPE_CHECKER,
    RP_PHASE_FIXUPS,
    RP_PHASE_HANDLER, /* the handler and the output filters it drives */
    RP_PHASE_COUNT
} rp_phase_e;

/* "post_read_request", "handler", ...; "other" for RP_PHASE_NONE. */
const char *rp_phase_name(unsigned phase);

#endif
