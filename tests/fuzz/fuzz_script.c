/* libFuzzer target: rp_script_splice, which puts an engine's frames (PHP's,
 * Lua's) into a native stack inside a signal handler.
 *
 * Input: byte 0 the native depth, byte 1 the script frame count, byte 2
 * the room (max), then per native frame one byte (its kind: an executor
 * frame, a call entry, or other code) and per script frame one byte (how
 * its run starts).
 *
 * Checks, beyond the sanitizers: the result never exceeds the room; the
 * native frames keep their order and, when nothing was cut, all appear; the
 * script frames keep their order and each sits before (inside) the native
 * frame its run was placed at, or after every native frame when the stack
 * showed none of the engine's; *truncated is set exactly when words were
 * lost or the script went to the stack's end. */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "rp_script.h"

static const rp_script_anchors_t anchors = {{{0x1000, 0x2000}},
                                            {{0x3000, 0x4000}}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { MAXN = 200 };
    if (size < 3) {
        return 0;
    }
    int depth = data[0] % MAXN, count = data[1] % MAXN,
        max = 1 + data[2] % MAXN;
    if (size < 3 + (size_t)depth + (size_t)count || depth > max) {
        return 0;
    }
    uintptr_t ips[MAXN];
    for (int i = 0; i < depth; i++) {
        uint8_t kind = data[3 + i] % 3;
        /* Distinct addresses in the kind's range (return addresses but the
         * first, which may sit on a range's first byte). */
        uintptr_t base = kind == 0 ? 0x1000 : kind == 1 ? 0x3000 : 0x9000;
        ips[i] = base + 1 + (uintptr_t)i;
    }
    rp_script_raw_t frames[MAXN];
    for (int f = 0; f < count; f++) {
        frames[f].word = RP_SCRIPT_TAG | (uintptr_t)(f + 1);
        frames[f].run_start = data[3 + depth + f] % 3;
    }
    uintptr_t before[MAXN];
    memcpy(before, ips, sizeof(uintptr_t) * (size_t)depth);
    int cut = 0;
    int n = rp_script_splice(&anchors, ips, depth, max, frames, count, &cut);
    FUZZ_CHECK(n >= 0 && n <= max && (count > 0 || n == depth),
               "depth %d count %d max %d -> %d", depth, count, max, n);
    int natives = 0, scripts = 0, last_script = 0;
    for (int i = 0; i < n; i++) {
        if (rp_script_is_frame(ips[i])) {
            int id = (int)(ips[i] & 0xffff);
            FUZZ_CHECK(id == last_script + 1, "script frame %d after %d", id,
                       last_script);
            last_script = id;
            scripts++;
        } else {
            FUZZ_CHECK(ips[i] == before[natives], "native frame %d moved",
                       natives);
            natives++;
        }
    }
    /* The innermost run is placed at the first native frame of its kind;
     * without one, every run goes after the native stack. */
    int first_end = 0;
    while (first_end < count - 1 && frames[first_end].run_start == 0) {
        first_end++;
    }
    int called =
        count > 0 && frames[first_end].run_start == RP_SCRIPT_RUN_CALLED;
    int placed = 0;
    for (int i = 0; i < depth && count > 0; i++) {
        uintptr_t at = i > 0 ? before[i] - 1 : before[i];
        placed |= called ? (at >= 0x3000 && at < 0x4000)
                         : (at >= 0x1000 && at < 0x2000);
    }
    if (count > 0 && !placed) {
        FUZZ_CHECK(cut == 1, "a stack without the engine's frames is cut");
        int seen_script = 0;
        for (int i = 0; i < n; i++) {
            seen_script |= rp_script_is_frame(ips[i]);
            FUZZ_CHECK(!seen_script || rp_script_is_frame(ips[i]),
                       "script frames go after every native frame");
        }
    }
    if (n < depth + count) {
        FUZZ_CHECK(cut == 1, "words lost without *truncated");
    }
    if (count > 0 && placed && n == depth + count) {
        FUZZ_CHECK(cut == 0, "nothing lost, yet *truncated");
        /* Every run sits just inside an executor frame or a call entry. */
        for (int i = 0; i + 1 < n; i++) {
            if (rp_script_is_frame(ips[i]) && !rp_script_is_frame(ips[i + 1])) {
                uintptr_t next = ips[i + 1];
                FUZZ_CHECK((next > 0x1000 && next <= 0x2000) ||
                               (next > 0x3000 && next <= 0x4000),
                           "a run placed on other code");
            }
        }
    }
    return 0;
}
