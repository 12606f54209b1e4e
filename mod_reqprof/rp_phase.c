#include "rp_phase.h"

static const char *const names[RP_PHASE_COUNT] = {
    [RP_PHASE_NONE] = "other",
    [RP_PHASE_POST_READ_REQUEST] = "post_read_request",
    [RP_PHASE_TRANSLATE_NAME] = "translate_name",
    [RP_PHASE_MAP_TO_STORAGE] = "map_to_storage",
    [RP_PHASE_HEADER_PARSER] = "header_parser",
    [RP_PHASE_ACCESS_CHECKER] = "access_checker",
    [RP_PHASE_CHECK_USER_ID] = "check_user_id",
    [RP_PHASE_AUTH_CHECKER] = "auth_checker",
    [RP_PHASE_TYPE_CHECKER] = "type_checker",
    [RP_PHASE_FIXUPS] = "fixups",
    [RP_PHASE_HANDLER] = "handler",
};

const char *rp_phase_name(unsigned phase)
{
    return phase < RP_PHASE_COUNT ? names[phase] : names[RP_PHASE_NONE];
}
